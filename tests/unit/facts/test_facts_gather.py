"""The audit is one agent batch: every read it needs, valid against the op spec, no writes."""

from ansible_collections.mssql.tls.plugins.plugin_utils.agent.client import build_request
from ansible_collections.mssql.tls.plugins.plugin_utils.agent.ops import WRITE_OPS
from ansible_collections.mssql.tls.plugins.plugin_utils.facts.gather import GATHER_KEYS, gather_ops


def test_one_read_only_batch_that_the_client_accepts_without_a_journal():
    ops = gather_ops()
    request = build_request(ops)  # validates every op; raises for write ops without a journal
    assert len(request["ops"]) == len(GATHER_KEYS) == len(set(GATHER_KEYS))
    assert not any(o["op"] in WRITE_OPS for o in ops)


def by_key():
    return dict(zip(GATHER_KEYS, gather_ops(), strict=True))


def test_registry_depths_reach_the_keys_the_facts_read():
    ops = by_key()
    assert ops["schannel"]["depth"] == 3  # Protocols\<p>\<side>
    assert ops["sql.tree"]["depth"] == 5  # <id>\MSSQLServer\SuperSocketNetLib\Tcp\IPAll
    assert ops["sql.tree"]["path"] == r"HKLM\SOFTWARE\Microsoft\Microsoft SQL Server"


def test_files_located_by_the_registry_are_resolved_on_the_host():
    ops = by_key()
    assert ops["sql.binaries"]["path_from"] == {
        "key": r"HKLM\SOFTWARE\Microsoft\Microsoft SQL Server\*\Setup",
        "value_name": "SQLBinRoot",
        "append": r"\sqlservr.exe",
    }
    assert ops["sql.errorlog"]["path_from"]["value_regex"] == "^-e(.+)$"
    assert ops["sql.errorlog"]["suffixes"] == ["", ".1"]
    assert ops["drivers.odbc_files"]["path_from"]["value_name"] == "Driver"


def test_the_batch_reads_every_concern_of_the_audit():
    kinds = {o["op"] for o in gather_ops()}
    assert kinds == {
        "reg.read",
        "os.info",
        "tls.suites",
        "file.version",
        "file.tail",
        "svc.query",
        "cluster.query",
        "cert.list",
        "event.count",
        "journal.read",
    }
    events = by_key()["events.schannel"]
    assert (events["log"], events["provider"], events["ids"]) == ("System", "Schannel", [36874, 36888, 36887])


def test_certificate_bindings_elsewhere_keys_and_the_journal_are_in_the_same_batch():
    """reference-windows-bindings.md 1-3: RDP, WinRM listeners, http.sys (IP and SNI); facts/pending.py."""
    ops = by_key()
    assert ops["bindings.rdp"] == {
        "op": "reg.read",
        "path": r"HKLM\SYSTEM\CurrentControlSet\Control\Terminal Server\WinStations\RDP-Tcp",
        "values": ["SSLCertificateSHA1Hash"],
    }
    assert ops["bindings.wsman"]["path"] == r"HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\WSMAN\Listener"
    assert ops["bindings.http_ssl"]["path"].endswith(r"\Services\HTTP\Parameters\SslBindingInfo")
    assert ops["bindings.http_ssl_sni"]["path"].endswith(r"\Services\HTTP\Parameters\SslSniBindingInfo")
    assert {ops[k]["depth"] for k in ("bindings.wsman", "bindings.http_ssl", "bindings.http_ssl_sni")} == {1}
    assert ops["certificates"]["key_acl"] is True
    assert ops["journal"] == {"op": "journal.read", "last": 24}
