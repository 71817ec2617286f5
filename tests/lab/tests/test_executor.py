"""The executor runs real agent batches (built with the collection's client) like agent.ps1 would."""

from __future__ import annotations

import base64
import json
import threading

import pytest
from labtest import (
    AGENT,
    Knobs,
    LabHost,
    base_profile,
    client,
    data,
    error_kind,
    make_host,
    run,
)
from winlab import executor, model, schannel, sqlserver

SQL = "HKLM\\SOFTWARE\\Microsoft\\Microsoft SQL Server"
NETLIB = f"{SQL}\\MSSQL15.MSSQLSERVER\\MSSQLServer\\SuperSocketNetLib"
S = "HKLM\\SYSTEM\\CurrentControlSet\\Control\\SecurityProviders\\SCHANNEL"
JOURNAL = "C:\\ProgramData\\mssql.tls\\journal"


def journal_lines(h: LabHost, record: str = "rec-1") -> list[str]:
    entry = h.state.file(f"{JOURNAL}\\{record}.jsonl")
    return [] if entry is None else (entry.text or "").splitlines()


# ---- the command line and the bootstrap ---------------------------------------------


def test_encoded_command_line_runs_the_batch(host: LabHost) -> None:
    outcome, doc = run(host, [{"op": "os.info"}], journal_id=None)
    assert outcome.rc == 0 and outcome.ops == ["os.info"]
    assert data(doc)["computer_name"] == "T1"
    assert data(doc)["dns_domain"] == "lab.example.com"


def test_double_encoded_line_of_ansible_2_18_is_decoded_twice(host: LabHost) -> None:
    request = client.build_request([{"op": "os.info"}])
    command, stdin = client.build_command(request, script=AGENT)
    outer = client.encode_powershell(command)  # what 2.18's winrm plugin sends
    outcome = host.run_command(outer, stdin, Knobs())
    assert outcome.rc == 0 and json.loads(outcome.stdout)["results"][0]["ok"]


def test_other_commands_are_refused_like_powershell_would(host: LabHost) -> None:
    outcome = host.run_command(client.encode_powershell("Write-Output 'module payload'"), b"", Knobs())
    assert outcome.rc == 1 and outcome.stdout == b""
    assert b"only runs the mssql.tls agent" in outcome.stderr
    assert host.run_command("cmd.exe /c dir", b"", Knobs()).rc == 1


def test_agent_hash_mismatch_is_the_bootstrap_fatal(host: LabHost) -> None:
    request = client.build_request([{"op": "os.info"}])
    command, _stdin = client.build_command(request, script=AGENT)
    _command, stdin = client.build_command(request, script=b"# tampered agent")
    outcome = host.run_command(command, stdin, Knobs())
    assert outcome.rc == 1
    assert json.loads(outcome.stdout) == {
        "v": 1,
        "fatal": {"kind": "invalid_request", "message": "agent script hash mismatch"},
    }


def test_missing_request_line_is_the_bootstrap_fatal(host: LabHost) -> None:
    command, stdin = client.build_command(client.build_request([{"op": "os.info"}]), script=AGENT)
    outcome = host.run_command(command, stdin.split(b"\n")[0] + b"\n", Knobs())
    assert outcome.rc == 1 and json.loads(outcome.stdout)["fatal"]["kind"] == "invalid_request"


def test_output_is_one_ascii_json_document(host: LabHost) -> None:
    ops = [
        {
            "op": "reg.write",
            "path": "HKLM\\SOFTWARE\\Lab",
            "name": "Note",
            "type": "REG_SZ",
            "value": {"data": "caf\u00e9 \u2713"},
        },
        {"op": "reg.read", "path": "HKLM\\SOFTWARE\\Lab"},
    ]
    outcome, doc = run(host, ops)
    assert all(b < 128 for b in outcome.stdout)
    assert data(doc, 1)["values"]["Note"] == {"type": "REG_SZ", "data": "caf\u00e9 \u2713"}
    parsed = client.parse_response(
        outcome.stdout, outcome.stderr, outcome.rc, {"ops": ops, "rid": doc["rid"]}
    )
    assert parsed.ok


# ---- validation against the lab's own op table ----------------------------------------


def test_op_fields_table_covers_the_documented_ops() -> None:
    assert set(executor.OP_FIELDS) == set(executor.HANDLERS)
    assert executor.OP_FIELDS["file.tail"] == {
        "paths",
        "path_from",
        "suffixes",
        "max_lines",
        "pattern",
        "patterns",
    }
    assert set(executor.OP_FIELDS) >= executor.WRITE_OPS


@pytest.mark.parametrize(
    ("op", "message"),
    [
        ({"op": "reg.frobnicate"}, "unknown op"),
        ({"op": "reg.read", "path": "HKLM\\X", "deep": 1}, "unknown field 'deep'"),
        ({"op": "reg.read", "path": "HKLM\\X", "depth": "2"}, "field 'depth'"),
        ({"op": "reg.read", "path": "HKLM\\X", "depth": True}, "field 'depth'"),
        ({"op": "reg.read"}, "missing required field(s) ['path']"),
        ({"op": "event.count", "log": "System", "ids": ["36874"]}, "field 'ids'"),
        ({"op": "file.tail", "path_from": {"key": "HKLM\\X", "other": "y"}}, "path_from"),
    ],
)
def test_invalid_ops_fail_alone_with_invalid_request(host: LabHost, op: dict, message: str) -> None:
    _outcome, doc = run(host, [op, {"op": "os.info"}], journal_id=None, raw=True)
    assert error_kind(doc, 0) == "invalid_request"
    assert message in doc["results"][0]["error"]["message"]
    assert doc["results"][1]["ok"]  # a read op fails alone


def test_write_batch_without_journal_is_refused(host: LabHost) -> None:
    ops = [
        {
            "op": "reg.write",
            "path": "HKLM\\SOFTWARE\\Lab",
            "name": "x",
            "type": "REG_SZ",
            "value": {"data": "1"},
        }
    ]
    outcome, doc = run(host, ops, journal_id=None, raw=True)
    assert outcome.rc == 1 and doc["fatal"]["kind"] == "invalid_request"
    assert model.load(host.state_path).registry["HKLM"].subkey("SOFTWARE").subkey("Lab") is None


# ---- registry ops -----------------------------------------------------------------------


def test_reg_read_depth_semantics_and_missing_keys(host: LabHost) -> None:
    ops = [
        {"op": "reg.read", "path": f"{S}\\Protocols", "depth": 0},
        {"op": "reg.read", "path": "HKLM\\SOFTWARE\\Nope"},
        {"op": "reg.read", "path": f"{S}\\Protocols\\No\\Such"},
        {
            "op": "reg.read",
            "path": f"{SQL}\\MSSQL15.MSSQLSERVER\\MSSQLServer",
            "depth": 1,
            "values": ["TcpPort", "Certificate"],
        },
    ]
    _outcome, doc = run(host, ops, journal_id=None)
    assert data(doc, 0) == {"exists": True, "values": {}, "subkeys": {}}
    # a missing key says how far its path exists (the keys a write there would create)
    assert data(doc, 1) == {"exists": False, "existing_depth": 1, "values": {}, "subkeys": {}}
    assert data(doc, 2)["existing_depth"] == 6  # SYSTEM, CurrentControlSet, ..., SCHANNEL, Protocols
    node = data(doc, 3)["subkeys"]["SuperSocketNetLib"]
    assert set(node["values"]) == {"Certificate"}
    assert node["subkeys"] == {"Tcp": None, "Np": None, "Sm": None}


def test_reg_write_creates_keys_returns_before_after_and_dwords_signed(host: LabHost) -> None:
    path = f"{S}\\Ciphers\\AES 128/128"
    op = {
        "op": "reg.write",
        "path": path,
        "name": "Enabled",
        "type": "REG_DWORD",
        "value": {"data": 4294967295},
        "expect": None,
    }
    _outcome, doc = run(host, [op, {"op": "reg.read", "path": path}])
    assert data(doc) == {
        "before": None,
        "after": {"type": "REG_DWORD", "data": -1},
        "created_keys": [f"{S}\\Ciphers", path],
    }
    assert data(doc, 1)["values"]["Enabled"] == {"type": "REG_DWORD", "data": -1}
    binary = {
        "op": "reg.write",
        "path": path,
        "name": "Blob",
        "type": "REG_BINARY",
        "value": {"data": "AQI="},
    }
    _outcome, doc = run(host, [binary, {"op": "reg.read", "path": path, "values": ["Blob"]}])
    assert data(doc, 1)["values"] == {"Blob": {"type": "REG_BINARY", "data": "AQI="}}


def test_conflict_stops_the_batch_and_later_ops_are_skipped(host: LabHost) -> None:
    ops = [
        {
            "op": "reg.write",
            "path": "HKLM\\SOFTWARE\\Lab",
            "name": "a",
            "type": "REG_SZ",
            "value": {"data": "1"},
        },
        {
            "op": "reg.write",
            "path": NETLIB,
            "name": "ForceEncryption",
            "type": "REG_DWORD",
            "value": {"data": 1},
            "expect": {"type": "REG_DWORD", "data": 1},
        },
        {
            "op": "reg.write",
            "path": "HKLM\\SOFTWARE\\Lab",
            "name": "b",
            "type": "REG_SZ",
            "value": {"data": "2"},
        },
        {"op": "os.info"},
    ]
    _outcome, doc = run(host, ops)
    assert doc["results"][0]["ok"]
    assert [error_kind(doc, i) for i in (1, 2, 3)] == ["conflict", "skipped", "skipped"]
    assert journal_lines(host) == [
        '{"t":"test"}',
        '{"applied":0,"created_keys":["HKLM\\\\SOFTWARE\\\\Lab"]}',
        '{"done":true,"stopped_at":1}',
    ]
    saved = model.load(host.state_path)
    lab = saved.registry["HKLM"].subkey("SOFTWARE").subkey("Lab")
    assert set(lab.values) == {"a"}


def test_failed_write_stops_the_batch(host: LabHost) -> None:
    ops = [
        {
            "op": "reg.write",
            "path": "HKLM\\SOFTWARE\\Lab",
            "name": "a",
            "type": "REG_DWORD",
            "value": {"data": "not a number"},
        },
        {"op": "reg.read", "path": "HKLM\\SOFTWARE"},
    ]
    _outcome, doc = run(host, ops)
    assert [error_kind(doc, 0), error_kind(doc, 1)] == ["invalid_request", "skipped"]
    assert "expected an integer" in doc["results"][0]["error"]["message"]


def test_reg_remove_values_and_keys(host: LabHost) -> None:
    base = "HKLM\\SOFTWARE\\Lab"
    write = {"op": "reg.write", "path": f"{base}\\Sub", "name": "v", "type": "REG_SZ", "value": {"data": "x"}}
    run(host, [write])
    ops = [
        {"op": "reg.remove", "path": f"{base}\\Sub", "name": "v", "expect": {"type": "REG_SZ", "data": "x"}},
        {"op": "reg.remove", "path": f"{base}\\Sub", "name": "v"},
        {"op": "reg.remove", "path": base},
    ]
    _outcome, doc = run(host, ops)
    assert data(doc, 0) == {"before": {"type": "REG_SZ", "data": "x"}, "removed": True}
    assert data(doc, 1) == {"before": None, "removed": False}
    assert error_kind(doc, 2) == "error" and "recurse" in doc["results"][2]["error"]["message"]
    _outcome, doc = run(host, [{"op": "reg.remove", "path": base, "recurse": True}])
    assert data(doc) == {"before": {"key": True}, "removed": True}
    _outcome, doc = run(host, [{"op": "reg.remove", "path": base, "expect": None}], raw=True)
    assert error_kind(doc, 0) == "invalid_request"


# ---- certificate ops ------------------------------------------------------------------------


def test_cert_list_and_property_9_get_set_clear(host: LabHost) -> None:
    cert = host.state.cert_stores["My"][0]
    _outcome, doc = run(host, [{"op": "cert.list"}], journal_id=None)
    (entry,) = data(doc)
    assert entry["thumbprint"] == cert.thumbprint
    assert base64.b64decode(entry["der"]) == cert.der
    assert entry["has_private_key"] and entry["key_spec"] == 1 and entry["prop9"] is None
    assert entry["key_provider"] == "Microsoft RSA SChannel Cryptographic Provider"

    client_only = base64.b64encode(bytes.fromhex("300a06082b06010505070302")).decode()
    thumb = cert.thumbprint.lower()
    ops = [
        {"op": "cert.prop.set", "thumbprint": thumb, "prop_id": 9, "data": client_only, "expect": None},
        {"op": "cert.prop.get", "thumbprint": thumb, "prop_id": 9},
        {"op": "cert.prop.get", "thumbprint": thumb, "prop_id": 3},
    ]
    _outcome, doc = run(host, ops)
    assert data(doc, 0) == {"before": None, "after": client_only}
    assert data(doc, 1) == {"present": True, "data": client_only}
    assert base64.b64decode(data(doc, 2)["data"]).hex().upper() == cert.thumbprint
    _outcome, doc = run(host, [{"op": "cert.prop.clear", "thumbprint": thumb, "prop_id": 9, "expect": None}])
    assert error_kind(doc, 0) == "conflict"
    _outcome, doc = run(
        host, [{"op": "cert.prop.clear", "thumbprint": thumb, "prop_id": 9, "expect": {"data": client_only}}]
    )
    assert data(doc) == {"before": client_only, "removed": True}
    _outcome, doc = run(
        host,
        [
            {"op": "cert.prop.get", "thumbprint": "00" * 20, "prop_id": 9},
            {"op": "cert.prop.get", "thumbprint": "xyz", "prop_id": 9},
            {"op": "cert.list", "store": "NoSuchStore"},
        ],
        journal_id=None,
    )
    assert [error_kind(doc, i) for i in range(3)] == ["not_found", "invalid_request", "not_found"]


# ---- services and the SQL start sequence ------------------------------------------------------


def test_svc_query_prefixes_find_services_the_batch_cannot_name(host: LabHost) -> None:
    query = {"op": "svc.query", "names": ["MSSQLSERVER"], "prefixes": ["sqlserver", "mssql"]}
    _outcome, doc = run(host, [query], journal_id=None)
    # literal names first; prefix matches are case-insensitive, sorted, and not repeated
    assert [entry["name"] for entry in data(doc)] == ["MSSQLSERVER", "SQLSERVERAGENT"]


def test_svc_query_and_restart_with_dependents(host: LabHost) -> None:
    _outcome, doc = run(host, [{"op": "svc.query", "names": ["mssqlserver", "NoSuch"]}], journal_id=None)
    assert data(doc) == [
        {
            "name": "MSSQLSERVER",
            "exists": True,
            "display_name": "SQL Server (MSSQLSERVER)",
            "state": "Running",
            "start_mode": "Automatic",
            "dependents": ["SQLSERVERAGENT"],
        },
        {
            "name": "NoSuch",
            "exists": False,
            "display_name": None,
            "state": None,
            "start_mode": None,
            "dependents": [],
        },
    ]
    _outcome, doc = run(host, [{"op": "svc.restart", "name": "MSSQLSERVER", "with_dependents": False}])
    assert error_kind(doc, 0) == "error" and "dependent services" in doc["results"][0]["error"]["message"]
    _outcome, doc = run(host, [{"op": "svc.restart", "name": "MSSQLSERVER"}])
    assert data(doc) == {
        "stopped": ["SQLSERVERAGENT", "MSSQLSERVER"],
        "started": ["MSSQLSERVER", "SQLSERVERAGENT"],
        "state": "Running",
    }
    _outcome, doc = run(host, [{"op": "svc.restart", "name": "NoSuch"}])
    assert error_kind(doc, 0) == "not_found"


def test_binding_a_certificate_and_restarting_sql_loads_it(tmp_path, keys) -> None:
    doc = base_profile()
    doc["certificates"].append(
        {"name": "next", "subject_cn": "t1.lab.example.com", "signature_hash": "sha512"}
    )
    h = make_host(doc, tmp_path, keys)
    new = next(c for c in h.state.cert_stores["My"] if c.name == "next")
    ops = [
        {
            "op": "reg.write",
            "path": NETLIB,
            "name": "Certificate",
            "type": "REG_SZ",
            "value": {"data": new.thumbprint.lower()},
        }
    ]
    run(h, ops)
    assert sqlserver.loaded_certificate(h.state, "MSSQLSERVER").thumbprint != new.thumbprint
    run(h, [{"op": "svc.restart", "name": "MSSQLSERVER"}])
    assert sqlserver.loaded_certificate(h.state, "MSSQLSERVER").thumbprint == new.thumbprint
    tail = {
        "op": "file.tail",
        "path_from": {"key": f"{SQL}\\*\\MSSQLServer\\Parameters", "value_regex": "^-e(.+)$"},
        "pattern": "loaded for encryption",
        "max_lines": 5,
    }
    _outcome, out = run(h, [tail], journal_id=None)
    (log,) = data(out)
    assert log["lines"][-1].endswith(
        f'[Cert Hash(sha1) "{new.thumbprint}"] was successfully loaded for encryption.'
    )
    assert log["source_key"] == f"{SQL}\\MSSQL15.MSSQLSERVER\\MSSQLServer\\Parameters"


# ---- files, suites, OS, events, journal ----------------------------------------------------------


def test_file_version_with_path_from_and_env_expansion(host: LabHost) -> None:
    ops = [
        {
            "op": "file.version",
            "paths": ["%SystemRoot%\\system32\\SQLSRV32.dll", "C:\\nope.dll"],
            "path_from": {"key": f"{SQL}\\*\\Setup", "value_name": "SQLBinRoot", "append": "\\sqlservr.exe"},
        }
    ]
    _outcome, doc = run(host, ops, journal_id=None)
    odbc, missing, sqlservr = data(doc)
    assert (
        odbc["path"] == "C:\\Windows\\system32\\SQLSRV32.dll" and odbc["product_version"] == "10.0.17763.6893"
    )
    assert missing == {
        "path": "C:\\nope.dll",
        "exists": False,
        "product_version": None,
        "file_version": None,
        "source_key": None,
    }
    assert sqlservr["product_version"] == "15.0.4395.2" and sqlservr["file_version"] == "2019.1500.4395.02"
    assert sqlservr["source_key"] == f"{SQL}\\MSSQL15.MSSQLSERVER\\Setup"


def test_file_tail_detects_bom_filters_and_reads_suffixes(host: LabHost) -> None:
    host.state.put_file(
        model.FileEntry("C:\\logs\\a.log", text="one\r\ntwo\r\nthree\r\n", encoding="utf-16be")
    )
    host.state.put_file(model.FileEntry("C:\\logs\\a.log.1", text="old\nolder\n", encoding="utf-8-bom"))
    host.state.put_file(model.FileEntry("C:\\logs\\b.log", text="x\ny\n", encoding="utf-8"))
    ops = [
        {"op": "file.tail", "paths": ["C:\\logs\\a.log"], "suffixes": ["", ".1", ".2"], "max_lines": 2},
        {"op": "file.tail", "paths": ["C:\\LOGS\\b.log"], "pattern": "^y$"},
        {"op": "file.tail", "paths": ["C:\\logs\\b.log"], "pattern": "("},
    ]
    _outcome, doc = run(host, ops, journal_id=None)
    a, a1, a2 = data(doc, 0)
    assert (a["encoding"], a["lines"]) == ("utf-16be", ["two", "three"])
    assert (a1["encoding"], a1["lines"]) == ("utf-8-bom", ["old", "older"])
    assert a2 == {
        "path": "C:\\logs\\a.log.2",
        "exists": False,
        "encoding": None,
        "lines": [],
        "source_key": None,
    }
    assert data(doc, 1)[0]["lines"] == ["y"] and data(doc, 1)[0]["encoding"] == "utf-8"
    assert error_kind(doc, 2) == "invalid_request"


def test_errorlog_is_utf16le(host: LabHost) -> None:
    _outcome, doc = run(
        host,
        [
            {
                "op": "file.tail",
                "paths": [host.state.sql_instances[0].errorlog],
                "pattern": "Registry startup parameters",
            }
        ],
        journal_id=None,
    )
    (log,) = data(doc)
    assert log["encoding"] == "utf-16le" and len(log["lines"]) == 1


def test_tls_suites_lists_the_local_list_in_order(host: LabHost) -> None:
    local = ["TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "TLS_DHE_RSA_WITH_AES_128_CBC_SHA"]
    write = {
        "op": "reg.write",
        "type": "REG_MULTI_SZ",
        "value": {"data": local},
        "name": "Functions",
        "path": "HKLM\\SYSTEM\\CurrentControlSet\\Control\\Cryptography\\Configuration\\Local\\SSL\\00010002",
    }
    _outcome, doc = run(host, [write, {"op": "tls.suites"}])
    assert data(doc, 1) == [
        {
            "name": local[0],
            "protocols": [771],
            "cipher": "AES",
            "exchange": "ECDH",
            "hash": "",
            "certificate": "RSA",
        },
        {
            "name": local[1],
            "protocols": [771, 770, 769, 768],
            "cipher": "AES",
            "exchange": "DH",
            "hash": "SHA",
            "certificate": "RSA",
        },
    ]


def test_tls_suites_is_unsupported_before_2016(tmp_path, keys) -> None:
    h = make_host(base_profile(os={"build": 9600, "ubr": 21620}), tmp_path, keys)
    _outcome, doc = run(h, [{"op": "tls.suites"}, {"op": "os.info"}], journal_id=None)
    assert error_kind(doc, 0) == "unsupported"
    assert data(doc, 1)["ps_version"] == "5.1.14409.1005"


def test_event_count_by_id_provider_and_window(tmp_path, keys) -> None:
    events = [
        {"id": 36874, "hours_ago": 2, "count": 3},
        {"id": 36888, "hours_ago": 200},
        {"id": 36874, "provider": "Other", "hours_ago": 1},
    ]
    h = make_host(base_profile(events=events), tmp_path, keys)
    op = {"op": "event.count", "log": "system", "provider": "Schannel", "ids": [36874, 36888, 1]}
    _outcome, doc = run(h, [op, {**op, "since_hours": 300}], journal_id=None)
    assert data(doc, 0)["counts"] == {"36874": 3, "36888": 0, "1": 0}
    assert data(doc, 0)["latest_utc"] == {"36874": "2026-06-01T10:00:00Z", "36888": None, "1": None}
    assert data(doc, 1)["counts"]["36888"] == 1


def test_journal_append_and_read(host: LabHost) -> None:
    ops = [
        {"op": "journal.append", "id": "a-1", "line": '{"x":1}'},
        {"op": "journal.append", "id": "b-2", "line": '{"y":2}'},
    ]
    _outcome, doc = run(host, ops, journal_id=None)
    assert data(doc, 0) == {"id": "a-1", "path": f"{JOURNAL}\\a-1.jsonl"}
    _outcome, doc = run(
        host,
        [
            {"op": "journal.read", "last": 1},
            {"op": "journal.read", "id": "a-1"},
            {"op": "journal.read", "id": "zz"},
            {"op": "journal.append", "id": "bad/id", "line": "{}"},
        ],
        journal_id=None,
    )
    created = "2026-06-01T12:00:00Z"  # the record file's creation time (the lab clock)
    assert data(doc, 0) == {"records": [{"id": "b-2", "created_utc": created, "lines": ['{"y":2}']}]}
    assert data(doc, 1) == {"records": [{"id": "a-1", "created_utc": created, "lines": ['{"x":1}']}]}
    assert error_kind(doc, 2) == "not_found" and error_kind(doc, 3) == "invalid_request"


def test_bad_journal_id_skips_every_op(host: LabHost) -> None:
    outcome, doc = run(host, [{"op": "os.info"}], journal_id="no spaces allowed", raw=True)
    assert outcome.rc == 0 and "journal_error" in doc
    assert error_kind(doc, 0) == "skipped"


# ---- faults, persistence, concurrency ----------------------------------------------------------


def test_drop_after_ops_persists_the_effects_and_drops(host: LabHost) -> None:
    ops = [
        {
            "op": "reg.write",
            "path": "HKLM\\SOFTWARE\\Lab",
            "name": str(i),
            "type": "REG_DWORD",
            "value": {"data": i},
        }
        for i in range(4)
    ]
    outcome, doc = run(host, ops, knobs=Knobs(drop_after_ops=2))
    assert outcome.drop_connection and doc == {} and outcome.ops == ["reg.write", "reg.write"]
    saved = model.load(host.state_path)
    assert set(saved.registry["HKLM"].subkey("SOFTWARE").subkey("Lab").values) == {"0", "1"}
    record = saved.file(f"{JOURNAL}\\rec-1.jsonl")
    assert record.text.splitlines() == [  # no "done" line
        '{"t":"test"}',
        '{"applied":0,"created_keys":["HKLM\\\\SOFTWARE\\\\Lab"]}',
        '{"applied":1}',
    ]


def test_state_survives_a_reload(tmp_path, keys) -> None:
    h = make_host(base_profile(), tmp_path, keys)
    run(
        h,
        [
            {
                "op": "reg.write",
                "path": "HKLM\\SOFTWARE\\Lab",
                "name": "v",
                "type": "REG_SZ",
                "value": {"data": "kept"},
            }
        ],
    )
    again = make_host(base_profile(), tmp_path, keys)
    _outcome, doc = run(again, [{"op": "reg.read", "path": "HKLM\\SOFTWARE\\Lab"}], journal_id=None)
    assert data(doc)["values"]["v"]["data"] == "kept"
    assert again.state.cert_stores["My"][0].thumbprint == h.state.cert_stores["My"][0].thumbprint


def test_concurrent_batches_on_one_host_are_serialised(host: LabHost) -> None:
    def worker(n: int) -> None:
        run(
            host,
            [
                {
                    "op": "reg.write",
                    "path": "HKLM\\SOFTWARE\\Lab",
                    "name": f"w{n}",
                    "type": "REG_DWORD",
                    "value": {"data": n},
                }
            ],
            journal_id=f"rec-{n}",
        )

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    saved = model.load(host.state_path)
    assert len(saved.registry["HKLM"].subkey("SOFTWARE").subkey("Lab").values) == 8
    assert all(journal_lines(host, f"rec-{n}")[-1] == '{"done":true,"stopped_at":null}' for n in range(8))


def test_labhost_reboot_applies_schannel_writes_and_is_saved(host: LabHost) -> None:
    key = f"{S}\\Protocols\\TLS 1.1\\Server"
    ops = [
        {"op": "reg.write", "path": key, "name": "Enabled", "type": "REG_DWORD", "value": {"data": 0}},
        {
            "op": "reg.write",
            "path": key,
            "name": "DisabledByDefault",
            "type": "REG_DWORD",
            "value": {"data": 1},
        },
    ]
    run(host, ops)
    assert schannel.effective_server_protocols(host.state)["TLS 1.1"] is True
    before = host.snapshot()["boot"]["boot_utc"]
    host.reboot()
    assert schannel.effective_server_protocols(host.state)["TLS 1.1"] is False
    saved = model.load(host.state_path)
    assert schannel.effective_server_protocols(saved)["TLS 1.1"] is False
    assert saved.boot.boot_utc == "2026-06-01T12:00:00Z" != before
