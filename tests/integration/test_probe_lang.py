"""playbooks/probe.yml in Japanese (mssql_tls_report_lang=ja) against the lab, in check mode.

The words come from ja.yml; profile names, protocol labels, suite names and the
machine fields stay as they are. Expected values come from the lab profiles' comments:
s1 (SQL Server 2014 without TLS 1.2 on a TLS 1.2-only OS) accepts nothing, so every
client is reset (scenario 1, error 10054); s3 (Server 2019 defaults) accepts TLS_DHE.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from .ansible_run import run_playbook
from .test_probe_cli import lab_endpoint, probe_json
from .test_probe_playbook import PROBE_PLAYBOOK, task_messages

# probe.verdict.no_common_protocol (ja.yml): a TLS 1.0-only client, an endpoint that accepts nothing
JA_RESET_TLS10 = (
    "一致する TLS プロトコルがない: "
    "クライアントが提示するのは TLS 1.0、"
    "サーバーが受け入れるのは なし。"
    "サーバーが接続をリセットし、"
    "クライアントはエラー 10054 "
    "(既存の接続がリモート ホストによって強制的に閉じられました) "
    "を報告する"
)
JA_COLUMNS = [
    "エンドポイント",
    "インスタンス",
    "モード",
    "プロトコル",
    "TLS_DHE",
    "証明書の拇印アルゴリズム",
    "接続できないクライアント",
]
DHE256 = "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384"


def cells(line: str) -> list[str]:
    """The cells of a summary_lines row (columns are separated by at least two spaces)."""
    return re.split(r" {2,}", line.strip())


def profile_line(lines: list[str], profile: str) -> str:
    return next(line for line in lines if line.startswith(f"  {profile} "))


def test_probe_playbook_prints_the_clients_view_in_japanese(make_lab) -> None:
    lab = make_lab("s1", "s3")
    lab.reset_stats()

    proc, recap = run_playbook(lab.inventory, PROBE_PLAYBOOK, "--check", "-e", "mssql_tls_report_lang=ja")

    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    for host in ("s1", "s3"):
        assert recap[host] == {"ok": 4, "changed": 0, "unreachable": 0, "failed": 0, "skipped": 3}, host
        assert lab.stats()[host]["commands"] == 0, host

    tables = task_messages(proc.stdout, "Show each endpoint")
    s1_header, s1_row = tables["s1"]
    s3_header, s3_row = tables["s3"]
    assert cells(s1_header) == cells(s3_header) == JA_COLUMNS
    s1 = dict(zip(JA_COLUMNS, cells(s1_row), strict=True))
    s3 = dict(zip(JA_COLUMNS, cells(s3_row), strict=True))
    assert (s1["エンドポイント"], s1["インスタンス"], s1["モード"]) == (
        lab_endpoint(lab, "s1"),
        "MSSQLSERVER",
        "tds",
    )
    assert (s1["プロトコル"], s1["TLS_DHE"]) == ("なし", "なし")
    assert "snac11-unpatched" in s1["接続できないクライアント"]
    assert (s3["プロトコル"], s3["TLS_DHE"], s3["証明書の拇印アルゴリズム"]) == ("TLS 1.2", "あり", "sha256")

    clients = task_messages(proc.stdout, "Show what each client profile sees")
    assert clients["s1"][0] == f"{lab_endpoint(lab, 's1')} (MSSQLSERVER) tds:"
    snac = profile_line(clients["s1"], "snac11-unpatched")
    assert re.fullmatch(rf"  snac11-unpatched +接続不可  {re.escape(JA_RESET_TLS10)}", snac), snac
    # s3: the 2012 R2 client picks the server's TLS_DHE suite and gets the leading-zero warning
    windows = clients["s3"].index(profile_line(clients["s3"], "windows-2012r2-client"))
    assert clients["s3"][windows].endswith(f"接続可    TLS 1.2 と {DHE256} で接続できる (サーバーの優先順位)")
    warning = clients["s3"][windows + 1].strip()
    assert warning.startswith("警告: TLS_DHE 暗号スイートが選択され、") and "先行ゼロ" in warning
    assert not any(word in line for line in clients["s1"] + clients["s3"] for word in ("FAIL", "warning:"))


def test_verify_changes_in_japanese_keep_their_machine_fields(make_lab, tmp_path: Path) -> None:
    lab = make_lab("s1", "s3")
    s1, s3 = (lab_endpoint(lab, host) for host in ("s1", "s3"))
    baselines = {"s1": probe_json(s1, tmp_path / "s1.json")[1], "s3": probe_json(s3, tmp_path / "s3.json")[1]}
    # As if the TLS_DHE suite had been enabled on s3 since the baseline was taken.
    baselines["s3"]["cipher_suites"]["TLS 1.2"].remove(DHE256)
    extra = tmp_path / "vars.json"
    extra.write_text(
        json.dumps(
            {
                "mssql_tls_report_lang": "ja",
                "baselines": baselines,
                "verify_baseline": "{{ baselines[inventory_hostname] }}",
            }
        )
    )

    proc, recap = run_playbook(lab.inventory, PROBE_PLAYBOOK, "--check", "-e", f"@{extra}")

    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert {host: counts["changed"] for host, counts in recap.items()} == {"s1": 0, "s3": 0}
    changes = task_messages(proc.stdout, "Show what changed for clients since the baseline")
    assert changes["s1"] == ["クライアントから見える変更はありません"]
    assert changes["s3"] == [f"{s3} tds TLS 1.2: 追加された暗号スイート: {DHE256}"]
