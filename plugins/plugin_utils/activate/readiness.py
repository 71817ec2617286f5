"""Is a restarted SQL Server instance ready, with the certificate it was expected to load?

Three signs, none of which needs a SQL login (sqlserver-tls.md 11: TLS may be exactly what
is broken; 12 step 4):
1. the engine service is ``Running`` (``svc.query``);
2. the new ERRORLOG has the "loaded for encryption" line of this start: 26013 with the
   expected thumbprint, or 26018 for the self-generated certificate (section 3); the line of
   the previous start does not count;
3. the controller's own TDS prober (plugin_utils/tds) sees that certificate on the
   instance's port: the thumbprint the ERRORLOG named, or, for the self-generated one, a
   certificate that is not in LocalMachine\\My.

Where the facts say no handshake can succeed (no TLS version in common between the engine's
build and Schannel's server side: scenario 1 blocked by the build, sqlserver-tls.md 7), the
third sign is skipped and the result says so. Past the timeout the error quotes the ERRORLOG.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..agent.ops import op
from ..assess.view import effective_protocols, instance_protocols, ordered, tls_only
from ..facts import errorlog
from ..facts.sql import SQL_ROOT_KEY
from ..plan.certificate_choice import AUTO_PICK_ONE_OF, SELF_GENERATED, NextStart

ReadOps = Callable[[list[dict[str, Any]]], list[Any]]  # one read batch: ops -> data (None when failed)
ProbeCertificate = Callable[[str, int, str], str | None]  # (address, port, mode) -> thumbprint seen
ERRORLOG_LINES = 200


class NotReady(RuntimeError):
    """The instance did not become ready in time; the message quotes what was seen."""


@dataclass(frozen=True)
class ProbeTarget:
    address: str | None
    port: int | None
    mode: str  # "tds", or "strict" when ForceStrict is on (TDS 8.0 starts with TLS)
    skip_reason: str | None = None  # why the prober is not used (None: it is)


@dataclass
class Readiness:
    ready: bool = False
    service_state: str | None = None
    loaded_line: str | None = None
    loaded_thumbprint: str | None = None
    self_generated: bool = False
    probe: dict[str, Any] = field(default_factory=dict)
    polls: int = 0
    elapsed_s: float = 0.0
    errorlog: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "ready": self.ready,
            "service_state": self.service_state,
            "loaded_line": self.loaded_line,
            "loaded_thumbprint": self.loaded_thumbprint,
            "self_generated": self.self_generated,
            "probe": dict(self.probe),
            "polls": self.polls,
            "elapsed_s": self.elapsed_s,
        }


def probe_target(facts: Mapping[str, Any], instance: Mapping[str, Any], address: str | None) -> ProbeTarget:
    """Where and how to probe the instance, or why not: no handshake possible, no static port."""
    mode = "strict" if instance.get("force_strict") else "tds"
    server = tls_only(effective_protocols(facts, "server"))
    speaks = tls_only(instance_protocols(instance))
    if instance["tls12"].get("supported") is not None and not speaks & server:
        reason = (
            f"no TLS version in common: SQL Server {instance.get('version')} speaks "
            f"{', '.join(ordered(speaks)) or 'none'}, Schannel's server side has "
            f"{', '.join(ordered(server)) or 'none'} (scenario 1)"
        )
        return ProbeTarget(address, None, mode, reason)
    port = instance.get("tcp_port")
    if not port or not str(port).strip().isdigit():
        return ProbeTarget(address, None, mode, "the instance has no static TCP port (Tcp\\IPAll TcpPort)")
    if not address:
        return ProbeTarget(None, None, mode, "the host's address is not known")
    return ProbeTarget(address, int(str(port).strip()), mode)


def state_ops(instance: Mapping[str, Any], service: str) -> list[dict[str, Any]]:
    """One read batch: the engine's state and the lines of its current ERRORLOG."""
    parameters = f"{SQL_ROOT_KEY}\\{instance['id']}\\MSSQLServer\\Parameters"
    return [
        op("svc.query", names=[service]),
        op(
            "file.tail",
            path_from={"key": parameters, "value_regex": "^-e(.+)$"},
            max_lines=ERRORLOG_LINES,
            pattern=errorlog.STARTUP_PATTERN,
        ),
    ]


def read_state(data: Sequence[Any]) -> tuple[str | None, list[str]]:
    """(engine state, current ERRORLOG lines) from the results of ``state_ops``."""
    services, files = [*data, None, None][:2]
    state = None
    for row in services or []:
        if isinstance(row, Mapping):
            state = row.get("state")
    lines: list[str] = []
    for row in files or []:
        if isinstance(row, Mapping) and row.get("exists"):
            lines += [str(line) for line in row.get("lines") or []]
    return state, lines


def describe_expected(expected: NextStart | None) -> str:
    if expected is None:
        return "any certificate"
    if expected.kind == SELF_GENERATED:
        return "the self-generated certificate"
    if expected.kind == AUTO_PICK_ONE_OF:
        return "one of " + ", ".join(expected.candidates)
    return f"certificate {expected.thumbprint}"


def matches_expected(expected: NextStart | None, thumbprint: str | None, self_generated: bool) -> bool:
    if expected is None:
        return True
    if expected.kind == SELF_GENERATED:
        return self_generated
    if self_generated or thumbprint is None:
        return False
    if expected.kind == AUTO_PICK_ONE_OF:
        return thumbprint in expected.candidates
    return thumbprint == expected.thumbprint


def quote(lines: Sequence[str], limit: int = 12) -> str:
    shown = [line.strip() for line in lines if line.strip()][-limit:]
    return " | ".join(shown) if shown else "(no ERRORLOG lines read)"


def wait_ready(
    read_ops: ReadOps,
    instance: Mapping[str, Any],
    service: str,
    expected: NextStart | None,
    previous_line: str | None,
    target: ProbeTarget,
    store_thumbprints: set[str],
    probe: ProbeCertificate | None,
    *,
    timeout_s: float,
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
    interval_s: float = 1.0,
) -> Readiness:
    """Poll until the three signs agree; NotReady past ``timeout_s`` (the ERRORLOG quoted).

    ``expected`` None accepts whatever certificate the new start loaded."""
    outcome = Readiness()
    started = monotonic()
    ops = state_ops(instance, service)
    while True:
        outcome.polls += 1
        state, lines = read_state(read_ops(ops))
        outcome.service_state, outcome.errorlog = state, lines
        loaded = errorlog.loaded_certificate([lines])
        fresh = loaded["line"] is not None and loaded["line"] != previous_line
        if fresh:
            outcome.loaded_line = loaded["line"]
            outcome.loaded_thumbprint = loaded["thumbprint"]
            outcome.self_generated = bool(loaded["self_generated"])
            if not matches_expected(expected, loaded["thumbprint"], outcome.self_generated):
                what = "the self-generated certificate" if outcome.self_generated else loaded["thumbprint"]
                raise NotReady(
                    f"SQL Server {instance['name']} started but loaded {what}, "
                    f"expected {describe_expected(expected)}. ERRORLOG: {quote(lines)}"
                )
        if state == "Running" and fresh and _probe_ok(outcome, target, store_thumbprints, probe):
            outcome.ready = True
            outcome.elapsed_s = round(monotonic() - started, 1)
            return outcome
        if monotonic() - started >= timeout_s:
            seen = outcome.probe.get("seen") if outcome.probe else None
            line = f"loaded line {outcome.loaded_line!r}" if fresh else "no new loaded-for-encryption line"
            raise NotReady(
                f"SQL Server {instance['name']} was not ready within {timeout_s:g} s: service "
                f"{state or 'unknown'}, {line}"
                f"{', prober saw ' + str(seen) if outcome.probe else ''}; expected "
                f"{describe_expected(expected)}. ERRORLOG: {quote(lines)}"
            )
        sleep(interval_s)


def _probe_ok(
    outcome: Readiness, target: ProbeTarget, store: set[str], probe: ProbeCertificate | None
) -> bool:
    if target.skip_reason is not None or probe is None:
        outcome.probe = {"used": False, "reason": target.skip_reason or "no prober"}
        return True
    if target.address is None or target.port is None:  # a target without a skip reason has both
        outcome.probe = {"used": False, "reason": "no address or port to probe"}
        return True
    try:
        seen = probe(target.address, target.port, target.mode)
    except Exception as exc:  # the endpoint is still coming up: keep polling
        outcome.probe = {"used": True, "seen": None, "error": str(exc)[:200]}
        return False
    seen = seen.lower() if seen else None
    outcome.probe = {"used": True, "seen": seen, "address": target.address, "port": target.port}
    if seen is None:
        return False
    if outcome.self_generated:
        return seen not in store
    return seen == outcome.loaded_thumbprint


def probe_certificate(address: str, port: int, mode: str, *, timeout: float = 5.0) -> str | None:
    """The certificate thumbprint a client sees on the instance port (the collection's prober).

    One full handshake on the TDS entry path is enough for the leaf certificate; when the
    controller's TLS library cannot complete one (a suite or protocol it lacks), the prober's
    raw-ClientHello enumeration reads the certificate from the server's first flight instead.
    """
    from ..tds.handshake import full_handshake
    from ..tds.probe import probe_endpoint
    from ..tds.transport import make_transport, parse_target

    transport = make_transport(
        parse_target((address, port)), mode, timeout=timeout, exchange_timeout=timeout * 3
    )
    stream = transport.connect()
    handshake, session = full_handshake(stream, alpn=transport.alpn)
    (session or stream).close()
    if handshake.ok and handshake.leaf_der:
        return hashlib.sha1(handshake.leaf_der).hexdigest()
    result = probe_endpoint((address, port), mode, timeout=timeout, exchange_timeout=timeout * 3)
    thumbprint = (result.get("certificate") or {}).get("thumbprint_sha1")
    if thumbprint:
        return str(thumbprint)
    errors = "; ".join(e.get("message", "") for e in result.get("errors") or [])
    raise RuntimeError(f"no certificate seen on {address}:{port} ({mode}): {errors or handshake.error}")
