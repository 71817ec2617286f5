"""One fault of each kind injected by the lab into a real ansible-playbook run (issue 12, item 1).

Each test runs the playbook an operator runs, with the fault aimed at one host's batch by its journal
record id (tests/lab/README.md, "Fault knobs") and at least one host left alone. In every case:
- the faulty host is reported failed (recap and report), with a reason naming the journal record;
- the other hosts finish;
- running the playbook again converges (the fixable scenarios are gone);
- rollback.yml, run until it finds nothing left, restores every host's model exactly
  (host_model.comparable), and no prior value is lost on the way.
The same faults after every op k of each batch are in test_fault_drop.py; two controllers at once in
test_fault_concurrent.py.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import yaml

from .ansible_run import REPO, run_playbook
from .host_model import comparable, journal, record

REMEDIATE = REPO / "playbooks" / "remediate.yml"
ROLLBACK = REPO / "playbooks" / "rollback.yml"
AUDIT = REPO / "playbooks" / "audit.yml"
TLS12 = REPO / "tests" / "integration" / "playbooks" / "tls12.yml"
WEAK = REPO / "tests" / "integration" / "playbooks" / "weak_certificates.yml"
BIND = REPO / "tests" / "integration" / "playbooks" / "bind_and_restart.yml"
ACTIVATE = ("-e", "mssql_tls_reboot=true", "-e", "mssql_tls_restart=true")
LOST = re.compile(
    r"\[(?P<host>[^\]]+)\]: UNREACHABLE! => .*mssql\.tls agent write batch lost its connection: .*"
    r"journal record (?P<record>\S+) on the host says which"
)


def host_vars(tmp_path: Path, **hosts: dict[str, Any]) -> str:
    """A second inventory source with variables for some hosts (Ansible merges the two)."""
    path = tmp_path / f"host-vars-{len(list(tmp_path.glob('host-vars-*')))}.yml"
    path.write_text(yaml.safe_dump({"all": {"hosts": hosts}}))
    return str(path)


def lost_records(stdout: str) -> dict[str, str]:
    """host -> the journal record its lost write batch named (the default callback's line)."""
    return {m["host"]: m["record"] for m in LOST.finditer(stdout)}


def fatal_message(stdout: str, host: str) -> str:
    """The message of the host's failed task, from the default callback's ``fatal:`` line."""
    return json.loads(re.search(rf"fatal: \[{re.escape(host)}\]: FAILED! => (.*)", stdout)[1])["msg"]


def report(directory: Path) -> dict[str, dict[str, Any]]:
    return {h["name"]: h for h in json.loads((directory / "report.json").read_text())["hosts"]}


def roll_back_until_nothing_is_left(lab, *args: str, limit: int = 4) -> list[dict[str, str]]:
    """rollback.yml until every host says nothing is left to roll back; per run, host -> run restored."""
    rounds = []
    for _round in range(limit):
        proc, recap = run_playbook(lab.inventory, ROLLBACK, *args)
        assert proc.returncode == 0, proc.stdout[-4000:]
        restored = dict(re.findall(r'"msg": "(\S+): rolled back (\S+);', proc.stdout))
        if not restored:
            assert all(c["changed"] == 0 for c in recap.values()), recap
            return rounds
        rounds.append(restored)
    raise AssertionError(f"rollback.yml still restores runs after {limit} rounds: {rounds}")


def assert_original(lab, before: dict[str, dict[str, Any]]) -> None:
    for host in lab.hosts:
        assert comparable(lab.state(host)) == before[host], host


# ---- the connection drops in the middle of a write batch ----------------------------------------


def test_remediate_with_two_batches_cut_off_reports_both_hosts_and_converges_on_the_next_run(
    make_lab, tmp_path
) -> None:
    lab = make_lab("s5", "s4", "s3")
    before = {host: comparable(lab.state(host)) for host in lab.hosts}
    for host in lab.hosts:
        lab.set_knobs(host, reboot_down_s=0.5)
    # s5: the cipher-suite batch after 4 of its 9 suites; s4: the restart after it ran (reply lost)
    lab.set_knobs("s5", fault_journal_id=".cipher_suites.", drop_after_ops=4)
    lab.set_knobs("s4", fault_journal_id=".sql_service.", drop_after_ops=1)
    first = tmp_path / "first"
    proc, recap = run_playbook(lab.inventory, REMEDIATE, *ACTIVATE, "-e", f"mssql_tls_report_dir={first}")
    assert proc.returncode != 0
    assert (recap["s5"]["unreachable"], recap["s4"]["unreachable"]) == (1, 1)
    assert recap["s3"]["changed"] and not (recap["s3"]["failed"] or recap["s3"]["unreachable"])
    lost = lost_records(proc.stdout)
    assert set(lost) == {"s5", "s4"}
    assert ".cipher_suites.1-" in lost["s5"] and ".sql_service." in lost["s4"]
    cut = record(lab.state("s5"), lost["s5"])
    assert sorted(cut.applied) == [0, 1, 2, 3] and cut.interrupted and len(cut.ops) == 9
    assert record(lab.state("s4"), lost["s4"]).interrupted
    hosts = report(first)
    for host in ("s5", "s4"):
        assert lost[host] in hosts[host]["failed"]["reason"], hosts[host]["failed"]
    assert hosts["s3"]["failed"] is None and hosts["s3"]["scenarios"] == []

    second = tmp_path / "second"
    proc, recap = run_playbook(lab.inventory, REMEDIATE, *ACTIVATE, "-e", f"mssql_tls_report_dir={second}")
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert all(c["failed"] == 0 and c["unreachable"] == 0 for c in recap.values())
    hosts = report(second)
    assert {h: hosts[h]["scenarios"] for h in lab.hosts} == {h: [] for h in lab.hosts}

    # Newest run first: the second run changed only s5 (the rest of its suites); then the first run.
    first_run = lost["s5"].split(".")[0]
    rounds = roll_back_until_nothing_is_left(lab, *ACTIVATE)
    assert (
        rounds[1:] == [{"s5": first_run}]
        and rounds[0]["s3"] == rounds[0]["s4"] == first_run != rounds[0]["s5"]
    )
    assert_original(lab, before)


# ---- the host restarts in the middle of a run ---------------------------------------------------


def test_a_host_that_restarts_mid_batch_is_reported_and_the_next_run_finishes_and_activates(
    make_lab, tmp_path
) -> None:
    lab = make_lab("mixed-2012r2", "tls10-needed")
    before = {host: comparable(lab.state(host)) for host in lab.hosts}
    for host in lab.hosts:
        lab.set_knobs(host, reboot_down_s=0.5)
    lab.set_knobs(
        "mixed-2012r2", fault_journal_id=".schannel_protocols.", drop_after_ops=3, reboot_on_drop=True
    )
    boot = lab.state("mixed-2012r2")["boot"]["boot_utc"]
    proc, recap = run_playbook(lab.inventory, TLS12, "-e", "tls12_reboot=true")
    assert proc.returncode != 0 and recap["mixed-2012r2"]["unreachable"] == 1
    assert recap["tls10-needed"]["failed"] == 0 and recap["tls10-needed"]["changed"] >= 2  # fixed, rebooted
    (lost,) = lost_records(proc.stdout).values()
    state = lab.state("mixed-2012r2")
    assert sorted(record(state, lost).applied) == [0, 1, 2]
    # The next run finds the host back up (its boot took the three values with it), writes the rest
    # and reboots to activate them.
    proc, recap = run_playbook(lab.inventory, TLS12, "-e", "tls12_reboot=true", "-v")
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert recap["mixed-2012r2"]["changed"] == 2 and recap["tls10-needed"]["changed"] == 0
    state = lab.state("mixed-2012r2")
    assert state["boot"]["boot_utc"] != boot
    applied = [r for r in journal(state) if r.header.get("module") == "schannel_protocols"]
    assert [sorted(r.applied) for r in applied] == [[0, 1, 2], [0, 1, 2, 3, 4]]

    rounds = roll_back_until_nothing_is_left(lab)
    assert [sorted(r) for r in rounds] == [["mixed-2012r2", "tls10-needed"], ["mixed-2012r2"]]
    assert_original(lab, before)


def test_a_reboot_that_does_not_come_back_in_time_fails_the_host_and_the_next_run_finds_it_done(
    make_lab, tmp_path
) -> None:
    lab = make_lab("s5", "tls10-needed")
    before = {host: comparable(lab.state(host)) for host in lab.hosts}
    lab.set_knobs("tls10-needed", reboot_down_s=0.5)
    lab.set_knobs("s5", reboot_down_s=20)  # away 20 s; the play waits 4 s (+ the 5 s delay)
    boot = lab.state("s5")["boot"]["boot_utc"]
    proc, recap = run_playbook(
        lab.inventory, TLS12, "-e", "tls12_reboot=true", "-e", "tls12_reboot_timeout=4"
    )
    assert proc.returncode != 0 and recap["s5"]["failed"] == 1
    assert recap["tls10-needed"]["failed"] == 0 and recap["tls10-needed"]["changed"] == 2  # fixed, rebooted
    message = fatal_message(proc.stdout, "s5")
    assert "did not come back with a new boot time within 9 s" in message, message
    scheduled = re.search(r"The restart was scheduled \(journal record (\S+) on the host\)", message)[1]
    assert record(lab.state("s5"), scheduled).header["module"] == "reboot"
    deadline = time.monotonic() + 60
    while lab.state("s5")["boot"]["boot_utc"] == boot:  # the host comes back after its 20 s
        assert time.monotonic() < deadline, "s5 did not boot again"
        time.sleep(0.5)

    # The next run finds everything applied and the reboot done: nothing to change, nothing pending.
    proc, recap = run_playbook(lab.inventory, TLS12, "-e", "tls12_reboot=true", "-v")
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert {h: c["changed"] for h, c in recap.items()} == {"s5": 0, "tls10-needed": 0}
    assert "the Schannel changes take effect at the next reboot" not in proc.stdout

    rounds = roll_back_until_nothing_is_left(lab)
    assert [sorted(r) for r in rounds] == [["s5", "tls10-needed"]]
    assert_original(lab, before)


# ---- the journal write itself is cut off --------------------------------------------------------


def test_a_journal_the_disk_refuses_fails_the_host_before_any_change_and_the_next_run_converges(
    make_lab, tmp_path
) -> None:
    lab = make_lab("s4", "s4-latent")
    before = {host: comparable(lab.state(host)) for host in lab.hosts}
    lab.set_knobs("s4", fault_journal_id=".sql_encryption.", journal_fail_after_lines=0)
    proc, recap = run_playbook(lab.inventory, WEAK, "-v")
    assert proc.returncode != 0 and recap["s4"]["failed"] == 1
    assert recap["s4-latent"]["failed"] == 0 and recap["s4-latent"]["changed"] >= 1
    message = fatal_message(proc.stdout, "s4")
    record_id = re.search(r"the journal record (\S+) could not be written on the host", message)[1]
    assert "There is not enough space on the disk." in message and "nothing after it was applied" in message
    assert comparable(lab.state("s4")) == before["s4"]  # nothing ran
    cut = [f for f in lab.state("s4")["files"] if f["path"].endswith(f"{record_id}.jsonl")]
    assert len(cut) == 1 and "\n" not in cut[0]["text"]  # half a header, which no reader takes for a record

    proc, recap = run_playbook(lab.inventory, WEAK, "-v")
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert recap["s4"]["changed"] >= 2  # binding cleared, purpose removed, restarted

    rounds = roll_back_until_nothing_is_left(lab, "-e", "mssql_tls_restart=true")
    assert [sorted(r) for r in rounds] == [["s4", "s4-latent"]]
    assert_original(lab, before)


def test_a_journal_line_the_disk_refuses_after_a_write_stops_the_batch_and_names_what_ran(
    make_lab, tmp_path
) -> None:
    lab = make_lab("s5", "s3")
    before = {host: comparable(lab.state(host)) for host in lab.hosts}
    # header and two progress lines fit; the third write's line is cut off: 3 of 6 ran
    lab.set_knobs("s5", fault_journal_id=".schannel_protocols.", journal_fail_after_lines=3)
    proc, recap = run_playbook(lab.inventory, TLS12, "-v")
    assert proc.returncode != 0 and recap["s5"]["failed"] == 1 and recap["s3"]["failed"] == 0
    message = fatal_message(proc.stdout, "s5")
    record_id = re.search(r"journal record (\S+)", message)[1]
    assert "There is not enough space on the disk." in message
    assert "3 of 6 change(s) were applied" in message, message
    cut = record(lab.state("s5"), record_id)
    assert sorted(cut.applied) == [0, 1] and cut.interrupted and cut.problems  # op 2's line is cut

    proc, recap = run_playbook(lab.inventory, TLS12)
    assert proc.returncode == 0 and recap["s5"]["changed"] == 1, proc.stdout[-4000:]
    rounds = roll_back_until_nothing_is_left(lab)
    assert [sorted(r) for r in rounds] == [["s5"], ["s5"]]
    assert_original(lab, before)


# ---- a host that answers past the timeouts ------------------------------------------------------


def test_a_write_batch_answered_past_the_read_timeout_is_lost_not_sent_again_and_recoverable(
    make_lab, tmp_path
) -> None:
    lab = make_lab("s5", "tls10-needed", "s3")
    before = {host: comparable(lab.state(host)) for host in lab.hosts}
    timeouts = ("-e", "ansible_winrm_operation_timeout_sec=3", "-e", "ansible_winrm_read_timeout_sec=5")
    # s5: its write batch runs but the reply comes after 8 s; tls10-needed: its gather (a read) does
    lab.set_knobs("s5", fault_journal_id=".schannel_protocols.", reply_delay_s=8)
    lab.set_knobs("tls10-needed", reply_delay_s=8)
    proc, recap = run_playbook(lab.inventory, TLS12, *timeouts)
    assert proc.returncode != 0 and recap["s5"]["unreachable"] == 1, proc.stdout[-4000:]
    assert "Read timed out" in proc.stdout
    (lost,) = lost_records(proc.stdout).items()
    assert lost[0] == "s5" and ".schannel_protocols.1-" in lost[1]
    late = record(lab.state("s5"), lost[1])
    assert late.done and sorted(late.applied) == list(range(6))  # it ran whole; only the reply was late
    # a read batch is retried once: tls10-needed's gather came late, the retry answered
    assert recap["tls10-needed"]["failed"] == 0 and recap["tls10-needed"]["changed"] == 1
    assert lab.stats()["tls10-needed"]["commands"] == 3  # gather, its retry, the write batch
    batches = [b for b in lab.stats()["s5"]["batches"] if "reg.write" in b]
    assert len(batches) == 1  # the write batch was never sent again

    proc, recap = run_playbook(lab.inventory, TLS12, *timeouts)
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert {h: c["changed"] for h, c in recap.items()} == dict.fromkeys(lab.hosts, 0)  # nothing left

    rounds = roll_back_until_nothing_is_left(lab)
    assert [sorted(r) for r in rounds] == [["s5", "tls10-needed"]]
    assert_original(lab, before)


# ---- a service that fails to start after the change ---------------------------------------------


def test_a_sql_server_that_fails_to_start_gets_its_binding_back_and_the_policy_run_converges(
    make_lab, tmp_path
) -> None:
    lab = make_lab("s4-rdp", "s4-winrm-https")
    before = {host: comparable(lab.state(host)) for host in lab.hosts}

    def thumbprint(host: str, pick) -> str:
        (cert,) = [c for c in lab.state(host)["cert_stores"]["My"] if pick(c)]
        return cert["thumbprint"].lower()

    # s4-rdp: forced onto its renewal imported without a private key (the start fails);
    # s4-winrm-https: onto its SHA256 replacement (a good binding)
    binds = host_vars(
        tmp_path,
        **{
            "s4-rdp": {"bind_thumbprint": thumbprint("s4-rdp", lambda c: c["name"] == "renewal-no-key")},
            "s4-winrm-https": {
                "bind_thumbprint": thumbprint("s4-winrm-https", lambda c: c["name"] == "sql-sha256")
            },
        },
    )
    proc, recap = run_playbook(lab.inventory, BIND, "-i", binds, "-e", "bind_force=true", "-v")
    assert proc.returncode != 0 and recap["s4-rdp"]["failed"] == 1
    assert recap["s4-winrm-https"]["failed"] == 0 and recap["s4-winrm-https"]["changed"] == 2
    message = fatal_message(proc.stdout, "s4-rdp")
    restore_record = re.search(r"record (\S+)\)", message)[1]
    assert "failed to start" in message and "The previous binding was restored from the journal" in message
    assert record(lab.state("s4-rdp"), restore_record).header["kind"] == "restore"
    assert comparable(lab.state("s4-rdp"))["sql_runtime"] == before["s4-rdp"]["sql_runtime"]

    # The policy run (weak_certificates, restart) converges both hosts: scenario 4 is gone. (s4-rdp's
    # certificate is also RDP's: taking Server Authentication away from it needs force.)
    forced = host_vars(tmp_path, **{"s4-rdp": {"weak_certificates_force": True}})
    proc, recap = run_playbook(lab.inventory, WEAK, "-i", forced, "-v")
    assert proc.returncode == 0, proc.stdout[-4000:]
    audit = tmp_path / "audit"
    proc, _recap = run_playbook(lab.inventory, AUDIT, "--check", "-e", f"mssql_tls_report_dir={audit}")
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert {h: r["scenarios"] for h, r in report(audit).items()} == {h: [] for h in lab.hosts}

    roll_back_until_nothing_is_left(lab, "-e", "mssql_tls_restart=true")
    assert_original(lab, before)
    # The binding that failed to start was never written again by a rollback.
    no_key = thumbprint("s4-rdp", lambda c: c["name"] == "renewal-no-key")
    rollbacks = [r for r in journal(lab.state("s4-rdp")) if r.header.get("module") == "rollback"]
    written = [json.dumps(op["op"]) for r in rollbacks for op in r.ops]
    assert not [w for w in written if no_key in w.lower()], written


# ---- rollback's own restore batch is cut off ----------------------------------------------------


def test_a_rollback_cut_off_is_reported_and_the_next_rollback_finishes_it(make_lab, tmp_path) -> None:
    lab = make_lab("mixed-2012r2", "s5")
    before = {host: comparable(lab.state(host)) for host in lab.hosts}
    proc, _recap = run_playbook(lab.inventory, TLS12)
    assert proc.returncode == 0, proc.stdout[-4000:]
    lab.set_knobs("mixed-2012r2", fault_journal_id=".rollback.", drop_after_ops=5)
    proc, recap = run_playbook(lab.inventory, ROLLBACK)
    assert proc.returncode != 0 and recap["mixed-2012r2"]["unreachable"] == 1
    assert recap["s5"]["changed"] == 1
    (lost,) = lost_records(proc.stdout).values()
    cut = record(lab.state("mixed-2012r2"), lost)
    assert ".rollback.1-" in lost and sorted(cut.applied) == [0, 1, 2, 3, 4] and cut.interrupted

    rounds = roll_back_until_nothing_is_left(lab)
    assert rounds == [{"mixed-2012r2": cut.header["rolls_back"]}]
    assert_original(lab, before)
