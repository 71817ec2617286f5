"""``python -m winlab``: start, inspect and stop a lab (one background supervisor per state directory).

    up      spawn the supervisor, wait until every endpoint answers, write the inventory
            (``--copies N``: N clones of every profile, replicate.py)
    down    stop the supervisor's process group (SIGTERM, then SIGKILL) and verify nothing is left
    stats   counters of every host (``--reset`` returns them and starts again from zero)
    knobs   show or change latency / fault knobs
    reboot  reboot one host;  state  print one host's persisted state
    serve   the supervisor itself (started by ``up``, not meant to be run by hand; supervisor.py)

The state directory and the supervisor's process are described in process.py;
the hosts' control routes are called with control.py.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .control import answers, control_request
from .errors import LabError
from .inventory import Manifest, read_manifest, write_inventory, write_private
from .process import (
    StatePaths,
    alive,
    cmdline,
    group_members,
    lab_environment,
    lab_processes,
    lock_is_held,
    log_tail,
    proc_stat,
    read_pid,
    stop_groups,
    supervisor_command,
    take_lock,
)
from .replicate import replicate_profiles
from .server import HostAddress, validate_subnet
from .supervisor import DEFAULT_RUNTIME_FACTORY, cmd_serve

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
    with take_lock(
        paths,
        f"a lab is already running in {paths.root} (pid {read_pid(paths)}); "
        "run `python -m winlab down --state-dir ...` first",
    ) as lock:
        profiles = replicate_profiles(profiles, args.copies, paths.root / "copies")
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
    https = any(h.address.scheme == "https" for h in manifest.hosts)
    password = paths.password.read_text().strip()
    write_inventory(inventory, manifest, password, paths.tls_cert if https else None)
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
                f"{paths.log} ends with:\n{log_tail(paths)}"
            )
        if paths.manifest.exists():
            manifest = read_manifest(paths.root)
            if manifest.pid == child.pid and all(answers(h.address) for h in manifest.hosts):
                return manifest
        time.sleep(0.1)
    raise LabError(f"the lab did not answer within {timeout:g} s; {paths.log} ends with:\n{log_tail(paths)}")


def cmd_down(args: argparse.Namespace) -> int:
    paths = StatePaths.of(args.state_dir)
    pids = set(lab_processes(paths.root))
    recorded = read_pid(paths)
    if recorded is not None and alive(recorded) and "winlab" in cmdline(recorded):
        pids.add(recorded)
    # A supervisor started by `up` leads its own group; one run by hand in the
    # caller's group is not worth killing the caller for.
    groups = {stat[1] for stat in map(proc_stat, pids) if stat is not None} - {os.getpgrp()}
    stop_groups(groups, timeout=args.timeout)
    left = lab_processes(paths.root) + [p for g in groups for p in group_members(g)]
    if left:
        raise LabError(f"winlab processes still running: {sorted(set(left))}")
    for path in (paths.pid, paths.manifest):
        path.unlink(missing_ok=True)
    print(f"winlab: stopped (process groups {sorted(groups)})" if groups else "winlab: no lab was running")
    return 0


def _running_manifest(paths: StatePaths) -> Manifest:
    if not lock_is_held(paths):
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


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number of seconds >= 0, got {text!r}")
    return value


def cmd_knobs(args: argparse.Namespace) -> int:
    manifest = _running_manifest(StatePaths.of(args.state_dir))
    changes: dict[str, Any] = {}
    if args.latency_ms is not None:
        changes["latency_ms"] = args.latency_ms
    if args.drop_after_ops is not None:
        changes["drop_after_ops"] = args.drop_after_ops
    if args.no_drop:
        changes["drop_after_ops"] = None
    if args.reboot_down_s is not None:
        changes["reboot_down_s"] = args.reboot_down_s
    if args.fault_journal_id is not None:
        changes["fault_journal_id"] = args.fault_journal_id or None
    if args.reboot_on_drop is not None:
        changes["reboot_on_drop"] = args.reboot_on_drop
    if args.journal_fail_after_lines is not None:
        changes["journal_fail_after_lines"] = args.journal_fail_after_lines
    if args.reply_delay_s is not None:
        changes["reply_delay_s"] = args.reply_delay_s
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


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text}")
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
    up.add_argument(
        "--copies",
        type=_positive,
        default=1,
        help="serve N clones of every profile (<name>-<k>, written to STATE_DIR/copies), e.g. for benchmarks",
    )

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
    knobs.add_argument(
        "--reboot-down-s", type=_seconds, help="how long a host stays away after an os.reboot op restarts it"
    )
    knobs.add_argument(
        "--fault-journal-id",
        metavar="TEXT",
        help="the faults wait for a batch whose journal record id contains TEXT ('' clears it)",
    )
    knobs.add_argument(
        "--reboot-on-drop",
        action=argparse.BooleanOptionalAction,
        help="the drop is the host restarting mid-batch (away for --reboot-down-s, then it boots)",
    )
    knobs.add_argument(
        "--journal-fail-after-lines",
        type=_count,
        help="the disk refuses the next write batch's journal after N lines (0: its header)",
    )
    knobs.add_argument(
        "--reply-delay-s", type=_seconds, help="hold the reply of the next batch this long (it still runs)"
    )

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
