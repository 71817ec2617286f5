# Copyright: mssql.tls developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: tls_facts
short_description: Gather the TLS facts behind SQL Server error 10054 in one round trip
version_added: 1.0.0
description:
  - Reads, in a single agent batch, everything the audit needs from a Windows host that runs
    SQL Server - Schannel protocol keys (server and client side), the cipher-suite lists
    (Policy, Local and C(Get-TlsCipherSuite)), .NET Framework, WinHTTP and FIPS settings,
    SQL Server instances (build, TLS 1.2 support per KB3135244, services, bound and loaded
    certificate, ForceEncryption, ForceStrict, cluster and Always On state, ERRORLOG
    evidence), the certificates of C(LocalMachine\My), client drivers and Schannel events.
  - Returns them normalised as the C(mssql_tls) fact, with a C(schema_version). Effective
    values are computed on the controller (for example an absent protocol key means the
    OS default of that Windows version).
  - The host needs nothing installed; the agent is sent through the task's own connection
    (C(winrm), C(psrp) or C(ssh)) and only reads.
  - The schema is documented in C(docs/facts-schema.md) of the collection.
options: {}
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: The module only reads; check mode gathers the same facts.
  diff_mode:
    description: >-
      Will return details on what has changed (or possibly needs changing in check_mode), when in
      diff mode.
    support: none
  platform:
    support: full
    description: Target OS/families that can be operated against.
    platforms: windows
notes:
  - Windows PowerShell 5.1 is required on the host (Windows Server 2012 R2 with WMF 5.1 and later).
  - C(Get-TlsCipherSuite) does not exist before Windows Server 2016; there the Local list or
    the OS default list is used, which is normal.
seealso:
  - module: mssql.tls.assess
author:
  - mssql.tls developers (@mssql-tls)
"""

EXAMPLES = r"""
- name: Gather the TLS facts of the SQL Server hosts
  mssql.tls.tls_facts:

- name: Show which cipher-suite list is in force and its TLS_DHE suites
  ansible.builtin.debug:
    msg: "{{ ansible_facts.mssql_tls.cipher_suites.source }}: {{ ansible_facts.mssql_tls.cipher_suites.dhe }}"
"""

RETURN = r"""
ansible_facts:
  description: Facts added to the host.
  returned: always
  type: dict
  contains:
    mssql_tls:
      description:
        - The normalised TLS facts of the host; see C(docs/facts-schema.md) for every field.
      returned: always
      type: dict
      contains:
        schema_version:
          description: Version of the facts schema.
          type: int
          sample: 1
        gathered_at:
          description: UTC time the facts were built on the controller.
          type: str
          sample: "2026-11-30T03:15:00Z"
        host:
          description: Computer name, DNS domain, FQDN, PowerShell version, last boot.
          type: dict
        os:
          description: Windows version tuple, release, TLS 1.3 support, DHE leading-zero fix status.
          type: dict
        schannel:
          description: >-
            Effective protocol state per side with its source (registry or OS default), Schannel
            switches.
          type: dict
        cipher_suites:
          description: >-
            The list in force, its source (policy, local, os_default), the TLS_DHE subset, the
            policy list checks.
          type: dict
        dotnet:
          description: >-
            SchUseStrongCrypto and SystemDefaultTlsVersions per .NET Framework key, installed .NET 4
            version.
          type: dict
        winhttp:
          description: DefaultSecureProtocols of both bitnesses, decoded.
          type: dict
        fips:
          description: Whether FIPS mode is on.
          type: dict
        sql:
          description: >-
            SQL Server instances with build, TLS 1.2 verdict, services, certificates and encryption
            settings.
          type: dict
        certificates:
          description: >-
            Certificates of LocalMachine\My with signature hash, key, purposes and auto-pick
            eligibility.
          type: list
          elements: dict
        drivers:
          description: SQL Server client drivers (ODBC and OLE DB) with versions and TLS 1.2 support.
          type: list
          elements: dict
        cluster:
          description: Failover cluster membership and SQL Server cluster resources.
          type: dict
        schannel_events:
          description: Counts of Schannel events 36874, 36888 and 36887 in the System log.
          type: dict
        gather_errors:
          description: Reads that failed on the host (also shown as warnings).
          type: list
          elements: dict
"""
