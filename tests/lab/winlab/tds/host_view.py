"""Read a lab host's effective TLS state into EndpointState records (the TDS side of the seam).

Everything Windows-specific (which protocols Schannel enables after the last boot, which suites
are in force, which certificate SQL Server loaded at its last start) is the host model's
reading of reference/; this module only copies it into the shape the endpoints use.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from .. import model, schannel, sqlserver
from .protocols import VERSION_BY_SCHANNEL_NAME
from .state import EndpointState, ServerCertificate

log = logging.getLogger("winlab.tds")

StateSource = Callable[[], list[EndpointState]]


def _certificate(state: model.HostState, inst: model.SqlInstance) -> ServerCertificate | None:
    loaded = sqlserver.loaded_certificate(state, inst.name)
    if loaded is None or loaded.key_pem is None:
        return None
    runtime = state.sql_runtime.get(inst.name)
    configured = getattr(runtime, "certificate_configured", None)
    if configured is None:
        # The runtime does not record why it loaded the certificate; a binding that names the
        # loaded certificate is the best available sign that it was configured.
        bound = sqlserver.bound_thumbprint(state, inst)
        configured = (
            not loaded.self_generated and bound is not None and (bound.lower() == loaded.thumbprint.lower())
        )
    return ServerCertificate(
        der=loaded.der, private_key_pem=loaded.key_pem.encode("ascii"), configured=bool(configured)
    )


def endpoint_states(state: model.HostState) -> list[EndpointState]:
    """One EndpointState per SQL instance of the host, running or not."""
    family = schannel.os_family(state.os.build)
    os_supports_tls13 = schannel.os_default(family, "TLS 1.3", "Server") != schannel.UNSUPPORTED
    suites = tuple(schannel.effective_cipher_suites(state).suites)
    result = []
    for inst in state.sql_instances:
        runtime = state.sql_runtime.get(inst.name)
        running = bool(runtime and runtime.running)
        # instance_protocols narrows Schannel's server protocols by what the SQL build can use
        # (TLS 1.2 needs a KB3135244 build; TLS 1.3 needs SQL Server 2022).
        protocols = sqlserver.instance_protocols(state, inst)
        versions = frozenset(
            VERSION_BY_SCHANNEL_NAME[name]
            for name, on in protocols.items()
            if on and name in VERSION_BY_SCHANNEL_NAME
        )
        major, minor, build = (*sqlserver.parse_version(inst.version), 0, 0, 0)[:3]
        result.append(
            EndpointState(
                instance=inst.name,
                running=running,
                tcp_port=inst.port,
                product_version=(major, minor, build),
                force_encryption=bool(runtime and runtime.force_encryption),
                force_strict=bool(runtime and runtime.force_strict),
                certificate=_certificate(state, inst) if running else None,
                server_versions=versions,
                os_supports_tls13=os_supports_tls13,
                cipher_suites=suites,
            )
        )
    return result


def runtime_source(runtime: Any) -> tuple[StateSource, str]:
    """State reader and host name for a HostRuntime (e.g. LabHost) or a bare HostState.

    A runtime is read through its public ``snapshot()``, which the runtime takes under its own
    lock, so an endpoint never sees a host half-way through a reboot or a service restart.
    """
    if isinstance(runtime, model.HostState):
        host_state = runtime
        return (lambda: endpoint_states(host_state)), host_state.fqdn

    def states() -> list[EndpointState]:
        return endpoint_states(model.from_json(runtime.snapshot()))

    try:
        return states, model.from_json(runtime.snapshot()).fqdn
    except (KeyError, TypeError, ValueError):
        # A stand-in runtime without the host model (transport tests): no SQL instances.
        log.warning("host %s has no host model state: no TDS endpoints", getattr(runtime, "name", "?"))
        return (lambda: []), str(getattr(runtime, "name", "winlab"))
