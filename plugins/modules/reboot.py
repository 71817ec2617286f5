# Copyright: mssql.tls developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: reboot
short_description: Reboot a Windows host inside the change window and wait for its new boot
version_added: 1.1.0
description:
  - Schedules a restart through the mssql.tls agent (C(shutdown.exe /r) with a reason, as
    M(ansible.windows.win_reboot) does), after writing a journal record on the host, then polls the
    host until it answers again with a new boot time. Schannel protocol keys and the Policy
    cipher-suite list take effect only then.
  - With O(window_start) and O(window_end) the reboot happens only while the change window is open,
    in the host's local time (read from the host's clock in the gather); outside it nothing happens
    and the result says C(pending=true).
  - Connection failures while the host is down are expected and retried with a back-off
    (2, 4, 8, 12 seconds ...) until O(reboot_timeout).
options:
  reason:
    description:
      - The reason shown to logged-on users and recorded in the System log.
      - 1-200 printable ASCII characters, no quotes or backslashes.
    type: str
    default: "mssql.tls: activate Schannel changes"
  delay_s:
    description: Seconds between scheduling the restart and the restart itself (0-600).
    type: int
    default: 5
  reboot_timeout:
    description: Seconds to wait for the host to come back with a new boot time.
    type: int
    default: 600
  window_start:
    description:
      - Start of the change window in the host's local time, C(HH:MM) (every day) or
        C(YYYY-MM-DDTHH:MM) (once). Set together with O(window_end); unset means always allowed.
    type: str
  window_end:
    description: End of the change window (exclusive); an end before the start wraps past midnight.
    type: str
  facts:
    description:
      - The C(mssql_tls) facts (for the host's clock). Defaults to C(ansible_facts.mssql_tls); gathered
        when absent and a window is set.
    type: dict
  run_id:
    description: Run id of the change window, for the journal record (generated when not given).
    type: str
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: In check mode the host is not rebooted; C(changed) says it would be.
  diff_mode:
    description: >-
      Will return details on what has changed (or possibly needs changing in check_mode), when in
      diff mode.
    support: none
  platform:
    support: full
    description: Target OS/families that can be operated against.
    platforms: windows
seealso:
  - module: mssql.tls.schannel_protocols
  - module: ansible.windows.win_reboot
author:
  - mssql.tls developers (@mssql-tls)
"""

EXAMPLES = r"""
- name: Apply the TLS 1.2 policy
  mssql.tls.schannel_protocols:
  register: tls12

- name: Reboot between 22:00 and 04:00 host time, only when needed
  mssql.tls.reboot:
    window_start: "22:00"
    window_end: "04:00"
  when: tls12.reboot_required
"""

RETURN = r"""
rebooted:
  description: Whether the host was rebooted.
  returned: always
  type: bool
pending:
  description: The reboot was not done because the change window is closed.
  returned: always
  type: bool
previous_boot_utc:
  description: Boot time before the reboot.
  returned: when rebooted
  type: str
boot_utc:
  description: Boot time after the reboot.
  returned: when rebooted
  type: str
elapsed:
  description: Seconds from scheduling until the host answered with the new boot time.
  returned: when rebooted
  type: float
journal_id:
  description: The journal record written before the reboot was scheduled.
  returned: when rebooted
  type: str
host_local_time:
  description: The host's local time the change window was checked against.
  returned: when a window is set
  type: str
run_id:
  description: The run id of the journal record.
  returned: always
  type: str
"""
