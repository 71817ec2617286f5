# Copyright: mssql.tls developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: sql_encryption
short_description: Manage the certificate binding, ForceEncryption and ForceStrict of SQL Server instances
version_added: 1.1.0
description:
  - Manages the C(SuperSocketNetLib) values of each selected instance
    (C(HKLM\SOFTWARE\Microsoft\Microsoft SQL Server\<id>\MSSQLServer\SuperSocketNetLib)) - C(Certificate),
    C(ForceEncryption) and C(ForceStrict). SQL Server reads them at its next start.
  - O(certificate) set to a thumbprint binds that certificate (written in lower case, as SQL Server
    Configuration Manager requires), after checking it against SQL Server's certificate requirements -
    Server Authentication among its effective purposes, a private key, a key SQL Server can use (a CSP
    key with C(AT_KEYEXCHANGE); a CNG key only from SQL Server 2019), the subject CN or a DNS SAN equal
    to the FQDN clients use (the virtual server name of a failover cluster instance), a signature hash
    that is not weak (MD5, SHA224, SHA512), and a validity period that includes now. O(force) binds
    past these checks (not past a certificate missing from the store).
  - Binding a certificate also grants the instance's service SID (C(NT SERVICE\MSSQLSERVER),
    C(NT SERVICE\MSSQL$<name>)) read access to its private key, for CSP and CNG keys, by adding one
    access entry (C(GENERIC_READ)) to the key's access list. The prior list is journaled and rollback
    restores it.
  - O(certificate) set to an empty string clears the binding, the first step of Microsoft's fix for
    scenario 4 (SQL Server then picks a certificate itself or generates one).
  - Before any change the result says, per instance, which certificate the next start will load
    (C(next_start)) - the bound one, one SQL Server picks itself, or a self-generated one - and warns
    when it is weak, when the start would fail, or when C(ForceStrict) would be left without a
    configured certificate.
  - Plans from the facts the play already gathered (C(ansible_facts.mssql_tls)), so a host with
    nothing to change costs no further round trip. Changes are applied in one agent batch, after a
    journal record with every prior value was written on the host, each with a compare-and-set
    precondition. The updated facts are returned for the next task.
options:
  instances:
    description:
      - Instance names or ids (C(MSSQLSERVER), C(MSSQL15.PAYROLL)). Default - every instance of the host.
    type: list
    elements: str
  certificate:
    description:
      - Thumbprint (40 hex digits) of a C(LocalMachine\My) certificate to bind, or an empty string to
        clear the binding. Not given - the binding is left as it is.
    type: str
  hashes:
    description:
      - Only change instances whose bound certificate is signed with one of these hashes (e.g.
        C([md5, sha224, sha512]) to replace only weak bindings). Not given - every selected instance.
    type: list
    elements: str
  force_encryption:
    description: Set C(ForceEncryption) (on - every session must be encrypted). Not given - left as it is.
    type: bool
  force_strict:
    description:
      - Set C(ForceStrict) (SQL Server 2022 and later, TDS 8.0 only). Turning it on breaks clients and
        features without TDS 8.0 (Availability Groups, failover cluster instances, SQL Server Agent,
        replication, linked servers, older tools); the plan warns. Not given - left as it is.
    type: bool
  grant_key_access:
    description: Grant the instance's service SID read access to the bound certificate's private key.
    type: bool
    default: true
  force:
    description:
      - Bind a certificate that fails the requirements (recorded in the result). SQL Server may then
        fail to start; M(mssql.tls.sql_service) puts the previous binding back if it does.
    type: bool
    default: false
  facts:
    description:
      - The C(mssql_tls) facts to plan from. Defaults to C(ansible_facts.mssql_tls) of the host;
        when there are none the module gathers them itself (one round trip).
    type: dict
  run_id:
    description:
      - Groups the journal records of one change window (C(20261207T191500Z-ab12cd)); rollback
        restores a run, and M(mssql.tls.sql_service) undoes a binding of that run that keeps SQL Server
        from starting. Generated when not given; the roles pass C(mssql_tls_run_id).
    type: str
  lang:
    description: Language of the messages in the result.
    type: str
    choices: [en, ja]
    default: en
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: Check mode validates, plans and reports the changes and the next-start certificates.
  diff_mode:
    description: >-
      Will return details on what has changed (or possibly needs changing in check_mode), when in
      diff mode.
    support: full
    details: Every registry value and key access list before and after.
  platform:
    support: full
    description: Target OS/families that can be operated against.
    platforms: windows
notes:
  - On a failover cluster instance, write the binding on the node that owns it while it is online
    (cluster registry checkpointing), and install the certificate on every node.
  - C(playbooks/rollback.yml) restores every prior value and access list exactly.
seealso:
  - module: mssql.tls.certificate_purpose
  - module: mssql.tls.sql_service
  - module: mssql.tls.tls_facts
author:
  - mssql.tls developers (@mssql-tls)
"""

EXAMPLES = r"""
- name: Clear the binding of instances bound to a weak certificate (scenario 4, step 1)
  mssql.tls.sql_encryption:
    certificate: ""
    hashes: [md5, sha224, sha512]

- name: Bind a good certificate to one instance and require encryption
  mssql.tls.sql_encryption:
    instances: [MSSQLSERVER]
    certificate: 5d1f0c9e8b7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e
    force_encryption: true
  register: binding

- name: Restart it in the change window
  mssql.tls.sql_service:
    instances: "{{ binding.restart_pending_instances }}"
    run_id: "{{ binding.run_id }}"
  when: binding.restart_pending_instances | length > 0
"""

RETURN = r"""
changed:
  description: Whether anything was written (in check mode - whether anything would be).
  returned: always
  type: bool
plan:
  description:
    - The plan - C(changes), C(ops) (with their C(expect) preconditions), C(activations), C(blocked)
      and C(warnings) (each with a rendered C(message)), C(forced).
  returned: always
  type: dict
blocked:
  description:
    - Changes refused - a certificate that fails a requirement (C(certificate_no_server_auth),
      C(certificate_no_private_key), C(certificate_key_unusable), C(certificate_name_mismatch),
      C(certificate_weak_hash), C(certificate_not_valid_now), C(certificate_not_in_store)), an access
      list that could not be read (C(key_acl_unreadable)), C(force_strict_unsupported); each with C(message).
  returned: always
  type: list
  elements: dict
forced:
  description: Whether C(force) overrode at least one refusal.
  returned: always
  type: bool
next_start:
  description: Per instance id, the certificate its next start loads (see M(mssql.tls.certificate_purpose)).
  returned: always
  type: dict
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
  description: The instances whose next start loads another certificate than their last start did, or fails.
  returned: always
  type: list
  elements: str
reboot_required:
  description: Always false for this module.
  returned: always
  type: bool
journal_id:
  description: The host's journal record of the apply batch (C(<run_id>.sql_encryption.<n>-<nonce>)).
  returned: always
  type: str
journal_ids:
  description: Every journal record written.
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
  description: After a change, C(mssql_tls) with the new values folded in.
  returned: when a change was applied
  type: dict
"""
