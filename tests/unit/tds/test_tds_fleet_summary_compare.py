"""The pure functions behind tds_probe and the verify role: targets, summaries, before -> after.

No network and no Ansible. These belong with the prober's unit tests
(tests/unit/tds/); they sit here only because that folder has another owner.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from ansible_collections.mssql.tls.plugins.plugin_utils.tds.compare import compare_probes, probe_results_of
from ansible_collections.mssql.tls.plugins.plugin_utils.tds.errors import ProbeInputError
from ansible_collections.mssql.tls.plugins.plugin_utils.tds.fleet import (
    profiles_by_path,
    targets_from_instances,
    targets_from_option,
)
from ansible_collections.mssql.tls.plugins.plugin_utils.tds.summary import summarize, summary_lines

DHE = "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384"
ECDHE = "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"
RSA = "TLS_RSA_WITH_AES_128_CBC_SHA"
NOT_APPLICABLE = "not applicable to TDS 7.x"


def probe_result(**changes: Any) -> dict[str, Any]:
    """A TDS 7.x result of a 2019 host with DHE listed and TLS 1.0 still on (docs/prober.md schema)."""
    result: dict[str, Any] = {
        "schema_version": 1,
        "target": "10.0.0.5:1433",
        "instance": "MSSQLSERVER",
        "mode": "tds",
        "encryption": {"answer_name": "ENCRYPT_OFF", "forced": False},
        "protocols": {"SSL 3.0": False, "TLS 1.0": True, "TLS 1.2": True, "TLS 1.3": NOT_APPLICABLE},
        "cipher_suites": {"TLS 1.0": [RSA], "TLS 1.2": [ECDHE, DHE, RSA]},
        "certificate": {"subject": "CN=sql01", "signature_hash": "sha256", "thumbprint_sha1": "AA"},
        "client_verdicts": [
            {"profile": "snac11-unpatched", "connects": True, "protocol": "TLS 1.0", "suite": RSA,
             "reason": "connects", "warnings": []},
            {"profile": "odbc18", "connects": True, "protocol": "TLS 1.2", "suite": ECDHE,
             "reason": "connects", "warnings": []},
        ],
        "errors": [],
    }  # fmt: skip
    result.update(changes)
    return result


# ------------------------------------------------------------------ targets


def test_option_targets_accept_strings_and_mappings_in_order() -> None:
    targets = targets_from_option(
        ["sql01", "sql02:14331", {"host": "10.0.0.5", "port": 1500, "name": "REPORTS"}]
    )
    assert [(str(t.endpoint), t.instance) for t in targets] == [
        ("sql01:1433", None),
        ("sql02:14331", None),
        ("10.0.0.5:1500", "REPORTS"),
    ]


@pytest.mark.parametrize(
    ("items", "field"),
    [
        ([], "targets"),
        ("sql01:1433", "targets"),
        (["sql01", 1433], "targets[1]"),
        (["sql01:port"], "targets[0]"),
        ([{"port": 1433}], "targets[0].host"),
        ([{"host": "sql01", "port": True}], "targets[0].port"),
        ([{"host": "sql01", "port": 0}], "targets[0].port"),
        ([{"host": "sql01", "name": ""}], "targets[0].name"),
        ([{"host": "sql01", "instance": "X"}], "targets[0].instance"),
    ],
)
def test_bad_option_targets_name_the_field(items: Any, field: str) -> None:
    with pytest.raises(ProbeInputError) as error:
        targets_from_option(items)
    assert error.value.field == field


def test_inventory_instances_use_the_host_address_unless_an_item_names_its_own() -> None:
    instances = [{"name": "MSSQLSERVER", "port": 1433}, {"name": "FCI", "port": "1433", "host": "sqlfci01"}]
    targets = targets_from_instances(instances, "10.0.0.5")
    assert [(str(t.endpoint), t.instance) for t in targets] == [
        ("10.0.0.5:1433", "MSSQLSERVER"),
        ("sqlfci01:1433", "FCI"),
    ]


def test_inventory_instances_errors_name_the_host_var() -> None:
    with pytest.raises(ProbeInputError) as error:
        targets_from_instances([{"name": "A", "port": 1433}, {"name": "B", "port": "x"}], "10.0.0.5")
    assert error.value.field == "mssql_tls_instances[1].port"
    with pytest.raises(ProbeInputError) as error:
        targets_from_instances({"name": "A"}, "10.0.0.5")
    assert error.value.field == "mssql_tls_instances"
    assert targets_from_instances([], "10.0.0.5") == []


def test_profiles_are_judged_on_the_path_their_driver_uses() -> None:
    assert profiles_by_path("both", None) == {"tds": None, "strict": None}
    assert profiles_by_path("both", ["odbc18", "odbc18-strict"]) == {
        "tds": ("odbc18",),
        "strict": ("odbc18-strict",),
    }
    assert profiles_by_path("tls", ["odbc18-strict"]) == {"tls": ("odbc18-strict",)}
    assert profiles_by_path("tds", []) == {"tds": ()}
    with pytest.raises(ProbeInputError, match="use mode=strict or both to judge odbc18-strict"):
        profiles_by_path("tds", ["odbc18-strict"])
    with pytest.raises(ProbeInputError) as error:
        profiles_by_path("tds", ["odbc99"])
    assert error.value.field == "profiles[0]"
    with pytest.raises(ProbeInputError) as error:
        profiles_by_path("tds8", None)
    assert error.value.field == "mode"


# ------------------------------------------------------------------ summary


def test_summary_flags_dhe_weak_hash_and_failing_clients() -> None:
    result = probe_result(certificate={"signature_hash": "sha512", "thumbprint_sha1": "BB"})
    result["client_verdicts"][1] = {**result["client_verdicts"][1], "connects": False}

    summary = summarize(result)

    assert summary["reachable"] is True
    assert summary["protocols"] == ["TLS 1.0", "TLS 1.2"]
    assert (summary["dhe_accepted"], summary["dhe_suites"]) == (True, [DHE])
    assert (summary["certificate_hash"], summary["weak_hash_certificate"]) == ("sha512", True)
    assert summary["failing_profiles"] == ["odbc18"]
    assert summary["connecting_profiles"] == ["snac11-unpatched"]
    assert summary["encryption_forced"] is False


@pytest.mark.parametrize(
    ("signature_hash", "weak"), [("md5", True), ("sha224", True), ("sha1", False), (None, False)]
)
def test_only_the_articles_hashes_are_scenario4(signature_hash: str | None, weak: bool) -> None:
    assert (
        summarize(probe_result(certificate={"signature_hash": signature_hash}))["weak_hash_certificate"]
        is weak
    )


def test_unknown_suite_ids_are_listed_but_not_called_dhe() -> None:
    assert summarize(probe_result(cipher_suites={"TLS 1.2": ["0xFFAA", ECDHE]}))["dhe_accepted"] is False


def test_summary_lines_align_columns_and_show_unreachable_endpoints() -> None:
    down = probe_result(
        target="10.0.0.6:1433",
        protocols=dict.fromkeys(("SSL 3.0", "TLS 1.2")),
        cipher_suites={},
        certificate=None,
        client_verdicts=[],
        errors=[{"stage": "connect", "message": "connection refused"}],
    )
    lines = summary_lines([summarize(probe_result()), summarize(down)])

    assert lines[0].split() == [
        "ENDPOINT",
        "INSTANCE",
        "MODE",
        "PROTOCOLS",
        "DHE",
        "CERT",
        "HASH",
        "FAILING",
        "CLIENTS",
    ]
    assert lines[1].split("  ")[0] == "10.0.0.5:1433"
    assert "TLS 1.0, TLS 1.2" in lines[1] and " yes " in lines[1] and lines[1].endswith("none")
    assert "unreachable" in lines[2] and lines[2].endswith("[connect] connection refused")
    assert lines[0].index("DHE") == lines[1].index("yes")


# ------------------------------------------------------------------ before -> after


def test_identical_probes_have_no_changes() -> None:
    assert compare_probes([probe_result()], {"endpoints": [probe_result(handshakes=99)]}) == []


def test_stripping_dhe_shows_the_removed_suites_and_the_clients_that_move() -> None:
    before = probe_result()
    before["client_verdicts"].append(
        {"profile": "windows-2012r2-client", "connects": True, "protocol": "TLS 1.2", "suite": DHE,
         "reason": "connects", "warnings": ["KB4557473"]}
    )  # fmt: skip
    after = copy.deepcopy(before)
    after["cipher_suites"]["TLS 1.2"] = [ECDHE, RSA]
    after["client_verdicts"][2].update(suite=RSA, warnings=[])

    changes = compare_probes(before, after)

    assert [(c["kind"], c["item"], c["regression"]) for c in changes] == [
        ("cipher_suites", "TLS 1.2", False),
        ("client", "windows-2012r2-client", False),
    ]
    assert changes[0]["removed"] == [DHE] and changes[0]["added"] == []
    assert changes[0]["text"] == f"10.0.0.5:1433 tds TLS 1.2: suites removed: {DHE}"
    assert changes[1]["text"] == (
        f"10.0.0.5:1433 tds windows-2012r2-client: connects with TLS 1.2 and {DHE} -> "
        f"connects with TLS 1.2 and {RSA}"
    )


def test_disabling_tls10_is_a_regression_for_the_client_that_needed_it() -> None:
    after = probe_result(
        protocols={
            "SSL 3.0": False,
            "TLS 1.0": False,
            "TLS 1.2": True,
            "TLS 1.3": "not applicable to TDS 7.x",
        },
        cipher_suites={"TLS 1.2": [ECDHE, DHE, RSA]},
    )
    after["client_verdicts"][0] = {
        "profile": "snac11-unpatched", "connects": False, "protocol": None, "suite": None,
        "reason": "no common protocol", "warnings": [],
    }  # fmt: skip

    changes = compare_probes(probe_result(), after)

    assert [(c["kind"], c["item"], c["before"], c["after"], c["regression"]) for c in changes] == [
        ("protocol", "TLS 1.0", True, False, False),
        ("cipher_suites", "TLS 1.0", [RSA], [], False),
        ("client", "snac11-unpatched", {"connects": True, "protocol": "TLS 1.0", "suite": RSA},
         {"connects": False, "protocol": None, "suite": None}, True),
    ]  # fmt: skip
    assert changes[0]["text"] == "10.0.0.5:1433 tds TLS 1.0: accepted -> refused"
    assert changes[2]["text"].endswith("-> fails (no common protocol)")


def test_certificate_encryption_and_order_changes() -> None:
    after = probe_result(
        certificate={"subject": "CN=sql01", "signature_hash": "sha256", "thumbprint_sha1": "CC"},
        encryption={"answer_name": "ENCRYPT_REQ", "forced": True},
        cipher_suites={"TLS 1.0": [RSA], "TLS 1.2": [DHE, ECDHE, RSA]},
    )
    changes = {c["kind"]: c for c in compare_probes(probe_result(), after)}

    assert changes["cipher_suites"]["text"].endswith("TLS 1.2: suite order changed")
    assert changes["certificate"]["text"].endswith(
        "certificate CN=sql01 (sha256, AA) -> CN=sql01 (sha256, CC)"
    )
    assert (changes["encryption_forced"]["before"], changes["encryption_forced"]["after"]) == (False, True)


def test_an_endpoint_that_stops_answering_is_one_regression_not_a_list_of_unknowns() -> None:
    down = probe_result(protocols=dict.fromkeys(("SSL 3.0", "TLS 1.0", "TLS 1.2")), cipher_suites={})
    changes = compare_probes(probe_result(), down)
    assert [(c["kind"], c["regression"], c["text"]) for c in changes] == [
        ("reachable", True, "10.0.0.5:1433 tds: reachable -> unreachable")
    ]
    assert compare_probes(down, down) == []


def test_endpoints_match_by_target_and_mode() -> None:
    strict = probe_result(mode="strict", client_verdicts=[])
    changes = compare_probes([probe_result(), strict], [probe_result(target="10.0.0.7:1433")])
    assert [(c["target"], c["mode"], c["before"], c["after"]) for c in changes] == [
        ("10.0.0.7:1433", "tds", "absent", "probed"),
        ("10.0.0.5:1433", "tds", "probed", "absent"),
        ("10.0.0.5:1433", "strict", "probed", "absent"),
    ]


def test_baseline_forms_and_errors() -> None:
    one = probe_result()
    assert probe_results_of(one) == [one]
    assert probe_results_of([one]) == [one]
    assert probe_results_of({"changed": False, "endpoints": [one]}) == [one]
    assert probe_results_of({"endpoints": []}) == []
    for bad, field in (
        ("yesterday", "baseline"),
        ({"msg": "x"}, "baseline"),
        ([{"target": "x"}], "baseline[0]"),
    ):
        with pytest.raises(ProbeInputError) as error:
            probe_results_of(bad)
        assert error.value.field == field


def test_an_instance_name_with_newlines_or_thousands_of_characters_keeps_the_table_one_line_per_row():
    from ansible_collections.mssql.tls.plugins.plugin_utils.tds.summary import summary_lines

    row = {
        "target": "10.0.0.5:1433",
        "instance": "A\nB" + "x" * 5000,
        "mode": "tds",
        "reachable": True,
        "protocols": ["TLS 1.2"],
        "dhe_accepted": False,
        "certificate_hash": "sha256",
        "weak_hash_certificate": False,
        "failing_profiles": [],
        "errors": [],
    }
    lines = summary_lines([row])
    assert len(lines) == 2 and "\n" not in lines[1] and len(lines[1]) < 200
    assert lines[1].split()[1] == "A" and "B" + "x" * 10 in lines[1]
