# Copyright: mssql.tls developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: agent_ping
short_description: Check that the mssql.tls agent runs on a Windows host
description:
  - Runs one batch of the mssql.tls PowerShell agent through the task's connection
    (C(winrm), C(psrp) or C(ssh)) and returns who answered.
  - The agent is sent with the command; nothing is installed on the host.
  - Costs exactly one remote command, like every other agent batch.
  - Read-only. Use it to check connectivity and credentials before an audit.
version_added: 1.0.0
author:
  - mssql.tls developers (@mssql-tls)
options:
  data:
    description:
      - Value to return in the RV(ping) return value.
    type: str
    default: pong
attributes:
  check_mode:
    support: full
    description: The module only reads, so it behaves the same in check mode.
  diff_mode:
    support: none
    description: Nothing is changed, so there is no diff.
  platform:
    support: full
    platforms: windows
    description: Targets Windows hosts with Windows PowerShell 5.1.
notes:
  - The action runs on the controller and sends the agent through the connection plugin.
seealso:
  - module: mssql.tls.tls_facts
"""

EXAMPLES = r"""
- name: Check the agent answers on every SQL Server host
  mssql.tls.agent_ping:

- name: Ad hoc
  # ansible -i inventory.yml windows -m mssql.tls.agent_ping
  mssql.tls.agent_ping:
    data: hello
"""

RETURN = r"""
ping:
  description: The value of O(data).
  returned: success
  type: str
  sample: pong
elapsed_ms:
  description: Wall time of the agent batch, as seen from the controller, in milliseconds.
  returned: success
  type: int
  sample: 412
agent:
  description: The agent that ran.
  returned: success
  type: dict
  contains:
    protocol:
      description: Agent protocol version.
      type: int
      sample: 1
    sha256:
      description: SHA-256 of the agent script that the bootstrap verified before running it.
      type: str
host:
  description: Identity of the host that answered.
  returned: success
  type: dict
  contains:
    computer_name:
      description: NetBIOS computer name.
      type: str
    dns_domain:
      description: DNS domain of the host.
      type: str
    product_name:
      description: ProductName from the registry.
      type: str
      sample: Windows Server 2019 Datacenter
    installation_type:
      description: Server, Server Core or Client.
      type: str
    os_build:
      description: major.minor.build.UBR.
      type: str
      sample: 10.0.17763.5458
    ps_version:
      description: PowerShell version that ran the agent.
      type: str
    last_boot_utc:
      description: Last boot time, ISO 8601 UTC.
      type: str
"""
