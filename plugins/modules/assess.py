# Copyright: mssql.tls developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: assess
short_description: Turn mssql_tls facts into findings for the six causes of SQL Server error 10054
version_added: 1.0.0
description:
  - Evaluates the C(mssql_tls) facts of a host against the six scenarios of Microsoft's article
    on OS error 10054 (no common TLS protocol, no common cipher suite, TLS_DHE suites, weak-hash
    certificates, the TLS_DHE leading-zero defect, login worker starvation) and the checks that
    go with them (builds and drivers without TLS 1.2, expiring certificates, policy list length,
    FIPS, Schannel events and more).
  - Runs on the controller only; it never connects to the host.
  - Each finding has stable machine fields (C(id), C(scenario), C(severity), C(fixable_by)) and
    text (C(title), C(evidence), C(remediation)) in the requested language.
  - A host with nothing to report yields no findings.
options:
  facts:
    description:
      - The C(mssql_tls) facts to assess.
      - Defaults to the host's C(mssql_tls) fact, as set by M(mssql.tls.tls_facts).
    type: dict
  lang:
    description:
      - Language of the finding texts.
      - C(ja) uses the terms of the Japanese edition of Microsoft's 10054 article.
    type: str
    choices: [en, ja]
    default: en
  expiry_warning_days:
    description:
      - A certificate SQL Server uses is reported when it expires in fewer days than this.
    type: int
    default: 30
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: Nothing is changed; check mode returns the same findings.
  diff_mode:
    description: >-
      Will return details on what has changed (or possibly needs changing in check_mode), when in
      diff mode.
    support: none
  platform:
    support: full
    description: Target OS/families that can be operated against.
    platforms: all
    details: Controller side only; the facts may come from any Windows host.
seealso:
  - module: mssql.tls.tls_facts
author:
  - mssql.tls developers (@mssql-tls)
"""

EXAMPLES = r"""
- name: Gather the facts
  mssql.tls.tls_facts:

- name: Assess them, in Japanese
  mssql.tls.assess:
    lang: ja
  register: audit

- name: Fail the host when it is in scenario 3 or 5
  ansible.builtin.assert:
    that: audit.scenarios | intersect([3, 5]) | length == 0
    fail_msg: "{{ audit.findings | map(attribute='title') | list }}"
"""

RETURN = r"""
findings:
  description: The findings, most severe first.
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: Stable check id, the same in every language.
      type: str
      sample: s3.dhe_suites_enabled
    scenario:
      description: Scenario 1-6 of the 10054 article, or null for the other checks.
      type: int
      sample: 3
    severity:
      description: One of info, low, medium, high.
      type: str
      sample: medium
    title:
      description: One-line title in the requested language.
      type: str
    evidence:
      description: What in the facts triggered the finding, in the requested language.
      type: str
    remediation:
      description: What to do, in the requested language.
      type: str
    fixable_by:
      description: >-
        Role of this collection that fixes it (tls12, cipher_suites, weak_certificates,
        sql_restart), or null.
      type: str
      sample: cipher_suites
    target:
      description: >-
        Instance id, driver name or certificate thumbprint the finding is about, or null for the
        host.
      type: str
    data:
      description: The language-neutral values used in the texts.
      type: dict
scenarios:
  description: Sorted unique scenario numbers found on the host.
  returned: always
  type: list
  elements: int
  sample: [3, 5]
summary:
  description: Number of findings per severity.
  returned: always
  type: dict
  sample: {"high": 1, "medium": 1, "low": 0, "info": 0}
"""
