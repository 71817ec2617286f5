# Copyright: mssql.tls developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: cipher_suites
short_description: Remove TLS_DHE (or other) cipher suites from the list in force, keeping SQL Server servable
version_added: 1.1.0
description:
  - Removes the cipher suites that match O(remove) (by default C(TLS_DHE_*), SQL Server error 10054
    scenarios 3 and 5) from the cipher-suite list that is in force, optionally puts the suites named
    in O(order) first, and never truncates, empties or otherwise breaks the list.
  - The list in force decides where it writes. A C(Functions) Policy value (REG_SZ) under
    C(HKLM\SOFTWARE\Policies\Microsoft\Cryptography\Configuration\SSL\00010002) wins when it exists;
    it is rewritten as one comma-separated string and takes effect at the next reboot. Otherwise the
    Local list is changed - on Windows Server 2016 and later through the TLS cmdlets
    (C(Disable-TlsCipherSuite), C(Enable-TlsCipherSuite -Position)), with immediate effect; on Windows
    Server 2012 R2, which has no TLS module, as the REG_MULTI_SZ C(Functions) value under
    C(HKLM\SYSTEM\CurrentControlSet\Control\Cryptography\Configuration\Local\SSL\00010002), where an
    absent value means the OS default list, and with effect at the next reboot.
  - A Policy value is owned by Group Policy (GPO C(SSL Cipher Suite Order)); a policy refresh puts the
    GPO's list back. O(policy_owned) decides what to do with it.
  - A REG_MULTI_SZ (or empty) Policy value is not used by Windows; it is left as it is, with a warning,
    and the Local list is changed.
  - It never leaves TLS 1.2 without a suite that every certificate SQL Server uses (loaded, bound, or
    one it could pick itself; its self-generated certificate is RSA) can serve - an RSA key needs an
    RSA-authenticated suite, an ECDSA key an ECDSA one. When no suite in force can serve such a
    certificate (scenario 2), the AES suites of the OS default list for that key type are added at the
    end, in the OS default order, without TLS_DHE (see O(restore_for_certificates)).
  - Plans from the facts the play already gathered (C(ansible_facts.mssql_tls)), so a host with nothing
    to change costs no further round trip. Changes are applied in one agent batch, after a journal
    record with every prior state was written on the host, each write with a compare-and-set
    precondition. When the host changed since the gather, it gathers once more and plans again.
  - The module never reboots; it reports C(reboot_required) (see M(mssql.tls.reboot) and the
    C(mssql.tls.cipher_suites) role).
options:
  remove:
    description:
      - Patterns of suite names to remove (shell-style C(*), C(?), C([...]), matched case-sensitively;
        Windows spells suite names in upper case). On Windows Server 2012 R2 a pattern also matches a
        name without its curve suffix (C(_P256), C(_P384), C(_P521)).
    type: list
    elements: str
    default: ["TLS_DHE_*"]
  order:
    description:
      - Suite names to put first, in this order; the other suites keep their order after them. A name
        without a curve suffix also names the 2012 R2 suites with one.
      - Only reorders - a name that is not in the list in force is not added (a warning lists it). A
        name that matches O(remove) is an error.
    type: list
    elements: str
    default: []
  policy_owned:
    description:
      - What to do when the list in force is a Group Policy value.
      - C(refuse) - change nothing and report a blocker (O(force) overrides it).
      - C(warn) - edit the value and warn that the domain GPO must be changed too.
      - C(edit) - edit the value without the warning (the GPO is local or already changed).
    type: str
    choices: [refuse, warn, edit]
    default: warn
  restore_for_certificates:
    description:
      - When no suite of the new list can serve the key type of a certificate SQL Server uses (scenario
        2), add that key type's AES suites from the OS default list (OS default order, no TLS_DHE, none
        that O(remove) matches).
      - With C(false) the list is not repaired; a change that would break a certificate is still refused.
    type: bool
    default: true
  force:
    description:
      - Override C(policy_owned=refuse). An empty list, a Policy string over 1023 characters and a list
        without a suite for a certificate in use are refused even with force.
    type: bool
    default: false
extends_documentation_fragment:
  - mssql.tls.fix_module
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: Check mode plans and reports the changes, warnings and blockers; nothing is written.
  diff_mode:
    description: >-
      Will return details on what has changed (or possibly needs changing in check_mode), when in
      diff mode.
    support: full
    details:
      - The Policy or 2012 R2 Local C(Functions) value before and after.
      - "On Windows Server 2016 and later, one line per suite - C(Local cipher suite list: <name>) with its
        position (0 = top) before and after, C(null) when it is not in the list."
  platform:
    support: full
    description: Target OS/families that can be operated against.
    platforms: windows
notes:
  - The Policy string is limited to 1023 characters (Microsoft's limit, applied on every OS).
  - Suites switched off by Schannel C(KeyExchangeAlgorithms) or C(Ciphers) keys do not count as able to
    serve a certificate.
  - The journal record (under C(%ProgramData%\mssql.tls\journal)) lets C(playbooks/rollback.yml)
    restore the prior list.
seealso:
  - module: mssql.tls.schannel_protocols
  - module: mssql.tls.reboot
  - module: mssql.tls.tls_facts
author:
  - mssql.tls developers (@mssql-tls)
"""

EXAMPLES = r"""
- name: Gather once; every fix module plans from these facts
  mssql.tls.tls_facts:

- name: Remove every TLS_DHE suite from the list in force (scenarios 3 and 5)
  mssql.tls.cipher_suites:
  register: suites

- name: Refuse to touch a GPO-owned list; only report it
  mssql.tls.cipher_suites:
    policy_owned: refuse

- name: Also drop 3DES and put the ECDHE GCM suites first
  mssql.tls.cipher_suites:
    remove: ["TLS_DHE_*", "*_3DES_*"]
    order:
      - TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384
      - TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256

- name: Reboot only when the change needs it (a Policy or 2012 R2 list)
  mssql.tls.reboot:
  when: suites.reboot_required
"""

RETURN = r"""
changed:
  description: Whether anything was written (in check mode - whether anything would be).
  returned: always
  type: bool
plan:
  description:
    - The plan - C(changes) (target, before, after, activation), C(ops) (the agent write ops with
      their C(expect) preconditions), C(activations), C(blocked) and C(warnings) (each with a
      rendered C(message)), C(forced).
  returned: always
  type: dict
blocked:
  description:
    - Blockers that stopped the change, or a scenario 2 this fix cannot remove (C(unfixable)), each with
      C(code), C(target), C(data), C(clears_with), C(forced) and C(message). Codes -
      C(cipher_policy_gpo_refused), C(cipher_policy_too_long), C(cipher_list_empty),
      C(cipher_no_suite_for_certificate), C(tls_cmdlet_unavailable), C(registry_not_read).
  returned: always
  type: list
  elements: dict
  sample:
    - code: cipher_policy_gpo_refused
      target: "HKLM\\SOFTWARE\\Policies\\Microsoft\\Cryptography\\Configuration\\SSL\\00010002\\Functions"
      data: {gpo: SSL Cipher Suite Order}
      clears_with: "change the domain GPO 'SSL Cipher Suite Order', or set policy_owned: warn or edit"
      forced: false
      unfixable: false
      message: "The cipher-suite list in force is the Group Policy value ..."
forced:
  description: Whether C(force) overrode C(policy_owned=refuse).
  returned: always
  type: bool
reboot_required:
  description:
    - A change was made (or would be, in check mode) that takes effect at the next reboot - the Policy
      list, or the 2012 R2 Local list.
  returned: always
  type: bool
restart_required:
  description: Always false for this module.
  returned: always
  type: bool
activations:
  description: How the changes take effect - C(reboot), C(immediate).
  returned: always
  type: list
  elements: str
journal_id:
  description: The host's journal record of the last apply batch (C(<run_id>.cipher_suites.<n>-<nonce>)).
  returned: always
  type: str
  sample: 20261207T191500Z-ab12cd.cipher_suites.1-3f9a
journal_ids:
  description: Every journal record written (a second one after a re-plan on conflict).
  returned: always
  type: list
  elements: str
run_id:
  description: The run id the journal records belong to.
  returned: always
  type: str
gathered:
  description: Whether the module had to gather facts itself (none were given, or the host changed).
  returned: always
  type: bool
"""
