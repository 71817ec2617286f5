# Copyright: mssql.tls developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: sql_service
short_description: Restart SQL Server instances safely in a change window until they serve their certificate
version_added: 1.1.0
description:
  - Restarts the given SQL Server instances so that they load their configured certificate (SQL Server
    reads C(SuperSocketNetLib) and picks its certificate only when it starts).
  - A standalone instance is restarted with its dependents - the dependents that run (SQL Server Agent,
    PolyBase, Launchpad ...) are stopped first and, after the engine is back, exactly those are started
    again.
  - A failover cluster instance is never restarted through its service - its C(SQL Server) cluster
    resource is taken offline and brought online, and only on the node that owns it; other nodes skip
    it and name the owner.
  - An Always On replica is restarted secondaries first. The local replica is primary when this node owns
    an online C(SQL Server Availability Group) cluster resource; a primary is restarted last and only with
    O(allow_primary_restart). Restarting a primary takes its availability groups' primary role down with
    it - the cluster fails them over to a synchronized secondary where automatic failover is configured,
    otherwise their databases are unavailable until the instance is back.
  - Outside the change window (O(window_start), O(window_end), in the host's local time) nothing is
    restarted and the result says the restart is pending.
  - Readiness, without any SQL login - the service is C(Running), the new ERRORLOG has the "loaded for
    encryption" line of this start with the expected certificate (26013 with its thumbprint, or 26018 for
    the self-generated one), and the controller's own TDS prober sees that certificate on the instance
    port. Where the facts say no handshake can succeed (no TLS version in common between the SQL Server
    build and the server side of Schannel), readiness uses the service state and the ERRORLOG alone and
    says so. Past O(timeout) the task fails quoting the ERRORLOG lines.
  - If the engine fails to start (26014/17182 in its ERRORLOG, typically after a new binding), the
    C(SuperSocketNetLib) values of the run O(run_id) for that instance are restored from the host's
    journal with compare-and-set, the instance and the dependents that were running are started again,
    and the task fails naming both the failed start and the restore. SQL Server is never left stopped.
  - Before restarting, the module reads the host once (the fix modules changed it since the play's
    gather); afterwards it returns the facts gathered after the restarts.
options:
  instances:
    description: Instance names or ids to restart. An empty list restarts nothing and costs no round trip.
    type: list
    elements: str
    required: true
  window_start:
    description:
      - Change window start in the host's local time, C(HH:MM) (every day; an end before the start wraps
        past midnight) or C(YYYY-MM-DDTHH:MM) (one occasion). Not set on both ends - always allowed.
    type: str
  window_end:
    description: Change window end (same forms as O(window_start)).
    type: str
  allow_primary_restart:
    description: Restart an instance that is the primary replica of an availability group (last).
    type: bool
    default: false
  timeout:
    description: Seconds to wait for each instance to stop, start and become ready.
    type: int
    default: 180
  probe:
    description:
      - Confirm with the controller's TDS prober that the instance port presents the expected certificate.
    type: bool
    default: true
  facts:
    description:
      - C(mssql_tls) facts for the window check and the instance list. Defaults to
        C(ansible_facts.mssql_tls); gathered when there are none.
    type: dict
  run_id:
    description:
      - The run whose binding changes are undone when a start fails (the roles pass C(mssql_tls_run_id));
        also groups this module's own journal records. Not given - a new id, and the newest run that
        changed the instance's binding is the one undone.
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
    details: Check mode reports which instances would be restarted and how; nothing is restarted.
  diff_mode:
    description: >-
      Will return details on what has changed (or possibly needs changing in check_mode), when in
      diff mode.
    support: full
    details: Per instance, the certificate served before and after the restart (check mode - expected).
  platform:
    support: full
    description: Target OS/families that can be operated against.
    platforms: windows
notes:
  - With C(serial) batching, put the hosts of an availability group's secondary replicas in earlier
    batches than the primary's; within one batch every host restarts its secondaries first.
seealso:
  - module: mssql.tls.sql_encryption
  - module: mssql.tls.certificate_purpose
  - module: mssql.tls.reboot
author:
  - mssql.tls developers (@mssql-tls)
"""

EXAMPLES = r"""
- name: Restart the default instance tonight only
  mssql.tls.sql_service:
    instances: [MSSQLSERVER]
    window_start: "22:00"
    window_end: "05:00"
  register: restart

- name: Say so when it is still pending
  ansible.builtin.debug:
    msg: "{{ restart.msg }}"
  when: restart.pending
"""

RETURN = r"""
changed:
  description: Whether an instance was restarted (in check mode - would be).
  returned: always
  type: bool
restarted:
  description:
    - One entry per instance restarted - C(instance), C(method) (C(service) or C(cluster_resource)),
      C(expected) (the certificate its start was to load), C(readiness) (C(service_state),
      C(loaded_line), C(loaded_thumbprint), C(self_generated), C(probe) with C(used), C(seen) or the
      C(reason) it was not used), C(stopped), C(started), C(journal_ids).
  returned: always
  type: list
  elements: dict
not_restarted:
  description:
    - Instances not restarted here, each with C(code) (C(not_owner), C(primary_refused),
      C(cluster_resource_not_found), C(service_disabled)) and C(message).
  returned: always
  type: list
  elements: dict
pending:
  description: The change window is closed - nothing was restarted.
  returned: always
  type: bool
pending_instances:
  description: The instances (ids) whose restart is pending.
  returned: always
  type: list
  elements: str
planned:
  description: In check mode, the restarts that would be done (C(instance), C(method)).
  returned: check mode
  type: list
  elements: dict
notes:
  description:
    - What the operator should know about the restarts (a primary replica restarted, readiness without
      the prober).
  returned: success
  type: list
  elements: str
host_local_time:
  description: The host's local time the window was checked against.
  returned: when a window is set
  type: str
run_id:
  description: The run id of this module's journal records.
  returned: always
  type: str
ansible_facts:
  description: The C(mssql_tls) facts gathered after the restarts.
  returned: when an instance was restarted
  type: dict
"""
