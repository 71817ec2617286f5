"""nmap's ssl-enum-ciphers, the cross-check nobody here wrote, run against lab or OpenSSL endpoints.

nmap wraps TLS in TDS only for a port whose service name is ``ms-sql-s``
(nselib/sslcert.lua keys its TDS wrapper on it; reference/tds-tls-probing.md
section 7). Without the slow ``-sV`` the name comes from ``nmap-services``, so
every run points ``--datadir`` at a directory holding one line per probed port.
Mapping a port to ``https`` instead makes nmap speak plain TLS first (the TDS
8.0 strict entry path). ``--servicedb`` would do the same but implies ``-F``,
which refuses ``-p``.

Used by the lab's tests, the prober's cross-check tests and bench/probe_vs_nmap.py.
"""

from __future__ import annotations

import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

# nmap's protocol names -> the Schannel key spelling the prober and the facts use.
NMAP_PROTOCOLS = {
    "SSLv3": "SSL 3.0",
    "TLSv1.0": "TLS 1.0",
    "TLSv1.1": "TLS 1.1",
    "TLSv1.2": "TLS 1.2",
    "TLSv1.3": "TLS 1.3",
}


@dataclass(frozen=True)
class ProtocolSeen:
    ciphers: list[str]  # IANA names, in the order nmap reports (server order when it found one)
    preference: str | None  # nmap's "cipher preference": "server", "client", "indeterminate"


@dataclass(frozen=True)
class PortSeen:
    state: str | None  # "open", "closed", ... as nmap's port scan found it
    protocols: dict[str, ProtocolSeen] = field(default_factory=dict)  # empty: no hello was answered

    def cipher_lists(self) -> dict[str, list[str]]:
        return {label: seen.ciphers for label, seen in self.protocols.items()}


def iana_suite_name(name: str) -> str:
    # nmap 7.9x names the TLS 1.3 suites after an early draft: TLS_AKE_WITH_AES_128_GCM_SHA256.
    return "TLS_" + name.removeprefix("TLS_AKE_WITH_") if name.startswith("TLS_AKE_WITH_") else name


def services_datadir(datadir: Path, ports: Iterable[int], service: str = "ms-sql-s") -> Path:
    """A ``--datadir`` whose nmap-services names every port ``service``."""
    datadir.mkdir(parents=True, exist_ok=True)
    (datadir / "nmap-services").write_text("".join(f"{service}\t{port}/tcp\t0.5\n" for port in sorted(ports)))
    return datadir


def ssl_enum_ciphers(
    nmap: str, datadir: Path, addresses: Iterable[str], ports: Iterable[int], timeout: float = 600
) -> dict[str, PortSeen]:
    """``{"address:port": PortSeen}`` from one nmap run over every address and port."""
    ports_arg = ",".join(str(p) for p in sorted(set(ports)))
    run = subprocess.run(
        [nmap, "-Pn", "-n", "-p", ports_arg, "--datadir", str(datadir), "--script", "ssl-enum-ciphers",
         "-oX", "-", *addresses],
        capture_output=True, text=True, timeout=timeout, check=True,
    )  # fmt: skip
    seen: dict[str, PortSeen] = {}
    for host in ET.fromstring(run.stdout).findall("host"):
        address_node = host.find("address")
        address = address_node.get("addr") if address_node is not None else None
        for port in host.findall("ports/port"):
            state = port.find("state")
            seen[f"{address}:{port.get('portid')}"] = PortSeen(
                state=None if state is None else state.get("state"),
                protocols=_protocols(port.find("script[@id='ssl-enum-ciphers']")),
            )
    return seen


def _protocols(script: ET.Element | None) -> dict[str, ProtocolSeen]:
    if script is None:  # nmap prints nothing when no hello was answered
        return {}
    protocols = {}
    for table in script.findall("table"):
        names = [e.text or "" for e in table.findall("table[@key='ciphers']/table/elem[@key='name']")]
        preference = table.find("elem[@key='cipher preference']")
        protocols[NMAP_PROTOCOLS[table.get("key", "")]] = ProtocolSeen(
            ciphers=[iana_suite_name(n) for n in names],
            preference=None if preference is None else preference.text,
        )
    return protocols
