"""Two controllers remediate the same hosts at the same time (issue 12, item 1, last fault).

Two ansible-playbook processes run the fix roles (tls12, cipher_suites, weak_certificates) on the same
lab hosts with their own run ids. playbooks/fault_barrier_fix.yml makes the race certain: each
controller gathers, then waits until the other has gathered too, so both plan every value from the
same state. Compare-and-set decides: for each batch one controller writes, the other's batch stops at
its first op with ``conflict`` (its record: ``stopped_at`` 0, nothing applied), re-gathers, finds
nothing left and reports no change. Neither fails; the host's journal shows each value written once;
the host ends at the policy; rollback.yml brings it back exactly.
"""

from __future__ import annotations

import json
import subprocess
from collections import Counter

from ansible_collections.mssql.tls.plugins.plugin_utils.ansible_adapter import gather_facts

from .ansible_run import BIN, REPO, ansible_env
from .fault_core import LabConnection, planner, run_id
from .host_model import comparable, journal, writes_per_target
from .test_fault_playbooks import assert_original, roll_back_until_nothing_is_left

BARRIER = REPO / "tests" / "integration" / "playbooks" / "fault_barrier_fix.yml"
FIXES = ("schannel_protocols", "cipher_suites", "sql_encryption", "certificate_purpose")
# What the roles ask of each module (roles/*/defaults): the policy the hosts must end at.
ROLE_ARGS = {"sql_encryption": {"certificate": "", "hashes": ["md5", "sha224", "sha512"]}}


def controller(lab, name: str, run: str, barrier_dir) -> subprocess.Popen[str]:
    extra = {"barrier_dir": str(barrier_dir), "barrier_name": name, "barrier_names": ["a", "b"]}
    return subprocess.Popen(
        [
            str(BIN / "ansible-playbook"),
            "-i",
            str(lab.inventory),
            str(BARRIER),
            "-e",
            json.dumps(extra),
            "-e",
            f"mssql_tls_run_id={run}",
        ],
        cwd=REPO,
        env=ansible_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_two_controllers_at_once_write_each_value_once_and_the_other_stops_on_conflict(
    make_lab, tmp_path
) -> None:
    lab = make_lab("s5", "mixed-2012r2", "s4")
    before = {host: comparable(lab.state(host)) for host in lab.hosts}
    runs = {"a": run_id(), "b": run_id()}
    procs = {name: controller(lab, name, run, tmp_path) for name, run in runs.items()}
    outputs = {name: proc.communicate(timeout=600)[0] for name, proc in procs.items()}
    for name, proc in procs.items():
        assert proc.returncode == 0, outputs[name][-4000:]

    for host in lab.hosts:
        records = [r for r in journal(lab.state(host)) if r.header.get("kind") == "apply"]
        assert {r.run for r in records} <= set(runs.values())
        # nothing was applied twice: each target written by one applied op of one controller
        writes = writes_per_target(records)
        assert writes and set(writes.values()) == {1}, (host, writes)
        # the loser of the first race stopped at its first op, applied nothing, and did not fail
        stopped = [r for r in records if r.done and r.stopped_at == 0 and not r.applied]
        assert stopped, (host, [(r.id, r.stopped_at, sorted(r.applied)) for r in records])
        for module in {r.header["module"] for r in records}:
            applied = Counter(r.run for r in records if r.header["module"] == module and r.applied)
            assert len(applied) == 1, (host, module, applied)  # one controller wrote that module's batch
        # the host is at the policy: every planner has nothing left to do
        facts = gather_facts(LabConnection(lab, host))
        for module in FIXES:
            plan = planner(module, **ROLE_ARGS.get(module, {}))(facts)
            assert plan.empty, (host, module, [p.change.target for p in plan.ops])

    roll_back_until_nothing_is_left(lab, "-e", "mssql_tls_restart=true")
    assert_original(lab, before)
