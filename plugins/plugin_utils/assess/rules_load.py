"""Scenario 6 (login worker / IOCP listener starvation) and the 10054 login errors behind it.

The facts classify every ERRORLOG 17830 line with network error 0x2746 (10054) by where
its login time went (``facts/errorlog.py``, reference/sqlserver-tls.md 14a; the
reading of the timing fields is an inference of that section):
``starvation`` (mostly enqueued: waiting for a worker), ``tls_handshake`` (mostly
establishing SSL: evidence for scenarios 1-5, not for 6), ``client_reset`` (all zeros:
a client that opened and closed the socket) and ``other``.

- ``s6.login_starvation_risk``: SQL Server 2017 or earlier (major <= 14, reference 14)
  with starvation-type 17830 lines or 17197 login timeouts. Neither TLS-handshake
  17830 lines, client resets nor Schannel events 36874/36888/36887 count: they come
  from scenarios 1, 2 and 5 (or from port scanners), not from starvation. SQL Server
  2019's dedicated login dispatcher pool is the remedy; there is no registry fix.
- ``login_errors_10054`` (no scenario, any version): the 0x2746 lines per class, so that
  starvation on SQL Server 2019+ or handshake failures caused by clients elsewhere are
  not silent. ``low`` when some line is starvation or TLS-handshake type, else ``info``.

Facts gathered before the classification existed (no ``classes_10054``) count every
0x2746 line as starvation evidence, as this rule did then.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from . import view
from .findings import make_finding

LAST_AFFECTED_MAJOR = 14  # SQL Server 2017
CLASSES = ("starvation", "tls_handshake", "client_reset", "other")


def _classes(evidence: Mapping[str, Any]) -> dict[str, Mapping[str, int]]:
    classes = evidence.get("classes_10054")
    if isinstance(classes, Mapping):
        return {name: classes[name] for name in CLASSES}
    empty = {"count": 0, "total_ms": 0, "queue_ms": 0, "ssl_ms": 0}
    unclassified = {
        "count": evidence["errors_17830_10054"],
        "total_ms": evidence["login_ms_10054"]["total"],
        "queue_ms": evidence["login_ms_10054"]["enqueued"],
        "ssl_ms": evidence["login_ms_10054"]["establishing_ssl"],
    }
    return {name: unclassified if name == "starvation" else empty for name in CLASSES}


def login_starvation_findings(facts: view.Facts, lang: str) -> list[dict[str, Any]]:
    findings = []
    for instance in view.instances(facts):
        major = instance.get("major")
        if major is None or major > LAST_AFFECTED_MAJOR:
            continue
        evidence = instance["errorlog"]["evidence"]
        starvation = _classes(evidence)["starvation"]
        if not (starvation["count"] or evidence["errors_17197"]):
            continue
        findings.append(
            make_finding(
                "s6.login_starvation_risk",
                lang,
                target=instance["id"],
                instance=instance["name"],
                version=instance["version"],
                errors_10054=evidence["errors_17830_10054"],
                starvation=starvation["count"],
                enqueued_ms=starvation["queue_ms"],
                errors_17197=evidence["errors_17197"],
            )
        )
    return findings


def login_error_findings(facts: view.Facts, lang: str) -> list[dict[str, Any]]:
    findings = []
    for instance in view.instances(facts):
        evidence = instance["errorlog"]["evidence"]
        if not evidence["errors_17830_10054"]:
            continue
        classes = _classes(evidence)
        telling = classes["starvation"]["count"] or classes["tls_handshake"]["count"]
        findings.append(
            make_finding(
                "login_errors_10054",
                lang,
                target=instance["id"],
                severity=None if telling else "info",
                instance=instance["name"],
                version=instance["version"],
                errors_10054=evidence["errors_17830_10054"],
                starvation=classes["starvation"]["count"],
                starvation_queue_ms=classes["starvation"]["queue_ms"],
                tls_handshake=classes["tls_handshake"]["count"],
                tls_handshake_ssl_ms=classes["tls_handshake"]["ssl_ms"],
                client_reset=classes["client_reset"]["count"],
                other=classes["other"]["count"],
                errors_17197=evidence["errors_17197"],
            )
        )
    return findings
