"""The lab imitates the Windows behaviours behind issue 8 (agent hardening), op by op.

Each test names the defect it covers; the agent's side of each fix is checked statically in
tests/contract/test_agent_hardening.py.
"""

from __future__ import annotations

import base64

from labtest import LabHost, base_profile, data, error_kind, make_host, run
from winlab import model

SQL = "HKLM\\SOFTWARE\\Microsoft\\Microsoft SQL Server"
NETLIB = f"{SQL}\\MSSQL15.MSSQLSERVER\\MSSQLServer\\SuperSocketNetLib"
ERRORLOG = "C:\\Program Files\\Microsoft SQL Server\\MSSQL15.MSSQLSERVER\\MSSQL\\Log\\ERRORLOG"
CRYPT_E_NOT_FOUND = 0x80092004


def _unbound_cert_profile() -> dict:
    doc = base_profile()
    doc["sql_instances"][0].pop("certificate")
    doc["sql_instances"][0]["certificate_thumbprint"] = "ab" * 20
    return doc


# ---- 2. a service that stops while starting ------------------------------------------------------


def test_svc_restart_reports_a_start_failure_with_exit_codes_and_what_is_down(tmp_path, keys) -> None:
    doc = base_profile()
    h = make_host(doc, tmp_path, keys)
    bind = {
        "op": "reg.write",
        "path": NETLIB,
        "name": "Certificate",
        "type": "REG_SZ",
        "value": {"data": "ab" * 20},
    }
    _outcome, out = run(h, [bind, {"op": "svc.restart", "name": "MSSQLSERVER"}])
    error = out["results"][1]["error"]
    assert error["kind"] == "error"
    assert "MSSQLSERVER" in error["message"] and "1066" in error["message"]
    assert error["detail"] == {
        "state": "Stopped",
        "exit_code": 1066,
        "service_specific_exit_code": CRYPT_E_NOT_FOUND,
        "stopped": ["SQLSERVERAGENT", "MSSQLSERVER"],
        "started": [],
    }
    engine = h.state.service("MSSQLSERVER")
    # StartPending first, then Stopped: not an instant error.
    assert engine.last_start_states == ["StartPending", "Stopped"]
    # The ERRORLOG of the failed start says why (sqlserver-tls.md section 3).
    _outcome, out = run(
        h, [{"op": "file.tail", "paths": [ERRORLOG], "pattern": "Error: (26014|17182)"}], None
    )
    assert [line.split("Server")[-1].strip() for line in data(out)[0]["lines"]] == [
        "Error: 26014, Severity: 16, State: 1.",
        "Error: 17182, Severity: 16, State: 1.",
    ]


def test_svc_start_failure_has_the_same_detail(tmp_path, keys) -> None:
    h = make_host(_unbound_cert_profile(), tmp_path, keys)
    assert h.state.service("MSSQLSERVER").state == "Stopped"  # failed at boot
    _outcome, out = run(h, [{"op": "svc.start", "name": "SQLSERVERAGENT"}])
    error = out["results"][0]["error"]
    assert error["kind"] == "error"
    # The agent's dependency did not start: its own start fails (error 1068).
    assert "MSSQLSERVER" in error["message"]
    _outcome, out = run(h, [{"op": "svc.start", "name": "MSSQLSERVER"}])
    assert out["results"][0]["error"]["detail"] == {
        "state": "Stopped",
        "exit_code": 1066,
        "service_specific_exit_code": CRYPT_E_NOT_FOUND,
    }


# ---- 4. dependents in odd states -----------------------------------------------------------------


def test_a_start_pending_dependent_is_stopped_and_started_again(tmp_path, keys) -> None:
    h = make_host(base_profile(service_states={"SQLSERVERAGENT": "StartPending"}), tmp_path, keys)
    _outcome, out = run(h, [{"op": "svc.restart", "name": "MSSQLSERVER"}])
    assert data(out) == {
        "stopped": ["SQLSERVERAGENT", "MSSQLSERVER"],
        "started": ["MSSQLSERVER", "SQLSERVERAGENT"],
        "state": "Running",
    }
    assert h.state.service("SQLSERVERAGENT").state == "Running"


def test_a_paused_dependent_refuses_the_restart_before_anything_stops(tmp_path, keys) -> None:
    h = make_host(base_profile(service_states={"SQLSERVERAGENT": "Paused"}), tmp_path, keys)
    _outcome, out = run(h, [{"op": "svc.restart", "name": "MSSQLSERVER"}])
    assert error_kind(out, 0) == "error"
    assert "SQLSERVERAGENT (Paused)" in out["results"][0]["error"]["message"]
    assert h.state.service("MSSQLSERVER").state == "Running"
    assert h.state.service("SQLSERVERAGENT").state == "Paused"


def test_a_stopping_dependent_stays_stopped(tmp_path, keys) -> None:
    h = make_host(base_profile(service_states={"SQLSERVERAGENT": "StopPending"}), tmp_path, keys)
    _outcome, out = run(h, [{"op": "svc.restart", "name": "MSSQLSERVER", "with_dependents": False}])
    assert data(out)["stopped"] == ["MSSQLSERVER"] and data(out)["started"] == ["MSSQLSERVER"]
    assert h.state.service("SQLSERVERAGENT").state == "Stopped"


# ---- 5. writes below a read-only ancestor --------------------------------------------------------


def test_a_read_only_ancestor_does_not_refuse_a_write_below_it(tmp_path, keys) -> None:
    schannel = "HKLM\\SYSTEM\\CurrentControlSet\\Control\\SecurityProviders\\SCHANNEL"
    h = make_host(base_profile(read_only_keys=[schannel]), tmp_path, keys)
    protocols = f"{schannel}\\Protocols"
    ops = [
        # Protocols exists and is writable: a value there, and a new subkey under it.
        {"op": "reg.write", "path": protocols, "name": "x", "type": "REG_DWORD", "value": {"data": 1}},
        {"op": "reg.create", "path": f"{protocols}\\TLS 1.2\\Server"},
    ]
    _outcome, out = run(h, ops)
    assert data(out, 0)["created_keys"] == []
    assert data(out, 1)["created_keys"] == [f"{protocols}\\TLS 1.2", f"{protocols}\\TLS 1.2\\Server"]
    # Creating a key in the read-only key itself, or changing its values, is refused.
    for op in (
        {"op": "reg.create", "path": f"{schannel}\\Ciphers\\NULL"},
        {
            "op": "reg.write",
            "path": schannel,
            "name": "EventLogging",
            "type": "REG_DWORD",
            "value": {"data": 1},
        },
    ):
        _outcome, out = run(h, [op])
        assert error_kind(out, 0) == "access_denied"


# ---- 6. one unreadable item fails its entry only -------------------------------------------------


def test_a_denied_subkey_is_a_per_entry_error_of_reg_read(tmp_path, keys) -> None:
    denied = f"{SQL}\\MSSQL15.MSSQLSERVER\\MSSQLServer\\HADR"
    h = make_host(base_profile(denied_keys=[denied]), tmp_path, keys)
    _outcome, out = run(h, [{"op": "reg.read", "path": f"{SQL}\\MSSQL15.MSSQLSERVER", "depth": 3}], None)
    server = data(out)["subkeys"]["MSSQLServer"]
    assert server["subkeys"]["HADR"] is None
    assert server["errors"] == {
        "HADR": {"kind": "access_denied", "message": "Requested registry access is not allowed."}
    }
    assert (
        server["subkeys"]["SuperSocketNetLib"]["values"]["ForceEncryption"]["data"] == 0
    )  # the rest is read
    assert "errors" not in data(out)  # only the node where something failed carries errors
    _outcome, out = run(h, [{"op": "reg.read", "path": denied}, {"op": "os.info"}], None)
    assert error_kind(out, 0) == "access_denied" and out["results"][1]["ok"]


def test_a_denied_key_in_a_star_expansion_fails_its_entry_only(tmp_path, keys) -> None:
    doc = base_profile()
    doc["sql_instances"].append(
        {"name": "PAYROLL", "id": "MSSQL15.PAYROLL", "version": "15.0.4395.2", "port": 14331}
    )
    doc["denied_keys"] = [f"{SQL}\\MSSQL15.PAYROLL"]
    h = make_host(doc, tmp_path, keys)
    op = {
        "op": "file.version",
        "path_from": {"key": f"{SQL}\\*\\Setup", "value_name": "SQLBinRoot", "append": "\\sqlservr.exe"},
    }
    _outcome, out = run(h, [op], None)
    rows = data(out)
    ok = [r for r in rows if "error" not in r]
    failed = [r for r in rows if "error" in r]
    assert [r["source_key"] for r in ok] == [f"{SQL}\\MSSQL15.MSSQLSERVER\\Setup"]
    assert ok[0]["product_version"] == "15.0.4395.2"
    assert failed == [
        {
            "path": None,
            "exists": False,
            "product_version": None,
            "file_version": None,
            "source_key": f"{SQL}\\MSSQL15.PAYROLL",
            "error": {"kind": "access_denied", "message": "Requested registry access is not allowed."},
        }
    ]


def test_a_locked_file_fails_its_entry_only(tmp_path, keys) -> None:
    h = make_host(base_profile(locked_files=[f"{ERRORLOG}.1"]), tmp_path, keys)
    run(h, [{"op": "svc.restart", "name": "MSSQLSERVER"}])  # a second start: ERRORLOG.1 exists
    tail = {
        "op": "file.tail",
        "path_from": {"key": f"{SQL}\\*\\MSSQLServer\\Parameters", "value_regex": "^-e(.+)$"},
        "suffixes": ["", ".1"],
        "pattern": "loaded for encryption",
    }
    version = {"op": "file.version", "paths": [f"{ERRORLOG}.1", "C:\\Windows\\System32\\schannel.dll"]}
    _outcome, out = run(h, [tail, version], None)
    current, previous = data(out, 0)
    assert current["lines"] and "error" not in current
    assert previous["exists"] is True and previous["lines"] == [] and previous["encoding"] is None
    assert previous["error"]["kind"] == "error"
    assert "being used by another process" in previous["error"]["message"]
    locked, schannel = data(out, 1)
    assert locked["error"]["kind"] == "error" and "error" not in schannel


# ---- 7. malformed and untyped registry values ----------------------------------------------------


def test_untyped_values_and_wide_dwords_read_as_reg_unknown(tmp_path, keys) -> None:
    key = "HKLM\\SOFTWARE\\Lab"
    eight = bytes(range(1, 9))
    doc = base_profile(
        registry=[
            {"path": key, "name": "Wide", "type": "REG_DWORD", "raw": base64.b64encode(eight).decode()},
            {
                "path": key,
                "name": "Short",
                "type": "REG_DWORD",
                "raw": base64.b64encode(b"\x05\x00").decode(),
            },
            {"path": key, "name": "Res", "type": "REG_RESOURCE_LIST", "raw": "AQID"},
            {"path": key, "name": "Link", "type": "REG_LINK", "raw": "QQBCAA=="},
            {"path": key, "name": "None", "type": "REG_NONE", "raw": "AA=="},
            {"path": key, "name": "Ok", "type": "REG_DWORD", "data": 7},
        ]
    )
    h = make_host(doc, tmp_path, keys)
    _outcome, out = run(h, [{"op": "reg.read", "path": key}], None)
    assert data(out)["values"] == {
        "Wide": {"type": "REG_UNKNOWN", "data": base64.b64encode(eight).decode()},
        "Short": {"type": "REG_DWORD", "data": 5},
        "Res": {"type": "REG_UNKNOWN", "data": "AQID"},
        "Link": {"type": "REG_UNKNOWN", "data": "QQBCAA=="},
        "None": {"type": "REG_NONE", "data": "AA=="},
        "Ok": {"type": "REG_DWORD", "data": 7},
    }
    # Raw values survive a save and a reload.
    reloaded = model.load(h.state_path)
    assert model.to_json(reloaded)["registry"] == model.to_json(h.state)["registry"]


# ---- 8. key facts from property 2 ----------------------------------------------------------------


def test_cert_list_reports_property_2_and_cert_prop_get_decodes_it(tmp_path, keys) -> None:
    doc = base_profile()
    doc["certificates"].append(
        {"name": "cng", "subject_cn": "t1.lab.example.com", "key": {"type": "ecdsa", "curve": "P-256"}}
    )
    doc["certificates"].append({"name": "nokey", "subject_cn": "other", "private_key": False})
    h = make_host(doc, tmp_path, keys)
    _outcome, out = run(h, [{"op": "cert.list"}], None)
    rsa, cng, nokey = data(out)
    assert (rsa["key_provider"], rsa["key_provider_type"], rsa["key_spec"]) == (
        "Microsoft RSA SChannel Cryptographic Provider",
        12,
        1,
    )
    assert rsa["key_container"] and rsa["key_container"] != cng["key_container"]
    assert (cng["key_provider"], cng["key_provider_type"], cng["key_spec"]) == (
        "Microsoft Software Key Storage Provider",
        0,
        0,
    )
    assert [nokey[k] for k in ("key_provider", "key_provider_type", "key_spec", "key_container")] == [
        None
    ] * 4
    thumb = h.state.cert_stores["My"][0].thumbprint
    _outcome, out = run(h, [{"op": "cert.prop.get", "thumbprint": thumb, "prop_id": 2}], None)
    assert data(out) == {
        "present": True,
        "data": {
            "container": rsa["key_container"],
            "provider": "Microsoft RSA SChannel Cryptographic Provider",
            "provider_type": 12,
            "flags": 0x20,
            "key_spec": 1,
        },
    }


# ---- 10. 32-bit ODBC drivers ---------------------------------------------------------------------


def test_a_32_bit_driver_path_in_system32_reads_the_syswow64_file(tmp_path, keys) -> None:
    driver = {
        "name": "ODBC Driver 17 for SQL Server",
        "dll": "C:\\Windows\\system32\\msodbcsql17.dll",
        "product_version": "17.10.6.1",
        "bits": "32",
    }
    h = make_host(base_profile(drivers={"odbc": [driver]}), tmp_path, keys)
    wow = "HKLM\\SOFTWARE\\WOW6432Node\\ODBC\\ODBCINST.INI"
    ops = [
        {"op": "reg.read", "path": f"{wow}\\ODBC Driver 17 for SQL Server"},
        {"op": "file.version", "path_from": {"key": f"{wow}\\*", "value_name": "Driver"}},
        {"op": "file.version", "paths": ["C:\\Windows\\system32\\msodbcsql17.dll"]},
    ]
    _outcome, out = run(h, ops, None)
    # As a 32-bit installer writes it: the path as a 32-bit process sees it.
    assert data(out, 0)["values"]["Driver"]["data"] == "C:\\Windows\\system32\\msodbcsql17.dll"
    row = next(r for r in data(out, 1) if r["source_key"].endswith("ODBC Driver 17 for SQL Server"))
    assert row["path"].lower() == "c:\\windows\\syswow64\\msodbcsql17.dll"
    assert (row["exists"], row["product_version"]) == (True, "17.10.6.1")
    assert data(out, 2)[0]["exists"] is False  # a plain path is read as given: no 64-bit file


# ---- 11. ordinal ordering ------------------------------------------------------------------------


def test_prefix_matches_sort_ordinally_without_case(tmp_path, keys) -> None:
    doc = base_profile()
    doc["sql_instances"] += [
        {"name": name, "id": f"MSSQL15.{name}", "version": "15.0.4395.2", "port": 14331 + i, "agent": False}
        for i, name in enumerate(["A_B", "AB", "Ab2"])
    ]
    h = make_host(doc, tmp_path, keys)
    _outcome, out = run(h, [{"op": "svc.query", "names": [], "prefixes": ["MSSQL$"]}], None)
    # OrdinalIgnoreCase upper-cases: '_' (0x5F) sorts after the letters, unlike lower-casing.
    assert [e["name"] for e in data(out)] == ["MSSQL$AB", "MSSQL$Ab2", "MSSQL$A_B"]


# ---- 12. several patterns, one read --------------------------------------------------------------


def test_file_tail_patterns_equal_separate_tails(host: LabHost) -> None:
    path = host.state.sql_instances[0].errorlog
    patterns = ["Registry startup parameters|loaded for encryption", "Server is listening|ready"]
    ops = [
        {"op": "file.tail", "paths": [path], "suffixes": ["", ".1"], "patterns": patterns, "max_lines": 3},
        *(
            {"op": "file.tail", "paths": [path], "suffixes": ["", ".1"], "pattern": p, "max_lines": 3}
            for p in patterns
        ),
    ]
    _outcome, out = run(host, ops, None)
    combined, first, second = data(out, 0), data(out, 1), data(out, 2)
    for i, row in enumerate(combined):
        assert row["lines"] == []  # patterns only: no unfiltered lines
        assert row["matches"] == [first[i]["lines"], second[i]["lines"]]
        assert row["encoding"] == first[i]["encoding"]
    assert combined[0]["matches"][0] and combined[0]["matches"][1]
