# Copyright: mssql.tls developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: pairing
short_description: Show which client host cannot talk to which SQL Server instance, and why
version_added: 1.1.0
description:
  - Error 10054 is a disagreement between two machines. This module pairs the client hosts of the
    inventory (the group O(clients_group)) with the SQL Server instances of the play and decides, for
    every driver family on the client host, whether the TLS handshake succeeds - scenario 1 (no TLS
    protocol in common), scenario 2 (no cipher suite in common for the certificate's key type) or
    scenario 5 across hosts (a TLS_DHE suite negotiated between ends that differ in the DH
    leading-zero fix, KB4557473) - the way Schannel decides it; the server's suite order wins.
  - "A client's offer comes from its own facts: the TLS versions effective on the client side of
    Schannel that the driver can use (TLS 1.2 only for drivers and .NET Framework versions that
    support it, KB3135244), and the host's cipher-suite list in force (Group Policy, local, or the
    OS default list of its Windows release). A SQL Server instance accepts what its build speaks and
    the server side of Schannel allows, with the suites in force on its host."
  - "Which client connects to which instance comes from three sources, each recorded on the pair:
    C(declared) (the client's variable C(mssql_tls_connects_to), entries C(host) or
    C(host/INSTANCE)), C(observed) (the C([CLIENT: address]) of the 17830 lines in the instance's
    ERRORLOG, matched to the client hosts by C(ansible_host)), else C(assumed) (the client against
    every instance of every other SQL Server host of O(hosts))."
  - The variable C(mssql_tls_client_drivers) of a client host (driver families such as C(SNAC11),
    C(ODBC13+), C(MDAC), C(MSOLEDBSQL), C(.NET Framework), or driver names) limits the pairs to the
    drivers its applications use; by default every installed one is paired.
  - Runs on the controller only, from the facts the play gathered (M(mssql.tls.tls_facts)); it never
    connects to a host. Run it once (C(run_once)) after every host was gathered.
  - Returns per SQL Server host the C(peers) for the TLS 1.2 safety gate of
    M(mssql.tls.schannel_protocols) (its C(peers) option, the C(tls12_peers) variable of the
    C(mssql.tls.tls12) role).
options:
  hosts:
    description:
      - The inventory hosts to pair (client hosts and SQL Server hosts), usually C(ansible_play_hosts_all).
    type: list
    elements: str
    required: true
  clients_group:
    description:
      - The inventory group of the client hosts (application servers).
      - A host may be both a client and a SQL Server host.
    type: str
    default: mssql_tls_clients
  facts_var:
    description:
      - The registered result of M(mssql.tls.tls_facts) on each host; when a host has none, its
        C(ansible_facts.mssql_tls) is used.
    type: str
    default: audit_facts_result
  lang:
    description: Language of the finding and note texts.
    type: str
    choices: [en, ja]
    default: en
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: Nothing is changed; check mode returns the same result.
  diff_mode:
    description: >-
      Will return details on what has changed (or possibly needs changing in check_mode), when in
      diff mode.
    support: none
  platform:
    support: full
    description: Target OS/families that can be operated against.
    platforms: all
    details: Controller side only.
notes:
  - TDS 8.0 strict encryption (C(ForceStrict)) is not modelled; drivers are judged on TDS 7.x, where
    no SQL Server driver negotiates TLS 1.3.
  - Schannel does not fall back to a lower protocol version when no suite is shared for the highest
    one, so the pair fails there (scenario 2).
seealso:
  - module: mssql.tls.tls_facts
  - module: mssql.tls.assess
  - module: mssql.tls.schannel_protocols
  - module: mssql.tls.audit_report
author:
  - mssql.tls developers (@mssql-tls)
"""

EXAMPLES = r"""
- name: Gather on every SQL Server host and every application server (one round trip each)
  mssql.tls.tls_facts:
  register: audit_facts_result

- name: Pair them on the controller
  mssql.tls.pairing:
    hosts: "{{ ansible_play_hosts_all }}"
  register: pairing
  run_once: true

- name: Hand each SQL Server host the clients that connect to it, for the TLS 1.2 safety gate
  ansible.builtin.set_fact:
    mssql_tls_peers: "{{ pairing.peers[inventory_hostname] | default([]) }}"

# Inventory: an application server that declares its servers and the drivers its applications use
# mssql_tls_clients:
#   hosts:
#     app01:
#       mssql_tls_connects_to: [sql01, sql02/REPORTS]
#       mssql_tls_client_drivers: [SNAC11, .NET Framework]
"""

RETURN = r"""
pairs:
  description:
    - One entry per (client host, driver family, SQL Server instance) - C(status) (C(connects),
      C(fails), C(intermittent), C(unknown)), C(scenario) (1, 2, 5 or null), C(code), the negotiated
      C(protocol) and C(suite), C(sources), what each end offers, the DH fix of each end, and for a
      failing pair C(remedy), C(fixable_by) and C(clears_with) (the upgrade that clears it).
  returned: always
  type: list
  elements: dict
  sample:
    - id: "app01|ODBC13+|sql01/MSSQLSERVER"
      client: app01
      driver: ODBC13+
      server: sql01
      instance: MSSQLSERVER
      sources: [observed]
      status: intermittent
      scenario: 5
      code: dhe_leading_zero_mismatch
      protocol: TLS 1.2
      suite: TLS_DHE_RSA_WITH_AES_256_GCM_SHA384
      dh_fix: {client: false, server: true}
      remedy: remove_dhe_on_server
      fixable_by: cipher_suites
      clears_with: null
matrix:
  description:
    - Client hosts x instances (C(host/INSTANCE)); each cell has the worst C(status) of the drivers,
      the C(scenarios) of the failing ones, C(sources), the status per driver and the pair ids.
  returned: always
  type: dict
peers:
  description:
    - Per SQL Server host, the client hosts and driver families that connect to it -
      C({host, driver, family, protocols, source, clears_with}), the C(peers) of
      M(mssql.tls.schannel_protocols).
  returned: always
  type: dict
findings:
  description:
    - Per host, the findings of its failing pairs (ids C(pair.s1.no_common_protocol),
      C(pair.s2.no_common_cipher_suite), C(pair.s5.dhe_leading_zero_mismatch)), in the shape of
      M(mssql.tls.assess) findings; C(target) names the pair (C(client->server/INSTANCE)). Each is
      on the client host and on the SQL Server host.
  returned: always
  type: dict
links:
  description: Every (client, server, instance) link with its C(sources).
  returned: always
  type: list
  elements: dict
notes:
  description:
    - What could not be used - C(code) (C(no_facts), C(unknown_host), C(not_a_sql_server),
      C(unknown_instance), C(address_not_in_inventory), C(address_not_a_client)), C(host), C(data) and
      a rendered C(message).
  returned: always
  type: list
  elements: dict
summary:
  description:
    - Counts - C(clients), C(instances), C(pairs), C(by_status), C(by_scenario) (failing pairs),
      C(failing_cells).
  returned: always
  type: dict
clients:
  description: The client hosts that were paired (with facts).
  returned: always
  type: list
  elements: str
paired_at:
  description:
    - Controller time (UTC) of this result. The result of a C(run_once) task stays on hosts that skip a
      later run of it; M(mssql.tls.audit_report) takes the newest.
  returned: always
  type: str
  sample: "2026-12-07T20:15:50.123456Z"
servers:
  description: The hosts with SQL Server instances.
  returned: always
  type: list
  elements: str
"""
