"""The one agent batch an audit needs: every read op, in a fixed order, each with a name.

``gather_ops()`` is sent as is; ``build_facts`` pairs the results with ``GATHER_KEYS``
by position. Everything the audit reads comes from this single round trip (DESIGN.md
"Round trips are the cost"); locations that live in the registry (sqlservr.exe,
ERRORLOG, ODBC driver DLLs) are resolved on the host with ``path_from``.
"""

from __future__ import annotations

from typing import Any

from ..agent.ops import op
from . import errorlog
from .bindings import RDP_KEY, RDP_VALUE, SSL_BINDING_KEY, SSL_SNI_BINDING_KEY, WSMAN_LISTENER_KEY
from .ciphers import LOCAL_LIST_KEY, POLICY_LIST_KEY
from .clients import DOTNET_KEYS, FIPS_KEY, NDP_V4_KEY, WINHTTP_KEYS
from .drivers import DLL_PATHS, ODBCINST_KEY, ODBCINST_WOW_KEY
from .pending import JOURNAL_RECORDS
from .schannel import SCHANNEL_KEY
from .sql import SQL_ROOT_KEY

CURRENT_VERSION_KEY = r"HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion"

# Schannel: S\Protocols\<p>\<side> is 3 levels down. SQL Server: <id>\MSSQLServer\
# SuperSocketNetLib\Tcp\IPAll is 5 levels down (and covers Setup, Parameters, HADR,
# Cluster, ClusterState, Instance Names\SQL).
SCHANNEL_DEPTH = 3
SQL_TREE_DEPTH = 5
EVENT_WINDOW_HOURS = 168
SCHANNEL_EVENT_IDS = [36874, 36888, 36887]
ERRORLOG_SUFFIXES = ["", ".1"]
STARTUP_MAX_LINES = 200
EVIDENCE_MAX_LINES = 2000
# One file.tail reads each ERRORLOG once for both patterns (its `matches`, in this order);
# it keeps EVIDENCE_MAX_LINES per pattern and build.py keeps the last STARTUP_MAX_LINES of the
# startup matches, which are the lines a separate 200-line tail would have returned.
ERRORLOG_PATTERNS = (errorlog.STARTUP_PATTERN, errorlog.EVIDENCE_PATTERN)
STARTUP_MATCHES, EVIDENCE_MATCHES = 0, 1

# The default instance's services have fixed names; named instances run as MSSQL$<N> and
# SQLAgent$<N> (sqlserver-tls.md 10), names the batch cannot know before the registry
# read in the same batch: svc.query matches them by prefix.
SQL_SERVICE_NAMES = ["MSSQLSERVER", "SQLSERVERAGENT"]
SQL_SERVICE_PREFIXES = ["MSSQL$", "SQLAgent$"]

_ERRORLOG_FROM = {"key": SQL_ROOT_KEY + r"\*\MSSQLServer\Parameters", "value_regex": "^-e(.+)$"}


def _plan() -> list[tuple[str, dict[str, Any]]]:
    return [
        ("os.current_version", op("reg.read", path=CURRENT_VERSION_KEY)),
        ("os.info", op("os.info")),
        ("schannel", op("reg.read", path=SCHANNEL_KEY, depth=SCHANNEL_DEPTH)),
        ("suites.local", op("reg.read", path=LOCAL_LIST_KEY)),
        ("suites.policy", op("reg.read", path=POLICY_LIST_KEY)),
        ("suites.cmdlet", op("tls.suites")),
        *((f"dotnet.{label}", op("reg.read", path=path)) for label, path in DOTNET_KEYS.items()),
        ("dotnet.ndp_v4", op("reg.read", path=NDP_V4_KEY, depth=2)),
        *((f"winhttp.{label}", op("reg.read", path=path)) for label, path in WINHTTP_KEYS.items()),
        ("fips", op("reg.read", path=FIPS_KEY)),
        ("sql.tree", op("reg.read", path=SQL_ROOT_KEY, depth=SQL_TREE_DEPTH)),
        (
            "sql.binaries",
            op(
                "file.version",
                path_from={
                    "key": SQL_ROOT_KEY + r"\*\Setup",
                    "value_name": "SQLBinRoot",
                    "append": r"\sqlservr.exe",
                },
            ),
        ),
        (
            "sql.errorlog",
            op(
                "file.tail",
                path_from=dict(_ERRORLOG_FROM),
                suffixes=list(ERRORLOG_SUFFIXES),
                max_lines=max(STARTUP_MAX_LINES, EVIDENCE_MAX_LINES),
                patterns=list(ERRORLOG_PATTERNS),
            ),
        ),
        (
            "sql.services",
            op("svc.query", names=list(SQL_SERVICE_NAMES), prefixes=list(SQL_SERVICE_PREFIXES)),
        ),
        ("cluster", op("cluster.query")),
        # key_acl: each private key's DACL, to grant the SQL service SID read access (plan/sql_binding.py).
        ("certificates", op("cert.list", store="My", key_acl=True)),
        ("drivers.odbcinst", op("reg.read", path=ODBCINST_KEY, depth=1)),
        ("drivers.odbcinst_wow64", op("reg.read", path=ODBCINST_WOW_KEY, depth=1)),
        (
            "drivers.odbc_files",
            op(
                "file.version",
                path_from={"key": ODBCINST_KEY + r"\*", "value_name": "Driver"},
            ),
        ),
        (
            "drivers.odbc_files_wow64",
            op(
                "file.version",
                path_from={"key": ODBCINST_WOW_KEY + r"\*", "value_name": "Driver"},
            ),
        ),
        ("drivers.dlls", op("file.version", paths=list(DLL_PATHS))),
        (
            "events.schannel",
            op(
                "event.count",
                log="System",
                provider="Schannel",
                ids=list(SCHANNEL_EVENT_IDS),
                since_hours=EVENT_WINDOW_HOURS,
            ),
        ),
        # Where else a certificate is presented (docs/reference-windows-bindings.md 1-3): the RDP
        # listener, WinRM listeners, http.sys SSL bindings (IP:port and SNI). Read, never written.
        ("bindings.rdp", op("reg.read", path=RDP_KEY, values=[RDP_VALUE])),
        ("bindings.wsman", op("reg.read", path=WSMAN_LISTENER_KEY, depth=1)),
        ("bindings.http_ssl", op("reg.read", path=SSL_BINDING_KEY, depth=1)),
        ("bindings.http_ssl_sni", op("reg.read", path=SSL_SNI_BINDING_KEY, depth=1)),
        # Our own journal: activations still pending (facts/pending.py).
        ("journal", op("journal.read", last=JOURNAL_RECORDS)),
    ]


GATHER_KEYS: tuple[str, ...] = tuple(key for key, _spec in _plan())


def gather_ops() -> list[dict[str, Any]]:
    """The audit's single agent batch (read-only: no journal)."""
    return [spec for _key, spec in _plan()]
