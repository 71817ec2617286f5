# Copyright: mssql.tls developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: audit_report
short_description: Write the fleet report of an mssql.tls audit on the controller
description:
  - Collects, for every host of O(hosts), the results the audit registered (the
    M(mssql.tls.tls_facts) result and the M(mssql.tls.assess) result) and writes the fleet
    report into O(dest) on the controller.
  - C(report.json) follows the versioned schema of C(docs/report-schema.md); C(report.md);
    C(report.html) is one self-contained page with a hosts x scenarios matrix and per-host details;
    C(junit.xml) has one testcase per host and check.
  - A host whose facts could not be gathered (unreachable, agent failure) is listed with its error.
  - Files are only rewritten when their content changes, so a repeated audit of an unchanged fleet
    reports nothing changed.
  - Normally used once per play (C(run_once)) by the M(mssql.tls.audit) role; it never contacts the hosts.
  - "Before and after: with O(before_assessment_var) or O(change_vars) the report covers a remediation run.
    O(facts_var) and O(assessment_var) then hold the audit B(after) the run, O(before_facts_var) and
    O(before_assessment_var) copies of the audit B(before) it (the audit role registers the same names
    both times, so the playbook keeps the first ones with M(ansible.builtin.set_fact)), and O(change_vars)
    the registered results of the fix, reboot and restart tasks in the order they ran. Each host then gets
    its scenarios before and after, what every fix changed (target, before, after, activation), the reboot
    and SQL Server restarts still pending, every blocked item with its reason, and the reason a host failed.
    C(report.html) adds a before/after matrix (hosts x scenarios, each cell C(before→after)) and the changes
    per host; C(report.md) the same as tables and lists; C(junit.xml) a C(<host> remediation) suite per host."
  - A host that a failed or unreachable task removed from the play (in C(ansible_play_hosts_all) but no
    longer in C(ansible_play_hosts)) is reported as failed, with the message of the first failed result
    of O(change_vars) when there is one. When its facts after the run are the ones gathered before
    (same C(gathered_at)), it never reached the audit after the run and is reported as not audited.
  - "Slices: with O(merge_reports) instead of O(hosts), the module reads the C(report.json) of several
    runs over parts of the fleet (AWX/AAP job slices, C(--limit) per site) and writes the report one run
    over every host would have written: the hosts of all slices, the summary counted again over them
    (C(summary.remediation) too). The slices must be in one language (O(lang)), of one kind (audit, or
    before/after) and from the same version of the collection; a host in two slices with different
    results is refused. C(docs/scaling.md) shows the workflow."
version_added: 1.0.0
author:
  - mssql.tls developers (@mssql-tls)
options:
  hosts:
    description:
      - Inventory names of the hosts to report on, usually C(ansible_play_hosts_all).
      - Required unless O(merge_reports) is given; the two exclude each other.
    type: list
    elements: str
  merge_reports:
    description:
      - The C(report.json) files of the slices to merge, or directories that hold one (a slice's
        O(dest)). The merged report is written into O(dest) in every format of O(formats).
      - Excludes O(hosts), O(before_facts_var), O(before_assessment_var) and O(change_vars) - the slices
        already carry their before/after fields.
    type: list
    elements: path
    version_added: 1.1.0
  dest:
    description: Controller directory for the report files; created when missing.
    type: path
    required: true
  lang:
    description: Language of headings, findings and the summary. Machine fields stay the same.
    type: str
    choices: [en, ja]
    default: en
  fail_on:
    description:
      - Severity from which RV(fail_level_reached) becomes true. An unreachable host always counts.
      - The module itself does not fail; the role turns this into a failed task after printing the summary.
    type: str
    choices: [none, low, medium, high]
    default: none
  formats:
    description: Which files to write.
    type: list
    elements: str
    choices: [json, md, html, junit]
    default: [json, md, html, junit]
  facts_var:
    description: Name of the host variable holding the registered M(mssql.tls.tls_facts) result.
    type: str
    default: audit_facts_result
  assessment_var:
    description: Name of the host variable holding the registered M(mssql.tls.assess) result.
    type: str
    default: audit_assessment
  before_facts_var:
    description:
      - Name of the host variable holding the M(mssql.tls.tls_facts) result registered by the audit
        B(before) the change (a copy of C(audit_facts_result) made before the audit runs again).
      - Used for the hosts whose audit before the run failed, and to recognise a host that never reached
        the audit after the run. Needs O(before_assessment_var).
    type: str
  before_assessment_var:
    description:
      - Name of the host variable holding the M(mssql.tls.assess) result of the audit B(before) the change
        (a copy of C(audit_assessment)). Setting it makes the report a before/after report.
    type: str
  change_vars:
    description:
      - Names of the host variables holding the registered results of the tasks that changed the hosts,
        in the order the tasks ran, for example C(tls12_result), C(cipher_suites_result) and the results
        of M(mssql.tls.reboot) and of the SQL Server restart.
      - Understood results are those of the fix modules (M(mssql.tls.schannel_protocols),
        M(mssql.tls.cipher_suites), M(mssql.tls.rollback) and the others that return C(plan)),
        M(mssql.tls.reboot) (C(rebooted), C(pending)) and the SQL Server restart (C(restarted), C(pending)).
        A loop's result counts item by item. Undefined and skipped results are ignored; a failed or
        unreachable one names the host as failed.
      - A reboot is pending when an applied change needs one and no later result rebooted the host; the
        facts after the run (C(pending.reboot), finding C(reboot_pending)) decide when they were read.
        For restarts, the C(restart_instances) of applied changes less those a later restart result restarted,
        plus the instances of finding C(sql_restart_pending_certificate) after the run.
      - Setting it (even without O(before_assessment_var)) makes the report a before/after report.
    type: list
    elements: str
    default: []
  pairing_var:
    description:
      - The host variable holding the registered result of M(mssql.tls.pairing) (run once, so every host
        of the play has it; the C(mssql.tls.audit) role registers C(audit_pairing_result)).
      - When it is defined, the findings of each failing pair join the host entries of the client and of
        the SQL Server host, the report gets the C(pairing) section (clients x SQL Server instances,
        every pair, the notes), report.md and report.html a pairing matrix whose failing cells link to
        the drivers, protocols and suites behind them, and junit.xml a C(pairing) suite.
    type: str
    default: audit_pairing_result
  before_pairing_var:
    description:
      - The host variable holding the pairing result before a remediation run. Its pair findings join the
        audit before the run, and each matrix cell shows its state before the run (a failing pair that no
        longer fails is shown fixed).
    type: str
attributes:
  check_mode:
    support: full
    description: Writes the controller files in check mode too; managed hosts are never touched.
  diff_mode:
    support: none
    description: The report files are outputs, not managed state.
  platform:
    support: full
    platforms: posix
    description: Runs on the Ansible controller.
seealso:
  - module: mssql.tls.tls_facts
  - module: mssql.tls.assess
"""

EXAMPLES = r"""
- name: Write the fleet report
  mssql.tls.audit_report:
    hosts: "{{ ansible_play_hosts_all }}"
    dest: /srv/reports/sql-tls
    lang: ja
    fail_on: high
  run_once: true
  check_mode: false

# playbooks/remediate.yml: the audit before, the fixes, the activation, the audit after, then:
- name: Write the before/after report
  mssql.tls.audit_report:
    hosts: "{{ ansible_play_hosts_all }}"
    dest: /srv/reports/sql-tls
    lang: ja
    before_facts_var: mssql_tls_before_facts
    before_assessment_var: mssql_tls_before_assessment
    change_vars:
      - tls12_result
      - cipher_suites_result
      - mssql_tls_reboot_result
  run_once: true
  check_mode: false

# After an AWX/AAP sliced job, in a play on localhost: each slice wrote its report into its own
# directory under /srv/reports/run-42 (docs/scaling.md).
- name: Merge the slices' reports into the fleet report
  mssql.tls.audit_report:
    merge_reports: "{{ query('ansible.builtin.fileglob', '/srv/reports/run-42/slice-*/report.json') }}"
    dest: /srv/reports/run-42/fleet
    lang: ja
"""

RETURN = r"""
dest:
  description: The report directory.
  returned: success
  type: str
files:
  description: Paths of the report files.
  returned: success
  type: list
  elements: str
written:
  description: Names of the files whose content changed and was written.
  returned: success
  type: list
  elements: str
summary:
  description:
    - Fleet counts (hosts, hosts_with_findings, unreachable, by_severity, by_scenario).
    - In a before/after report also C(remediation), with hosts_with_scenarios_before, hosts_fixed,
      hosts_with_scenarios_after, hosts_changed, hosts_pending_reboot, hosts_pending_restart, hosts_failed,
      blocked, forced and by_state (scenario cells per state; C(docs/report-schema.md)).
  returned: success
  type: dict
summary_lines:
  description:
    - The end-of-play summary in O(lang), one line for the fleet and one per host with findings.
    - A before/after report adds a remediation line, one line per host with scenarios before or after,
      and names failed hosts with their reason. With the fleet pairing, a last line counts the pairs and
      the failing ones.
  returned: success
  type: list
  elements: str
fail_level_reached:
  description: Whether any finding reached O(fail_on), or a host was not audited or failed during the run.
  returned: success
  type: bool
fail_message:
  description: The refusal text for the play when RV(fail_level_reached), else empty.
  returned: success
  type: str
"""
