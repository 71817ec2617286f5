# Copyright: mssql.tls developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: certificate_purpose
short_description: Remove Server Authentication from the weak certificates SQL Server uses
version_added: 1.1.0
description:
  - The second step of Microsoft's fix for scenario 4 of error 10054 ("a certificate signed with
    MD5, SHA224 or SHA512"), done the way the certificates MMC does it with "Enable only the
    following purposes" - it writes the certificate's enhanced key usage B(property) (property 9,
    C(CERT_ENHKEY_USAGE_PROP_ID)) of its C(LocalMachine\My) entry. The certificate itself, and its
    EKU extension, are never changed.
  - The effective purposes of a certificate are its EKU extension intersected with property 9; no
    property means "what the extension says", an empty property means "no purposes". The module keeps
    every other purpose the certificate has - it writes the effective purposes minus Server
    Authentication. A certificate valid for all purposes (neither extension nor property) gets the
    list O(keep_if_unrestricted), because property 9 can only list what is allowed.
  - Only certificates SQL Server loaded (ERRORLOG), binds (C(SuperSocketNetLib\Certificate)) or
    could pick automatically are selected, by signature hash (O(hashes)) and/or thumbprint
    (O(thumbprints)).
  - A certificate that the Remote Desktop listener, a WinRM HTTPS listener or an http.sys SSL binding
    also presents is refused unless O(force) is true - a broken WinRM HTTPS listener would cut
    Ansible itself off. So is one still bound to an instance (clear or replace the binding first with
    M(mssql.tls.sql_encryption)), and any certificate when the host's other bindings could not be read.
  - The result says, per instance, which certificate its next start will load once the change is
    made (C(next_start)), and warns when that one is weak too.
  - Plans from the facts the play already gathered (C(ansible_facts.mssql_tls)), so a host with
    nothing to change costs no further round trip. Changes are applied in one agent batch, after a
    journal record with every prior property value (or "absent") was written on the host, each with a
    compare-and-set precondition. The updated facts are returned for the next task.
  - SQL Server picks its certificate when it starts - restart it with M(mssql.tls.sql_service) (the
    C(mssql.tls.weak_certificates) and C(mssql.tls.sql_restart) roles do it in the change window).
options:
  hashes:
    description:
      - Select the certificates SQL Server uses that are signed with one of these hashes. The article
        lists MD5, SHA224 and SHA512; add C(sha1) to include SHA1 certificates too.
    type: list
    elements: str
    choices: [md5, sha1, sha224, sha256, sha384, sha512]
    default: [md5, sha224, sha512]
  thumbprints:
    description:
      - Select these certificates too (40 hex digits), whatever their hash - still only when SQL Server
        loads, binds or could pick them. Set O(hashes) to V([]) to select by thumbprint only.
    type: list
    elements: str
    default: []
  keep_if_unrestricted:
    description:
      - The purposes a certificate valid for B(all) purposes keeps. Names C(client_auth),
        C(code_signing), C(email_protection), C(time_stamping), C(ocsp_signing) or dotted OIDs.
    type: list
    elements: str
    default: [client_auth]
  force:
    description:
      - Change a certificate even when the RDP listener, a WinRM HTTPS listener or an http.sys binding
        also uses it, or when it is still bound to an instance. The result records what was forced.
    type: bool
    default: false
extends_documentation_fragment:
  - mssql.tls.fix_module
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: Check mode plans and reports the changes, the refusals and the next-start certificates.
  diff_mode:
    description: >-
      Will return details on what has changed (or possibly needs changing in check_mode), when in
      diff mode.
    support: full
    details: Property 9 of each certificate before and after, as purpose names.
  platform:
    support: full
    description: Target OS/families that can be operated against.
    platforms: windows
notes:
  - PowerShell 7's C(EnhancedKeyUsageList) shows only the extension, so it keeps listing Server
    Authentication after this change; Windows PowerShell 5.1, C(certutil -v -store My <thumbprint>) and
    the facts of this collection show the effective purposes.
  - C(playbooks/rollback.yml) restores the prior property exactly (deleted again when there was none).
seealso:
  - module: mssql.tls.sql_encryption
  - module: mssql.tls.sql_service
  - module: mssql.tls.tls_facts
author:
  - mssql.tls developers (@mssql-tls)
"""

EXAMPLES = r"""
- name: Gather once; every fix module plans from these facts
  mssql.tls.tls_facts:

- name: Take Server Authentication away from the MD5/SHA224/SHA512 certificates SQL Server uses
  mssql.tls.certificate_purpose:
  register: purpose

- name: Also SHA1 ones, and one certificate by thumbprint
  mssql.tls.certificate_purpose:
    hashes: [md5, sha1, sha224, sha512]
    thumbprints: [3f2a9c1d5e7b8a6c4d2e0f1a3b5c7d9e1f2a4b6c]

- name: Restart the instances whose next start loads another certificate
  mssql.tls.sql_service:
    instances: "{{ purpose.restart_pending_instances }}"
  when: purpose.restart_pending_instances | length > 0
"""

RETURN = r"""
changed:
  description: Whether a property was written (in check mode - whether one would be).
  returned: always
  type: bool
plan:
  description:
    - The plan - C(changes) (target, before, after, activation, instances), C(ops) (the agent write ops
      with their C(expect) preconditions), C(activations), C(blocked) and C(warnings) (each with a
      rendered C(message)), C(forced).
  returned: always
  type: dict
blocked:
  description:
    - Certificates left alone and why (C(certificate_used_elsewhere), C(certificate_still_bound),
      C(bindings_not_read)), each with C(message).
  returned: always
  type: list
  elements: dict
forced:
  description: Whether C(force) overrode at least one refusal.
  returned: always
  type: bool
next_start:
  description:
    - Per instance id - which certificate its next start loads once the plan is applied. C(kind) is
      C(bound), C(auto_pick), C(auto_pick_one_of) (the choice among C(candidates) is SQL Server's),
      C(self_generated) or C(start_fails) (with C(reason)); C(weak) when a weak hash is among them.
  returned: always
  type: dict
  sample:
    MSSQL15.MSSQLSERVER:
      {instance: MSSQLSERVER, kind: self_generated, thumbprint: null, candidates: [], weak: false}
restart_required:
  description: A change was made (or would be) that takes effect at the next start of SQL Server.
  returned: always
  type: bool
restart_instances:
  description: The instances (ids) whose next start picks up a change of this task.
  returned: always
  type: list
  elements: str
restart_pending_instances:
  description:
    - The instances whose next start loads another certificate than their last start did, whether
      this task or an earlier run changed it - what the C(sql_restart) role restarts.
  returned: always
  type: list
  elements: str
reboot_required:
  description: Always false for this module.
  returned: always
  type: bool
journal_id:
  description: The host's journal record of the apply batch (C(<run_id>.certificate_purpose.<n>-<nonce>)).
  returned: always
  type: str
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
  description: Whether the module had to gather facts itself.
  returned: always
  type: bool
ansible_facts:
  description: After a change, C(mssql_tls) with the new property values folded in.
  returned: when a change was applied
  type: dict
"""
