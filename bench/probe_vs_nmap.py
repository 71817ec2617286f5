"""Benchmark: the collection's TDS prober against nmap ssl-enum-ciphers, same lab endpoints, same run.

    .venv/bin/python bench/probe_vs_nmap.py [--repeat 5] [--profiles s3 s5 ...] [--out results.json]

Starts a winlab fleet (every profile of tests/lab/profiles by default) on a
random loopback subnet and, for every SQL Server endpoint of it:

- counts the TCP connections each tool opens, at a relay in front of the
  endpoint (each connection carries one ClientHello, except the prober's one
  PRELOGIN-only check on the TDS 7.x path), so the count does not depend on
  either tool's own bookkeeping;
- times each tool ``--repeat`` times directly against the endpoint, in
  alternating order, and keeps the median: the prober in-process
  (``probe_endpoint``, mode ``tds``, all of its work: enumeration, full
  handshake, certificate, verdicts), nmap as a process (``-Pn -n -p PORT
  --script ssl-enum-ciphers``, including its start-up), as each is used;
- checks that both report the same protocols and suites (``agree``);

and then times a whole-fleet run (``probe_many`` over every endpoint against
one nmap invocation over every address) and nmap's fixed cost (the same
command against a closed port). Prints a table with ratios
(prober / nmap; below 1 means the prober needs fewer) and writes the figures
as JSON to ``--out`` (default: /tmp/probe_vs_nmap-<UTC time>.json).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import select
import shutil
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
for _path in (REPO / ".ansible" / "collections", REPO / "tests" / "lab"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from ansible_collections.mssql.tls.plugins.plugin_utils.tds.probe import probe_endpoint, probe_many  # noqa: E402
from winlab.nmap_enum import services_datadir, ssl_enum_ciphers  # noqa: E402
from winlab.testing import PROFILES_DIR, running_lab  # noqa: E402


@dataclass(frozen=True)
class Endpoint:
    host: str
    instance: str
    address: str
    port: int

    @property
    def target(self) -> str:
        return f"{self.address}:{self.port}"


@dataclass
class EndpointFigures:
    endpoint: str
    prober_connections: int
    nmap_connections: int
    prober_seconds: float  # median of --repeat runs
    nmap_seconds: float
    prober_runs: list[float]
    nmap_runs: list[float]
    prober_view: dict[str, list[str]]
    nmap_view: dict[str, list[str]]

    @property
    def agree(self) -> bool:
        return self.prober_view == self.nmap_view


# --------------------------------------------------------------- the two tools


def prober_view(result: dict[str, Any]) -> dict[str, list[str]]:
    return {
        label: result["cipher_suites"][label] for label, state in result["protocols"].items() if state is True
    }


def run_prober(target: str) -> dict[str, list[str]]:
    return prober_view(probe_endpoint(target, "tds", timeout=5))


def run_nmap(
    nmap: str, datadir: Path, addresses: list[str], ports: set[int]
) -> dict[str, dict[str, list[str]]]:
    """``{address:port: {protocol: suites}}`` from one nmap ssl-enum-ciphers run."""
    return {
        target: seen.cipher_lists()
        for target, seen in ssl_enum_ciphers(nmap, datadir, addresses, ports).items()
    }


# --------------------------------------------------------------- connection counting


class CountingRelay:
    """A loopback TCP relay that counts the connections it accepts and forwards them to ``upstream``.

    An upstream reset is passed on as a reset (SO_LINGER 0), so both tools see
    what they would see directly.
    """

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.connections = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._threads: list[threading.Thread] = []
        self._accepting = threading.Thread(target=self._accept_loop, daemon=True)
        self._accepting.start()

    def _accept_loop(self) -> None:
        while True:
            try:
                client = self._listener.accept()[0]
            except OSError:
                return
            self.connections += 1
            thread = threading.Thread(target=self._serve, args=(client,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, client: socket.socket) -> None:
        try:
            server = socket.create_connection(self.upstream, timeout=10)
        except OSError:
            _close(client, reset=True)
            return
        _relay(client, server)

    def close(self) -> None:
        self._listener.close()
        for thread in self._threads:
            thread.join(timeout=5)


def _relay(client: socket.socket, server: socket.socket) -> None:
    """Copy both ways until both sides end, in one thread: no recv elsewhere can delay a reset."""
    peer = {client: server, server: client}
    open_for_reading = {client, server}
    deadline = time.monotonic() + 60
    try:
        while open_for_reading and time.monotonic() < deadline:
            readable = select.select(list(open_for_reading), [], [], 1.0)[0]
            for source in readable:
                try:
                    data = source.recv(65536)
                except ConnectionResetError:
                    _close(peer[source], reset=True)  # pass the reset on, as the endpoint sent it
                    return
                if data:
                    peer[source].sendall(data)
                else:
                    peer[source].shutdown(socket.SHUT_WR)
                    open_for_reading.discard(source)
    except OSError:
        pass
    finally:
        for sock in (client, server):
            _close(sock)


def _close(sock: socket.socket, reset: bool = False) -> None:
    try:
        if reset:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
    except OSError:
        pass


@contextmanager
def relay_for(endpoint: Endpoint) -> Iterator[CountingRelay]:
    relay = CountingRelay((endpoint.address, endpoint.port))
    try:
        yield relay
    finally:
        relay.close()


def count_connections(action: Callable[[int], object], endpoint: Endpoint) -> int:
    with relay_for(endpoint) as relay:
        action(relay.port)
        time.sleep(0.2)  # let the last relay threads see their close
        return relay.connections


# --------------------------------------------------------------- measuring


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def measure_endpoint(nmap: str, workdir: Path, endpoint: Endpoint, repeat: int) -> EndpointFigures:
    relay_dir = workdir / f"relay-{endpoint.host}-{endpoint.port}"
    prober_connections = count_connections(lambda port: run_prober(f"127.0.0.1:{port}"), endpoint)

    def nmap_through(port: int) -> None:
        run_nmap(nmap, services_datadir(relay_dir / str(port), {port}), ["127.0.0.1"], {port})

    nmap_connections = count_connections(nmap_through, endpoint)

    datadir = services_datadir(workdir / f"direct-{endpoint.port}", {endpoint.port})
    prober_runs: list[float] = []
    nmap_runs: list[float] = []
    views: dict[str, Any] = {}
    for index in range(repeat):
        # Alternate which tool goes first, so neither always meets a warm or a cold endpoint.
        order = ("prober", "nmap") if index % 2 == 0 else ("nmap", "prober")
        for tool in order:
            if tool == "prober":
                prober_runs.append(timed(lambda: views.__setitem__("prober", run_prober(endpoint.target))))
            else:
                nmap_runs.append(
                    timed(
                        lambda: views.__setitem__(
                            "nmap",
                            run_nmap(nmap, datadir, [endpoint.address], {endpoint.port})[endpoint.target],
                        )
                    )
                )
    return EndpointFigures(
        endpoint=f"{endpoint.host}/{endpoint.instance}",
        prober_connections=prober_connections,
        nmap_connections=nmap_connections,
        prober_seconds=statistics.median(prober_runs),
        nmap_seconds=statistics.median(nmap_runs),
        prober_runs=[round(s, 4) for s in prober_runs],
        nmap_runs=[round(s, 4) for s in nmap_runs],
        prober_view=views["prober"],
        nmap_view=views["nmap"],
    )


def measure_fleet(nmap: str, workdir: Path, endpoints: list[Endpoint], repeat: int) -> dict[str, Any]:
    ports = {e.port for e in endpoints}
    datadir = services_datadir(workdir / "fleet", ports)
    addresses = sorted({e.address for e in endpoints})
    prober_runs, nmap_runs = [], []
    for index in range(repeat):
        runs = [
            (prober_runs, lambda: probe_many([e.target for e in endpoints], "tds", max_workers=8, timeout=5)),
            (nmap_runs, lambda: run_nmap(nmap, datadir, addresses, ports)),
        ]
        for runs_of_tool, action in runs if index % 2 == 0 else reversed(runs):
            runs_of_tool.append(timed(action))
    return {
        "endpoints": len(endpoints),
        "prober_seconds": statistics.median(prober_runs),
        "nmap_seconds": statistics.median(nmap_runs),
        "prober_runs": [round(s, 4) for s in prober_runs],
        "nmap_runs": [round(s, 4) for s in nmap_runs],
    }


def measure_nmap_startup(nmap: str, workdir: Path, repeat: int) -> float:
    """Median wall time of the same nmap command against a port nobody listens on: its fixed cost."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again before nmap runs
    datadir = services_datadir(workdir / "startup", {port})
    return statistics.median(
        timed(lambda: run_nmap(nmap, datadir, ["127.0.0.1"], {port})) for _run in range(repeat)
    )


def reachable(endpoint: Endpoint) -> bool:
    try:
        socket.create_connection((endpoint.address, endpoint.port), timeout=2).close()
    except OSError:
        return False
    return True


# --------------------------------------------------------------- report


def ratio(ours: float, theirs: float) -> float | None:
    return round(ours / theirs, 3) if theirs else None


def report_lines(figures: list[EndpointFigures], fleet: dict[str, Any]) -> list[str]:
    header = (
        f"{'endpoint':<26} {'conns prober':>12} {'conns nmap':>10} {'ratio':>6}   "
        f"{'s prober':>8} {'s nmap':>7} {'ratio':>6}   agree"
    )
    lines = [header, "-" * len(header)]
    for f in figures:
        lines.append(
            f"{f.endpoint:<26} {f.prober_connections:>12} {f.nmap_connections:>10} "
            f"{ratio(f.prober_connections, f.nmap_connections) or '-':>6}   "
            f"{f.prober_seconds:>8.3f} {f.nmap_seconds:>7.3f} "
            f"{ratio(f.prober_seconds, f.nmap_seconds) or '-':>6}   "
            f"{'yes' if f.agree else 'NO'}"
        )
    conns = (sum(f.prober_connections for f in figures), sum(f.nmap_connections for f in figures))
    secs = (sum(f.prober_seconds for f in figures), sum(f.nmap_seconds for f in figures))
    lines += [
        "-" * len(header),
        f"{'sum':<26} {conns[0]:>12} {conns[1]:>10} {ratio(*conns) or '-':>6}   "
        f"{secs[0]:>8.3f} {secs[1]:>7.3f} {ratio(*secs) or '-':>6}",
        "",
        f"whole fleet ({fleet['endpoints']} endpoints; probe_many, 8 workers vs one nmap run): "
        f"prober {fleet['prober_seconds']:.3f} s, nmap {fleet['nmap_seconds']:.3f} s, "
        f"ratio {ratio(fleet['prober_seconds'], fleet['nmap_seconds'])}",
    ]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--profiles", nargs="+", metavar="NAME", help="lab profiles (default: all)")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per tool and endpoint (default 5)")
    parser.add_argument("--out", type=Path, help="results JSON (default /tmp/probe_vs_nmap-<UTC time>.json)")
    parser.add_argument("--nmap", default=shutil.which("nmap"), help="nmap binary (default: from PATH)")
    args = parser.parse_args(argv)
    if not args.nmap:
        parser.error("nmap not found: install it (Debian: apt-get install -y nmap) or pass --nmap")
    if args.repeat < 1:
        parser.error("--repeat: expected an integer >= 1")
    started = dt.datetime.now(dt.UTC)
    out = args.out or Path(f"/tmp/probe_vs_nmap-{started:%Y%m%dT%H%M%SZ}.json")
    profiles = [PROFILES_DIR / f"{name}.yml" for name in args.profiles] if args.profiles else [PROFILES_DIR]

    with tempfile.TemporaryDirectory(prefix="bench-nmap-") as scratch, running_lab(profiles) as lab:
        endpoints = [Endpoint(*endpoint) for endpoint in lab.sql_endpoints()]
        skipped = [e for e in endpoints if not reachable(e)]  # e.g. the passive node of a cluster
        endpoints = [e for e in endpoints if e not in skipped]
        figures = [measure_endpoint(args.nmap, Path(scratch), e, args.repeat) for e in endpoints]
        fleet = measure_fleet(args.nmap, Path(scratch), endpoints, args.repeat)
        nmap_startup = measure_nmap_startup(args.nmap, Path(scratch), args.repeat)

    lines = [
        *report_lines(figures, fleet),
        f"nmap fixed cost (same command, closed port): {nmap_startup:.3f} s per run",
    ]
    print("\n".join(lines))
    if skipped:
        print(f"\nnot listening (skipped): {', '.join(f'{e.host}/{e.instance}' for e in skipped)}")
    version_run = subprocess.run([args.nmap, "--version"], capture_output=True, text=True, check=False)
    nmap_version = version_run.stdout.split("\n")[0]
    document = {
        "benchmark": "probe_vs_nmap",
        "started_utc": started.isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "environment": {
            "python": platform.python_version(),
            "nmap": nmap_version,
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "root": os.geteuid() == 0,
        },
        "repeat": args.repeat,
        "endpoints": [{**asdict(f), "agree": f.agree} for f in figures],
        "skipped": [asdict(e) for e in skipped],
        "fleet": fleet,
        "nmap_startup_seconds": round(nmap_startup, 4),
        "table": lines,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    print(f"\nresults: {out}")
    return 0 if all(f.agree for f in figures) else 1


if __name__ == "__main__":
    sys.exit(main())
