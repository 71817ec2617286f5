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
version_added: 1.0.0
author:
  - mssql.tls developers (@mssql-tls)
options:
  hosts:
    description: Inventory names of the hosts to report on, usually C(ansible_play_hosts_all).
    type: list
    elements: str
    required: true
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
  description: Fleet counts (hosts, hosts_with_findings, unreachable, by_severity, by_scenario).
  returned: success
  type: dict
summary_lines:
  description: The end-of-play summary in O(lang), one line for the fleet and one per host with findings.
  returned: success
  type: list
  elements: str
fail_level_reached:
  description: Whether any finding reached O(fail_on) or a host could not be audited.
  returned: success
  type: bool
fail_message:
  description: The refusal text for the play when RV(fail_level_reached), else empty.
  returned: success
  type: str
"""
