"""``python -m winlab``: start, inspect and stop a lab (one background supervisor per state directory).

    up      spawn the supervisor, wait until every endpoint answers, write the inventory
    down    stop the supervisor's process group (SIGTERM, then SIGKILL) and verify nothing is left
    stats   counters of every host (``--reset`` returns them and starts again from zero)
    knobs   show or change latency / fault knobs
    reboot  reboot one host;  state  print one host's persisted state
    serve   the supervisor itself (started by ``up``, not meant to be run by hand)

The state directory holds lab.pid, lab.log, lab.lock (held by the supervisor
for its whole life: the guard against two supervisors), password (0600) and
lab.json (the manifest of hosts and addresses). Linux only: process checks
read /proc.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import fcntl
import functools
import importlib
import json
import logging
import os
import secrets
import signal
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from .inventory import Manifest, describe_host, read_manifest, write_inventory, write_manifest, write_private
from .server import (
    Credentials,
    ExtraListeners,
    FleetConfig,
    HostAddress,
    no_extra_listeners,
    self_signed_certificate,
    serve_fleet,
    tls_context,
    validate_subnet,
)
from .tds.listener import tds_listeners

LAB_ROOT = Path(__file__).resolve().parent.parent  # tests/lab: holds winlab/ and profiles/
USERNAME = "Administrator"
# Where the host model plugs in: module:function taking (profile paths, state
# dir, now) and returning HostRuntime objects (see inventory.describe_host for
# the attributes the inventory reads).
DEFAULT_RUNTIME_FACTORY = "winlab.host:load_fleet"


class LabError(Exception):
    """A failure the operator can act on; printed without a traceback."""


@dataclass(frozen=True)
class StatePaths:
    root: Path
    pid: Path
    log: Path
    lock: Path
    password: Path
    manifest: Path
    tls_cert: Path
    tls_key: Path

    @classmethod
    def of(cls, state_dir: str | Path) -> StatePaths:
        root = Path(state_dir).expanduser().resolve()
        return cls(
            root=root,
            pid=root / "lab.pid",
            log=root / "lab.log",
            lock=root / "lab.lock",
            password=root / "password",
            manifest=root / "lab.json",
            tls_cert=root / "winrm-cert.pem",
            tls_key=root / "winrm-key.pem",
        )


# ------------------------------------------------------------- control client


def control_request(host: HostAddress, method: str, route: str, body: Any = None, timeout: float = 30) -> Any:
    """Call a host's /winlab/<route>; non-2xx answers raise LabError with the server's message."""
    data = None if body is None else json.dumps(body).encode("utf-8")
    request = urllib.request.Request(
        f"{host.scheme}://{host.address}:{host.port}/winlab/{route}",
        data=data,
        method=method,
        headers={"Content-Type": "application/json"},
    )
    context = ssl._create_unverified_context() if host.scheme == "https" else None  # lab certificate
    opener = urllib.request.build_opener(
        urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=context)
    )
    try:
        with opener.open(request, timeout=timeout) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode("utf-8", "replace")
        raise LabError(f"{host.name}: {method} /winlab/{route} answered {exc.code}: {detail}") from None


# --------------------------------------------------------------- processes


def _proc_stat(pid: int) -> tuple[str, int] | None:
    """(state letter, process group) of a live process; None when gone or a zombie.

    A zombie has finished; it lingers only until its parent (init, for a
    supervisor whose `up` has exited) reaps it.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    return None if fields[0] in "ZX" else (fields[0], int(fields[2]))


def _alive(pid: int) -> bool:
    return _proc_stat(pid) is not None


def _cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode("utf-8", "replace").split("\0")
    except OSError:
        return []


def lab_environment() -> dict[str, str]:
    """This environment with winlab importable from any working directory."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(LAB_ROOT), env.get("PYTHONPATH", "")) if p)
    return env


def supervisor_command(state_dir: Path) -> list[str]:
    return [sys.executable, "-m", "winlab", "serve", "--state-dir", str(state_dir)]


def lab_processes(state_dir: Path) -> list[int]:
    """Live supervisors of this state directory, found by command line."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            argv = _cmdline(int(entry.name))
            if "winlab" in argv and "serve" in argv and str(state_dir) in argv and _alive(int(entry.name)):
                found.append(int(entry.name))
    return found


def _group_members(pgid: int) -> list[int]:
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = _proc_stat(int(entry.name))
            if stat is not None and stat[1] == pgid:
                members.append(int(entry.name))
    return members


def _read_pid(paths: StatePaths) -> int | None:
    try:
        return int(paths.pid.read_text().strip())
    except (OSError, ValueError):
        return None


@contextlib.contextmanager
def _take_lock(paths: StatePaths, message_if_held: str, lock_fd: int | None = None) -> Iterator[IO[str]]:
    """Hold the lab lock (an flock on lab.lock) for the block; LabError if someone else holds it."""
    paths.root.mkdir(parents=True, exist_ok=True)
    with os.fdopen(lock_fd, "a") if lock_fd is not None else open(paths.lock, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LabError(message_if_held) from None
        yield handle


def _lock_is_held(paths: StatePaths) -> bool:
    if not paths.lock.exists():
        return False
    try:
        with _take_lock(paths, "held"):
            return False
    except LabError:
        return True


def _wait_until(condition: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return condition()


def stop_groups(pgids: set[int], timeout: float) -> None:
    """SIGTERM every group, then SIGKILL what is still there after ``timeout`` seconds."""
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        for pgid in pgids:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, sig)
        if _wait_until(lambda: not any(_group_members(g) for g in pgids), wait):
            return


def _log_tail(paths: StatePaths, lines: int = 30) -> str:
    try:
        return "\n".join(paths.log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


# ----------------------------------------------------------------- commands


def resolve_profiles(items: Sequence[str]) -> list[Path]:
    """Profile files from files and directories (a directory contributes its *.yml / *.yaml)."""
    found: list[Path] = []
    for item in items:
        path = Path(item).expanduser().resolve()
        if path.is_dir():
            found += sorted(p for p in path.iterdir() if p.suffix in (".yml", ".yaml") and p.is_file())
        elif path.is_file():
            found.append(path)
        else:
            raise LabError(f"--profiles: {item} is neither a profile file nor a directory")
    if not found:
        raise LabError(f"--profiles: no profile (*.yml, *.yaml) found in {', '.join(items)}")
    return found


def cmd_up(args: argparse.Namespace) -> int:
    paths = StatePaths.of(args.state_dir)
    subnet = _checked(validate_subnet, args.subnet, "--subnet")
    profiles = resolve_profiles(args.profiles)
    # `up` takes the lab lock itself and hands the locked descriptor to the
    # supervisor, so two concurrent `up`s cannot both get as far as spawning.
    with _take_lock(
        paths,
        f"a lab is already running in {paths.root} (pid {_read_pid(paths)}); "
        "run `python -m winlab down --state-dir ...` first",
    ) as lock:
        return _start_supervisor(args, paths, subnet, profiles, lock.fileno())


def _start_supervisor(
    args: argparse.Namespace, paths: StatePaths, subnet: str, profiles: list[Path], lock_fd: int
) -> int:
    for stale in (paths.manifest, paths.pid):
        stale.unlink(missing_ok=True)
    write_private(paths.password, secrets.token_urlsafe(18) + "\n")
    command = [
        *supervisor_command(paths.root),
        "--lock-fd",
        str(lock_fd),
        "--subnet",
        subnet,
        "--port",
        str(args.port),
        "--latency-ms",
        str(args.latency_ms),
        "--runtime-factory",
        args.runtime_factory,
        *(["--https"] if args.https else []),
        *([] if args.tds else ["--no-tds"]),
        "--profiles",
        *map(str, profiles),
    ]
    with open(paths.log, "wb") as log_file:
        child = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            cwd="/",
            env=lab_environment(),
            start_new_session=True,
            pass_fds=(lock_fd,),
        )
    try:
        manifest = _wait_ready(paths, child, args.ready_timeout)
    except BaseException:
        stop_groups({child.pid}, timeout=5)
        child.wait()
        raise
    inventory = Path(args.inventory).expanduser().resolve()
    write_inventory(inventory, manifest, paths.password.read_text().strip())
    first, last = manifest.hosts[0].address, manifest.hosts[-1].address
    print(
        f"winlab: {len(manifest.hosts)} hosts on {first.scheme}://{first.address}..{last.address}"
        f":{first.port} (supervisor pid {child.pid}, log {paths.log})"
    )
    for host in manifest.hosts:
        print(f"  {host.name:30} {host.address.address}:{host.address.port}")
    print(f"inventory: {inventory}")
    return 0


def _wait_ready(paths: StatePaths, child: subprocess.Popen[bytes], timeout: float) -> Manifest:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise LabError(
                f"the lab supervisor exited with code {child.returncode} while starting; "
                f"{paths.log} ends with:\n{_log_tail(paths)}"
            )
        if paths.manifest.exists():
            manifest = read_manifest(paths.root)
            if manifest.pid == child.pid and all(_answers(h.address) for h in manifest.hosts):
                return manifest
        time.sleep(0.1)
    raise LabError(f"the lab did not answer within {timeout:g} s; {paths.log} ends with:\n{_log_tail(paths)}")


def _answers(host: HostAddress) -> bool:
    try:
        return control_request(host, "GET", "host", timeout=2).get("name") == host.name
    except (OSError, LabError):
        return False


def cmd_down(args: argparse.Namespace) -> int:
    paths = StatePaths.of(args.state_dir)
    pids = set(lab_processes(paths.root))
    recorded = _read_pid(paths)
    if recorded is not None and _alive(recorded) and "winlab" in _cmdline(recorded):
        pids.add(recorded)
    # A supervisor started by `up` leads its own group; one run by hand in the
    # caller's group is not worth killing the caller for.
    groups = {stat[1] for stat in map(_proc_stat, pids) if stat is not None} - {os.getpgrp()}
    stop_groups(groups, timeout=args.timeout)
    left = lab_processes(paths.root) + [p for g in groups for p in _group_members(g)]
    if left:
        raise LabError(f"winlab processes still running: {sorted(set(left))}")
    for path in (paths.pid, paths.manifest):
        path.unlink(missing_ok=True)
    print(f"winlab: stopped (process groups {sorted(groups)})" if groups else "winlab: no lab was running")
    return 0


def _running_manifest(paths: StatePaths) -> Manifest:
    if not _lock_is_held(paths):
        raise LabError(f"no lab is running in {paths.root}; start one with `python -m winlab up`")
    return read_manifest(paths.root)


def _selected_hosts(manifest: Manifest, names: Sequence[str]) -> list[HostAddress]:
    by_name = {h.name: h.address for h in manifest.hosts}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise LabError(f"unknown host(s) {unknown}; this lab serves {sorted(by_name)}")
    return [by_name[n] for n in names] if names else list(by_name.values())


def cmd_stats(args: argparse.Namespace) -> int:
    manifest = _running_manifest(StatePaths.of(args.state_dir))
    route = "stats/reset" if args.reset else "stats"
    method = "POST" if args.reset else "GET"
    _print_json({h.name: control_request(h, method, route) for h in _selected_hosts(manifest, [])})
    return 0


def cmd_knobs(args: argparse.Namespace) -> int:
    manifest = _running_manifest(StatePaths.of(args.state_dir))
    changes: dict[str, Any] = {}
    if args.latency_ms is not None:
        changes["latency_ms"] = args.latency_ms
    if args.drop_after_ops is not None:
        changes["drop_after_ops"] = args.drop_after_ops
    if args.no_drop:
        changes["drop_after_ops"] = None
    hosts = _selected_hosts(manifest, args.hosts)
    if changes:
        _print_json({h.name: control_request(h, "POST", "knobs", changes) for h in hosts})
    else:
        _print_json({h.name: control_request(h, "GET", "knobs") for h in hosts})
    return 0


def cmd_reboot(args: argparse.Namespace) -> int:
    manifest = _running_manifest(StatePaths.of(args.state_dir))
    _print_json(control_request(_selected_hosts(manifest, [args.host])[0], "POST", "reboot"))
    return 0


def cmd_state(args: argparse.Namespace) -> int:
    manifest = _running_manifest(StatePaths.of(args.state_dir))
    _print_json(control_request(_selected_hosts(manifest, [args.host])[0], "GET", "state"))
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    """The supervisor: hold the lock, serve every host until SIGTERM, then clean up."""
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(process)d %(name)s %(levelname)s %(message)s",
    )
    paths = StatePaths.of(args.state_dir)
    # Held for the supervisor's whole life; under `up` it is the descriptor `up` locked.
    with _take_lock(paths, f"another supervisor holds {paths.lock}; not starting a second one", args.lock_fd):
        return _serve_locked(args, paths, logging.getLogger("winlab.supervisor"))


def _serve_locked(args: argparse.Namespace, paths: StatePaths, log: logging.Logger) -> int:
    write_private(paths.pid, f"{os.getpid()}\n")
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda *_: stop.set())
    factory = load_runtime_factory(args.runtime_factory)
    loaded = factory([Path(p) for p in args.profiles], paths.root, datetime.datetime.now(datetime.UTC))
    # host.load_fleet returns {name: runtime}; a plain sequence is accepted too.
    runtimes = list(loaded.values()) if isinstance(loaded, Mapping) else list(loaded)
    if not runtimes:
        raise LabError(f"--runtime-factory {args.runtime_factory}: returned no hosts for {args.profiles}")
    subnet = validate_subnet(args.subnet)
    tls = None
    if args.https:
        cert, key = self_signed_certificate([f"{subnet}.{i + 1}" for i in range(len(runtimes))])
        write_private(paths.tls_cert, cert)
        write_private(paths.tls_key, key)
        tls = tls_context(paths.tls_cert, paths.tls_key)
    credentials = Credentials(USERNAME, paths.password.read_text().strip())
    extra: ExtraListeners = no_extra_listeners
    if args.tds:
        extra = functools.partial(tds_listeners, material_dir=paths.root / "tds")
    config = FleetConfig(
        subnet=subnet, port=args.port, credentials=credentials, latency_ms=args.latency_ms, tls=tls
    )
    try:
        fleet = serve_fleet(runtimes, config, extra)
    except OSError as exc:  # a taken address or port: the message names host, address and port
        raise LabError(str(exc)) from None
    try:
        hosts = tuple(describe_host(h.runtime, h.address) for h in fleet.hosts)
        write_manifest(paths.root, Manifest(pid=os.getpid(), username=USERNAME, hosts=hosts))
        log.info("serving %d hosts on %s.1-%d port %d", len(hosts), subnet, len(hosts), args.port)
        stop.wait()
        log.info("stopping")
    finally:
        fleet.stop()
        paths.manifest.unlink(missing_ok=True)
        if _read_pid(paths) == os.getpid():
            paths.pid.unlink(missing_ok=True)
    return 0


def load_runtime_factory(spec: str) -> Callable[..., Any]:
    module_name, _, function_name = spec.partition(":")
    if not module_name or not function_name:
        raise LabError(f"--runtime-factory {spec!r}: expected module:function")
    try:
        return getattr(importlib.import_module(module_name), function_name)
    except (ImportError, AttributeError) as exc:
        raise LabError(f"--runtime-factory {spec!r}: cannot load it ({exc})") from None


def _checked(validate: Callable[[str], str], value: str, option: str) -> str:
    try:
        return validate(value)
    except ValueError as exc:
        raise LabError(f"{option}: {exc}") from None


def _print_json(payload: Any) -> None:
    print(json.dumps(payload, indent=2, sort_keys=True))


# -------------------------------------------------------------------- parser


def _count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text}")
    return value


def _port(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"expected a TCP port 1-65535, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m winlab", description="the simulated Windows SQL Server fleet"
    )
    commands = parser.add_subparsers(dest="command", required=True)

    def command(
        name: str, handler: Callable[[argparse.Namespace], int], help_text: str
    ) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text)
        sub.add_argument("--state-dir", required=True, help="the lab's state directory")
        sub.set_defaults(handler=handler)
        return sub

    def fleet_options(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--profiles", nargs="+", required=True, help="profile files or directories")
        sub.add_argument("--latency-ms", type=_count, default=0, help="added to every WinRM command")
        sub.add_argument("--subnet", default="127.77.0", help="first three octets of the hosts' addresses")
        sub.add_argument("--port", type=_port, default=5985, help="WinRM port on every host address")
        sub.add_argument("--https", action="store_true", help="serve WinRM over HTTPS (self-signed)")
        sub.add_argument("--runtime-factory", default=DEFAULT_RUNTIME_FACTORY, help="module:function")
        sub.add_argument(
            "--no-tds",
            dest="tds",
            action="store_false",
            help="no TDS endpoints (runtimes without the host model, e.g. transport tests)",
        )

    up = command("up", cmd_up, "start the lab in the background and write the inventory")
    fleet_options(up)
    up.add_argument("--inventory", required=True, help="where to write the Ansible inventory")
    up.add_argument("--ready-timeout", type=float, default=60.0, help="seconds to wait for every endpoint")

    down = command("down", cmd_down, "stop the lab")
    down.add_argument("--timeout", type=float, default=10.0, help="seconds between SIGTERM and SIGKILL")

    stats = command("stats", cmd_stats, "print every host's counters as JSON")
    stats.add_argument("--reset", action="store_true", help="reset the counters (prints them first)")

    knobs = command("knobs", cmd_knobs, "show or change knobs (all hosts unless named)")
    knobs.add_argument("hosts", nargs="*", metavar="HOST")
    knobs.add_argument("--latency-ms", type=_count)
    drop = knobs.add_mutually_exclusive_group()
    drop.add_argument(
        "--drop-after-ops", type=_count, help="drop the connection after N ops of the next agent batch"
    )
    drop.add_argument("--no-drop", action="store_true", help="clear --drop-after-ops")

    command("reboot", cmd_reboot, "reboot one host").add_argument("host", metavar="HOST")
    command("state", cmd_state, "print one host's persisted state").add_argument("host", metavar="HOST")

    serve = command("serve", cmd_serve, "run the supervisor in the foreground (used by `up`)")
    fleet_options(serve)
    serve.add_argument("--verbose", action="store_true", help="log every HTTP request")
    serve.add_argument("--lock-fd", type=int, help="an inherited descriptor of lab.lock, already locked")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except LabError as exc:
        print(f"winlab {args.command}: {exc}", file=sys.stderr)
        return 1
