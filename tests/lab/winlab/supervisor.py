"""``python -m winlab serve``: the supervisor that serves every host until SIGTERM.

``up`` starts it in the background with the lab lock already taken and hands
it the locked descriptor (``--lock-fd``); it holds the lock for its whole life,
writes lab.pid and, once every host is listening, lab.json (the manifest).
"""

from __future__ import annotations

import argparse
import datetime
import functools
import importlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from .errors import LabError
from .inventory import Manifest, describe_host, write_manifest, write_private
from .process import StatePaths, read_pid, take_lock
from .server import (
    Credentials,
    ExtraListeners,
    FleetConfig,
    host_address,
    no_extra_listeners,
    self_signed_certificate,
    serve_fleet,
    tls_context,
    validate_subnet,
)
from .tds.listener import tds_listeners

USERNAME = "Administrator"
# Where the host model plugs in: module:function taking (profile paths, state
# dir, now) and returning HostRuntime objects (see inventory.describe_host for
# the attributes the inventory reads).
DEFAULT_RUNTIME_FACTORY = "winlab.host:load_fleet"


def cmd_serve(args: argparse.Namespace) -> int:
    """The supervisor: hold the lock, serve every host until SIGTERM, then clean up."""
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(process)d %(name)s %(levelname)s %(message)s",
    )
    paths = StatePaths.of(args.state_dir)
    # Held for the supervisor's whole life; under `up` it is the descriptor `up` locked.
    with take_lock(paths, f"another supervisor holds {paths.lock}; not starting a second one", args.lock_fd):
        return _serve_locked(args, paths, logging.getLogger("winlab.supervisor"))


def _serve_locked(args: argparse.Namespace, paths: StatePaths, log: logging.Logger) -> int:
    write_private(paths.pid, f"{os.getpid()}\n")
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda *_args: stop.set())
    factory = load_runtime_factory(args.runtime_factory)
    loaded = factory([Path(p) for p in args.profiles], paths.root, datetime.datetime.now(datetime.UTC))
    # host.load_fleet returns {name: runtime}; a plain sequence is accepted too.
    runtimes = list(loaded.values()) if isinstance(loaded, Mapping) else list(loaded)
    if not runtimes:
        raise LabError(f"--runtime-factory {args.runtime_factory}: returned no hosts for {args.profiles}")
    subnet = validate_subnet(args.subnet)
    # Where each host will listen (serve_fleet's order): profiles may name another host's address.
    addresses = {runtime.name: host_address(subnet, index) for index, runtime in enumerate(runtimes)}
    for runtime in runtimes:
        resolve = getattr(runtime, "resolve_addresses", None)
        if callable(resolve):
            resolve(addresses)
    tls = None
    if args.https:
        cert, key = self_signed_certificate([host_address(subnet, i) for i in range(len(runtimes))])
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
        log.info(
            "serving %d hosts on %s-%s port %d",
            len(hosts),
            hosts[0].address.address,
            hosts[-1].address.address,
            args.port,
        )
        stop.wait()
        log.info("stopping")
    finally:
        fleet.stop()
        paths.manifest.unlink(missing_ok=True)
        if read_pid(paths) == os.getpid():
            paths.pid.unlink(missing_ok=True)
    return 0


def load_runtime_factory(spec: str) -> Callable[..., Any]:
    module_name, _sep, function_name = spec.partition(":")
    if not module_name or not function_name:
        raise LabError(f"--runtime-factory {spec!r}: expected module:function")
    try:
        return getattr(importlib.import_module(module_name), function_name)
    except (ImportError, AttributeError) as exc:
        raise LabError(f"--runtime-factory {spec!r}: cannot load it ({exc})") from None
