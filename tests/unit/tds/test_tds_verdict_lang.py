"""The client's view in the operator's language: stable codes and params, texts from the catalogs.

English texts are pinned word for word to what the prober printed before the texts moved to
the catalogs; Japanese texts use the catalog's terms and keep profile names, protocol labels
and suite names as they are.
"""

from __future__ import annotations

import copy
import json
import unicodedata
from typing import Any

import pytest
from ansible_collections.mssql.tls.plugins.plugin_utils.i18n.catalog import CatalogError, catalog
from ansible_collections.mssql.tls.plugins.plugin_utils.tds.compare import change_summary, compare_probes
from ansible_collections.mssql.tls.plugins.plugin_utils.tds.profiles import PROFILES, profile_by_name
from ansible_collections.mssql.tls.plugins.plugin_utils.tds.summary import (
    client_lines,
    summarize,
    summary_lines,
)
from ansible_collections.mssql.tls.plugins.plugin_utils.tds.verdict import (
    VERDICT_CODES,
    WARNING_CODES,
    ServerView,
    evaluate,
    verdict_reason,
    verdict_warnings,
)
from ansible_collections.mssql.tls.plugins.plugin_utils.tds.versions import TlsVersion

TLS10, TLS12 = TlsVersion.TLS10, TlsVersion.TLS12
ECDHE_GCM = 0xC030
ECDHE_CBC384 = 0xC028
DHE_GCM = 0x009F
RSA_CBC = 0x002F
DHE = "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384"
ECDHE = "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"
ECDHE384 = "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384"
RSA = "TLS_RSA_WITH_AES_128_CBC_SHA"

TLS12_ONLY = ServerView("tds", {TLS12: (ECDHE_GCM, RSA_CBC)})
NOTHING = ServerView("tds", {})  # scenario 1 seen from the wire: every hello is reset
DHE_FIRST = ServerView("tds", {TLS12: (DHE_GCM, ECDHE_CBC384)})
ECDHE_GCM_ONLY = ServerView("tds", {TLS12: (ECDHE_GCM,)})
NO_TLS = ServerView("tds", {}, encryption_not_supported=True)

# probe.verdict.no_common_protocol in ja.yml, the article's wording for scenario 1 and error 10054
JA_NO_COMMON_PROTOCOL = (
    "一致する TLS プロトコルがない: "
    "クライアントが提示するのは {client}、"
    "サーバーが受け入れるのは {server}。"
    "サーバーが接続をリセットし、"
    "クライアントはエラー 10054 "
    "(既存の接続がリモート ホストによって強制的に閉じられました) "
    "を報告する"
)


def column(line: str, text: str) -> int:
    """The terminal column where ``text`` starts in ``line`` (CJK characters take two cells)."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in line[: line.index(text)])


def verdict(profile: str, view: ServerView) -> dict[str, Any]:
    return evaluate(profile_by_name(profile), view).to_dict()


# --------------------------------------------------------------- codes and params (machine fields)


@pytest.mark.parametrize(
    ("profile", "view", "code", "params", "warning_codes"),
    [
        ("snac11-unpatched", TLS12_ONLY, "no_common_protocol",
         {"client_protocols": ["TLS 1.0"], "server_protocols": ["TLS 1.2"]}, []),
        ("snac11-unpatched", NOTHING, "no_common_protocol",
         {"client_protocols": ["TLS 1.0"], "server_protocols": []}, []),
        ("windows-2012r2-client", ECDHE_GCM_ONLY, "no_common_suite", {"protocol": "TLS 1.2"}, []),
        ("windows-2012r2-client", DHE_FIRST, "connects",
         {"protocol": "TLS 1.2", "suite": DHE, "preference": "server"},
         ["dhe_without_leading_zero_fix_client"]),
        ("odbc18", DHE_FIRST, "connects",
         {"protocol": "TLS 1.2", "suite": DHE, "preference": "server"}, ["dhe_leading_zero_mismatch"]),
        ("odbc18", NO_TLS, "encryption_required_not_supported", {}, []),
        ("odbc17", NO_TLS, "connects_without_tls", {}, []),
    ],
)  # fmt: skip
def test_every_verdict_carries_a_stable_code_and_plain_params(profile, view, code, params, warning_codes):
    data = verdict(profile, view)

    assert (data["code"], data["params"], data["warning_codes"]) == (code, params, warning_codes)
    assert json.loads(json.dumps(data)) == data  # plain JSON data, no tuples or objects


def test_client_order_is_a_param_not_a_sentence():
    view = ServerView("tds", {TLS12: (DHE_GCM, ECDHE_CBC384)}, client_order=frozenset({TLS12}))
    assert verdict("windows-2012r2-client", view)["params"]["preference"] == "client"


def test_every_code_is_reached_by_some_profile_and_view():
    views = (TLS12_ONLY, NOTHING, DHE_FIRST, ECDHE_GCM_ONLY, NO_TLS)
    seen = {evaluate(p, v).code for p in PROFILES for v in views}
    warned = {w for p in PROFILES for v in views for w in evaluate(p, v).warning_codes}
    assert seen == set(VERDICT_CODES)
    assert warned == set(WARNING_CODES)


# --------------------------------------------------------------- English: the same words as before


@pytest.mark.parametrize(
    ("profile", "view", "reason", "warnings"),
    [
        ("snac11-unpatched", TLS12_ONLY,
         "no common protocol: client offers TLS 1.0, server accepts TLS 1.2; the server resets the "
         "connection, which the client reports as error 10054", []),
        ("snac11-unpatched", NOTHING,
         "no common protocol: client offers TLS 1.0, server accepts nothing; the server resets the "
         "connection, which the client reports as error 10054", []),
        ("windows-2012r2-client", ECDHE_GCM_ONLY,
         "no common cipher suite for TLS 1.2: the server ends the handshake and the client reports "
         "error 10054", []),
        ("windows-2012r2-client", DHE_FIRST, f"connects with TLS 1.2 and {DHE} (server preference)",
         ["TLS_DHE suite chosen and this client OS lacks the DH leading-zero fix (KB4557473): "
          "intermittent 10054 against a fixed server"]),
        ("odbc18", DHE_FIRST, f"connects with TLS 1.2 and {DHE} (server preference)",
         ["TLS_DHE suite chosen: intermittent 10054 when client and server differ in the DH "
          "leading-zero fix (KB4557473)"]),
        ("odbc18", NO_TLS, "server answered ENCRYPT_NOT_SUP and this client requires encryption", []),
        ("odbc17", NO_TLS, "no TLS: server answered ENCRYPT_NOT_SUP, login in clear", []),
    ],
)  # fmt: skip
def test_english_reasons_and_warnings_in_the_result_are_unchanged(profile, view, reason, warnings):
    data = verdict(profile, view)
    assert (data["reason"], data["warnings"]) == (reason, warnings)
    assert (verdict_reason(data), verdict_warnings(data)) == (reason, warnings)
    judged = evaluate(profile_by_name(profile), view)
    assert (judged.reason, list(judged.warnings)) == (reason, warnings)


def endpoint(view: ServerView, *profiles: str, **fields: Any) -> dict[str, Any]:
    result = {
        "schema_version": 1,
        "target": "127.0.0.11:1433",
        "instance": "MSSQLSERVER",
        "mode": "tds",
        "encryption": {"answer_name": "ENCRYPT_OFF", "forced": False},
        "protocols": {label.label: True for label in view.accepted} or {"TLS 1.0": False, "TLS 1.2": False},
        "cipher_suites": {},
        "certificate": {"subject": "CN=s1", "signature_hash": "sha256", "thumbprint_sha1": "AA"},
        "client_verdicts": [verdict(p, view) for p in profiles],
        "errors": [],
    }
    result.update(fields)
    return result


def test_english_client_lines_keep_their_layout():
    result = endpoint(DHE_FIRST, "snac11-unpatched", "windows-2012r2-client")

    assert client_lines([result]) == [
        "127.0.0.11:1433 (MSSQLSERVER) tds:",
        "  snac11-unpatched       FAIL  no common protocol: client offers TLS 1.0, server accepts TLS 1.2; "
        "the server resets the connection, which the client reports as error 10054",
        f"  windows-2012r2-client  OK    connects with TLS 1.2 and {DHE} (server preference)",
        "                               warning: TLS_DHE suite chosen and this client OS lacks the DH "
        "leading-zero fix (KB4557473): intermittent 10054 against a fixed server",
    ]
    assert client_lines([endpoint(NOTHING, client_verdicts=[])]) == [
        "127.0.0.11:1433 (MSSQLSERVER) tds:",
        "  no verdicts: no client judged",
    ]


# --------------------------------------------------------------- Japanese


def test_japanese_client_lines_for_no_common_protocol_use_the_catalog_and_keep_names():
    ja = catalog("ja")
    result = endpoint(NOTHING, "snac11-unpatched", "dotnet45-default")

    header, snac, dotnet = client_lines([result], "ja")

    assert header == "127.0.0.11:1433 (MSSQLSERVER) tds:"
    fail = ja["probe.client.fail"]
    assert fail == "接続不可"
    assert snac == f"  snac11-unpatched  {fail}  " + JA_NO_COMMON_PROTOCOL.format(
        client="TLS 1.0", server="なし"
    )
    assert dotnet == f"  dotnet45-default  {fail}  " + JA_NO_COMMON_PROTOCOL.format(
        client="SSL 3.0, TLS 1.0", server="なし"
    )
    # the stored English reason is untouched
    assert result["client_verdicts"][0]["reason"].startswith("no common protocol: client offers TLS 1.0")


def test_japanese_warnings_and_preference():
    lines = client_lines([endpoint(DHE_FIRST, "windows-2012r2-client", "odbc18")], "ja")

    assert lines[1].endswith(f"TLS 1.2 と {DHE} で接続できる (サーバーの優先順位)")
    assert "接続可" in lines[1]
    assert lines[2].strip().startswith("警告: TLS_DHE 暗号スイートが選択され、")
    assert "先行ゼロの修正 (KB4557473)" in lines[2]
    # the warning starts under the reason, counting a CJK character as two terminal cells
    assert column(lines[2], "警告") == column(lines[1], "TLS 1.2 と")


def test_japanese_summary_table_is_aligned_by_display_width():
    weak = endpoint(DHE_FIRST, "snac11-unpatched", cipher_suites={"TLS 1.2": [DHE, ECDHE384]})
    weak["certificate"] = {"signature_hash": "md5"}
    down = endpoint(NOTHING, target="127.0.0.12:1433", client_verdicts=[])
    down["protocols"] = dict.fromkeys(("TLS 1.0", "TLS 1.2"))
    down["errors"] = [{"stage": "connect", "message": "connection refused"}]

    header, row, unreachable = summary_lines([summarize(weak), summarize(down)], "ja")

    assert header.split() == [
        "エンドポイント", "インスタンス", "モード", "プロトコル", "TLS_DHE", "証明書の拇印アルゴリズム",
        "接続できないクライアント",
    ]  # fmt: skip
    assert row.split("  ")[0] == "127.0.0.11:1433"
    assert " あり " in row and "md5 (弱い)" in row and row.endswith("snac11-unpatched")
    assert "到達不能" in unreachable and unreachable.endswith("[connect] connection refused")

    assert column(header, "TLS_DHE") == column(row, "あり")
    assert column(header, "証明書") == column(row, "md5")


def test_english_summary_table_is_unchanged():
    result = endpoint(TLS12_ONLY, "snac11-unpatched", cipher_suites={"TLS 1.2": [ECDHE, RSA]})
    assert summary_lines([summarize(result)]) == [
        "ENDPOINT         INSTANCE     MODE  PROTOCOLS  DHE  CERT HASH  FAILING CLIENTS",
        "127.0.0.11:1433  MSSQLSERVER  tds   TLS 1.2    no   sha256     snac11-unpatched",
    ]


# --------------------------------------------------------------- before -> after in Japanese


def test_japanese_changes_localize_only_the_text():
    before = endpoint(DHE_FIRST, "windows-2012r2-client", "snac11-unpatched",
                      protocols={"TLS 1.0": True, "TLS 1.2": True},
                      cipher_suites={"TLS 1.0": [RSA], "TLS 1.2": [DHE, ECDHE384]})  # fmt: skip
    before["client_verdicts"][1] = verdict("snac11-unpatched", ServerView("tds", {TLS10: (RSA_CBC,)}))
    after_view = ServerView("tds", {TLS12: (ECDHE_CBC384,)})
    after = endpoint(after_view, "windows-2012r2-client", "snac11-unpatched",
                     protocols={"TLS 1.0": False, "TLS 1.2": True},
                     cipher_suites={"TLS 1.2": [ECDHE384]},
                     encryption={"answer_name": "ENCRYPT_REQ", "forced": True})  # fmt: skip

    en, ja = compare_probes(before, after), compare_probes(before, after, "ja")

    machine = ("kind", "item", "before", "after", "regression", "added", "removed")
    assert [{k: c.get(k) for k in machine} for c in ja] == [{k: c.get(k) for k in machine} for c in en]
    texts = [c["text"] for c in ja]
    assert texts == [
        "127.0.0.11:1433 tds TLS 1.0: 受け入れる -> 拒否する",
        f"127.0.0.11:1433 tds TLS 1.2: 削除された暗号スイート: {DHE}",
        "127.0.0.11:1433 tds TLS 1.0: 削除された暗号スイート: TLS_RSA_WITH_AES_128_CBC_SHA",
        "127.0.0.11:1433 tds: 暗号化 強制なし -> 強制",
        f"127.0.0.11:1433 tds windows-2012r2-client: TLS 1.2 と {DHE} で接続できる -> "
        f"TLS 1.2 と {ECDHE384} で接続できる",
        f"127.0.0.11:1433 tds snac11-unpatched: TLS 1.0 と {RSA} で接続できる -> 接続できない "
        f"({JA_NO_COMMON_PROTOCOL.format(client='TLS 1.0', server='TLS 1.2')})",
    ]
    assert [c["regression"] for c in ja] == [False, False, False, False, False, True]
    assert en[-1]["text"] == (
        f"127.0.0.11:1433 tds snac11-unpatched: connects with TLS 1.0 and {RSA} -> fails (no common "
        "protocol: client offers TLS 1.0, server accepts TLS 1.2; the server resets the connection, "
        "which the client reports as error 10054)"
    )
    assert change_summary(ja, "ja") == "クライアントから見える変更 6 件、うち後退 1 件"
    assert change_summary([], "ja") == "クライアントから見える変更はありません"
    assert change_summary([]) == "no change visible to clients"


def test_reachability_and_endpoint_changes_in_japanese():
    up = endpoint(TLS12_ONLY, "odbc18")
    down = copy.deepcopy(up)
    down["protocols"] = dict.fromkeys(up["protocols"])
    assert [c["text"] for c in compare_probes(up, down, "ja")] == [
        "127.0.0.11:1433 tds: 到達可能 -> 到達不能"
    ]
    moved = endpoint(TLS12_ONLY, "odbc18", target="127.0.0.13:1433")
    assert [c["text"] for c in compare_probes(up, moved, "ja")] == [
        "127.0.0.13:1433 tds: 新たにプローブの対象になった",
        "127.0.0.11:1433 tds: プローブの対象から外れた",
    ]


def test_a_baseline_stored_before_codes_existed_keeps_its_english_reason():
    old = endpoint(TLS12_ONLY, "odbc18")
    old["client_verdicts"] = [
        {"profile": "odbc18", "connects": False, "protocol": None, "suite": None,
         "reason": "no common protocol: stored text", "warnings": ["stored warning"]}
    ]  # fmt: skip
    new = endpoint(TLS12_ONLY, "odbc18")

    (change,) = compare_probes(old, new, "ja")

    assert change["text"].endswith(
        f"接続できない (no common protocol: stored text) -> TLS 1.2 と {ECDHE} で接続できる"
    )
    assert verdict_warnings(old["client_verdicts"][0], "ja") == ["stored warning"]
    # a stored code whose params do not fit its text falls back the same way
    damaged = {**verdict("odbc18", TLS12_ONLY), "params": {}, "reason": "stored"}
    assert verdict_reason(damaged, "ja") == "stored"


def test_an_unknown_language_is_refused():
    result = endpoint(TLS12_ONLY, "odbc18")
    for call in (
        lambda: client_lines([result], "de"),
        lambda: summary_lines([summarize(result)], "de"),
        lambda: compare_probes(result, result, "de"),
        lambda: verdict_reason(result["client_verdicts"][0], "de"),
    ):
        with pytest.raises(CatalogError, match="unknown language 'de'"):
            call()
