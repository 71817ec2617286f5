# Copyright: mssql.tls developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: rollback
short_description: Restore what a mssql.tls run changed on a host, from the host's own journal
version_added: 1.1.0
description:
  - Every change the fix modules make is preceded by a journal record on the host
    (C(%ProgramData%\mssql.tls\journal)) holding the prior value of every target - registry values
    and keys (including keys that did not exist), certificate property 9, private-key ACLs, cipher
    suites of the Local list. This module reads those records and restores the prior state.
  - It restores the latest run (the newest run that changed something and was not rolled back yet)
    or the run given in O(run), undoing its changes in reverse order.
  - Compare-and-set - a target is restored only while it still holds the value the run wrote. A
    value that someone changed after the run is a conflict - it is reported in C(blocked) and left
    alone, unless O(force) is set. A target already back at its prior value is skipped, so rolling
    back twice changes nothing the second time.
  - The restore itself is journaled (module C(rollback), naming the run it restores), so it can be
    undone in turn. Only a restore that ran to its end marks the run as rolled back - one cut off
    (connection lost, host restarted) or stopped by a failed op leaves the run to the next rollback,
    which restores what is left. A rollback that finds nothing left to restore still writes its
    record (without ops), so the next one goes on to the older runs.
  - The restart and reboot records of activations, and the restore of a SQL Server binding that
    failed to start (M(mssql.tls.sql_service)), change no setting - they do not make a run to roll back.
  - Costs three round trips - read the journal, read the current state, write. In check mode only
    the two reads happen and the result shows what would be restored.
  - It does not reboot or restart; C(reboot_required) and C(restart_instances) say what the restore
    needs (C(playbooks/rollback.yml) does it inside the change window).
options:
  run:
    description:
      - The run id to roll back (C(20261207T191500Z-ab12cd), as returned by the fix modules in
        C(run_id)). Defaults to the latest run not yet rolled back.
    type: str
  force:
    description: Restore also the targets that someone changed after the run (overwriting those changes).
    type: bool
    default: false
  run_id:
    description: Run id for the rollback's own journal record (generated when not given).
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
    details: Reads the journal and the current state, and reports what would be restored.
  diff_mode:
    description: >-
      Will return details on what has changed (or possibly needs changing in check_mode), when in
      diff mode.
    support: full
  platform:
    support: full
    description: Target OS/families that can be operated against.
    platforms: windows
seealso:
  - module: mssql.tls.schannel_protocols
  - module: mssql.tls.reboot
author:
  - mssql.tls developers (@mssql-tls)
"""

EXAMPLES = r"""
- name: Roll back the latest run, in check mode first
  mssql.tls.rollback:
  check_mode: true
  register: preview

- name: Roll back a given run
  mssql.tls.rollback:
    run: 20261207T191500Z-ab12cd
  register: restored

- name: Reboot when the restored settings need it
  mssql.tls.reboot:
  when: restored.reboot_required
"""

RETURN = r"""
rolled_back_run:
  description:
    - The run that was (or, in check mode, would be) rolled back.
    - Null when this host has nothing to roll back (the run did not change it, or it is rolled back
      already); C(msg) then says which, and the task reports no change rather than a failure.
  returned: success
  type: str
records:
  description: Its journal record ids, in the order they were restored.
  returned: success
  type: list
  elements: str
plan:
  description:
    - The restore plan - C(changes) (target, before = now, after = restored), C(ops), C(activations),
      C(blocked).
  returned: always
  type: dict
blocked:
  description: Conflicts - targets changed after the run, left alone unless C(force), each with a C(message).
  returned: always
  type: list
  elements: dict
reboot_required:
  description: A restored value takes effect at the next reboot.
  returned: always
  type: bool
restart_instances:
  description: SQL Server instances whose restored settings take effect at their next start.
  returned: always
  type: list
  elements: str
journal_id:
  description: The rollback's own journal record.
  returned: always
  type: str
"""
