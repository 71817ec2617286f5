# Copyright: mssql.tls developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: schannel_protocols
short_description: Enforce TLS 1.2 in Schannel, .NET and WinHTTP behind a safety gate
version_added: 1.1.0
description:
  - Sets the Schannel protocol keys
    (C(HKLM\SYSTEM\CurrentControlSet\Control\SecurityProviders\SCHANNEL\Protocols)) to the desired
    state per protocol and side. A protocol that is set is always written with both values
    (C(Enabled) and C(DisabledByDefault)) on the chosen sides - half-written keys are a common
    source of trouble. By default TLS 1.2 is enabled and SSL 2.0, SSL 3.0, TLS 1.0 and TLS 1.1 are
    disabled, on both the server and the client side.
  - TLS 1.3 is only touched where the OS supports it (Windows Server 2022 and later). On an older OS,
    TLS 1.3 keys that someone added are removed (Microsoft calls enabling TLS 1.3 there "not a safe
    system configuration").
  - Also sets the .NET Framework C(SchUseStrongCrypto) and C(SystemDefaultTlsVersions) values
    (v4.0.30319 and v2.0.50727, 64- and 32-bit views, for the frameworks that are installed) and the
    WinHTTP C(DefaultSecureProtocols) value (TLS 1.2, plus TLS 1.3 where the client side has it).
  - A safety gate refuses to disable TLS 1.0/1.1 while something still needs them, names each blocker
    with the upgrade that clears it, and applies the rest of the plan. Server-side changes are blocked
    by SQL Server builds without TLS 1.2 (KB3135244, branch-aware for the GDR and CU builds of 2012 and
    2014) and by client hosts that connect to this host and speak nothing newer (O(peers)).
    Client-side changes are blocked by installed client drivers without TLS 1.2 (including the
    C(SQL Server) ODBC driver and SQLOLEDB built into Windows, see O(builtin_driver_blocks)) and by a
    .NET Framework that cannot use TLS 1.2. It never leaves a side without any protocol and never
    disables TLS 1.2 on a SQL Server host unless forced.
  - Plans from the facts the play already gathered (C(ansible_facts.mssql_tls)), so a host with
    nothing to change costs no further round trip. Changes are applied in one agent batch, after a
    journal record with every prior value was written on the host, each write with a compare-and-set
    precondition. When the host changed since the gather, it gathers once more and plans again.
  - Schannel changes take effect at the next reboot; the module reports C(reboot_required) and never
    reboots (see M(mssql.tls.reboot) and the C(mssql.tls.tls12) role).
options:
  protocols:
    description:
      - Desired state per protocol, merged over the defaults. Keys are C(SSL 2.0), C(SSL 3.0),
        C(TLS 1.0), C(TLS 1.1), C(TLS 1.2) and C(TLS 1.3). A value is C(enabled), C(disabled) or
        C(keep) (leave as it is) for both sides, or a mapping with the keys C(server) and C(client); a side
        left out of the mapping is C(keep).
      - Defaults - C(TLS 1.2) enabled, C(SSL 2.0), C(SSL 3.0), C(TLS 1.0), C(TLS 1.1) disabled,
        C(TLS 1.3) keep.
    type: dict
    default: {}
  remove_unsupported_tls13:
    description: Remove C(Protocols\TLS 1.3) keys on an OS without TLS 1.3.
    type: bool
    default: true
  dotnet_strong_crypto:
    description: Set C(SchUseStrongCrypto=1) for the installed .NET Frameworks.
    type: bool
    default: true
  dotnet_system_default_tls_versions:
    description: Set C(SystemDefaultTlsVersions=1) for the installed .NET Frameworks.
    type: bool
    default: true
  dotnet35_update_installed:
    description:
      - The .NET 3.5 TLS update (KB3154520) is installed on Windows Server 2012 R2 hosts. Without it
        the v2.0.50727 values are not written there, with a warning; the registry cannot show it.
    type: bool
    default: false
  winhttp_default_secure_protocols:
    description: Set WinHTTP C(DefaultSecureProtocols) in both registry views.
    type: bool
    default: true
  builtin_driver_blocks:
    description:
      - Whether the C(SQL Server) ODBC driver and SQLOLEDB that ship with Windows block client-side
        disabling where they lack TLS 1.2 (Windows Server 2016 and earlier, early 2019 builds).
        Nothing in the registry shows whether an application uses them, so by default they block.
      - C(false) turns the block into a named warning; the audit then keeps reporting the driver-side
        scenario 1 that was chosen.
    type: bool
    default: true
  peers:
    description:
      - The client hosts that connect to the SQL Server instances of this host, as the fleet pairing
        (M(mssql.tls.pairing), its C(peers) for this host) reports them. Disabling a protocol on the
        server side is refused while one of them can use nothing else; the blocker names the client
        host and its driver.
      - Each item is a mapping - C(host) and C(driver) (strings), C(protocols) (the TLS versions the
        driver can use and its host's client side allows, e.g. C([TLS 1.0, TLS 1.1])), and optionally
        C(source) (C(declared), C(observed) or C(assumed), default C(declared)), C(family) (e.g.
        C(SNAC11), C(MDAC)) and C(clears_with) (the upgrade that gives the driver TLS 1.2).
      - The built-in C(SQL Server) ODBC driver and SQLOLEDB (family C(MDAC)) of a client host follow
        O(builtin_driver_blocks) - with C(false) they give a named warning instead of a blocker.
    type: list
    elements: raw
    default: []
  force:
    description:
      - Override the safety gate. The result records every blocker that was forced. Leaving a side
        without any TLS protocol is refused even with force.
    type: bool
    default: false
extends_documentation_fragment:
  - mssql.tls.fix_module
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: Check mode plans and reports the changes and the blockers; nothing is written.
  diff_mode:
    description: >-
      Will return details on what has changed (or possibly needs changing in check_mode), when in
      diff mode.
    support: full
    details: The before and after value of every registry value the plan writes.
  platform:
    support: full
    description: Target OS/families that can be operated against.
    platforms: windows
notes:
  - Values follow Microsoft's guidance - C(Enabled=1)/C(DisabledByDefault=0) to enable,
    C(Enabled=0)/C(DisabledByDefault=1) to disable. An existing non-zero C(Enabled) (IIS Crypto writes
    C(0xffffffff)) already means enabled and is kept.
  - Key names are handled with the .NET registry API on the host, so names containing C(/) are safe.
  - The journal record (under C(%ProgramData%\mssql.tls\journal)) lets C(playbooks/rollback.yml)
    restore every prior value, including keys that did not exist.
seealso:
  - module: mssql.tls.cipher_suites
  - module: mssql.tls.reboot
  - module: mssql.tls.tls_facts
author:
  - mssql.tls developers (@mssql-tls)
"""

EXAMPLES = r"""
- name: Gather once; every fix module plans from these facts
  mssql.tls.tls_facts:

- name: Enforce TLS 1.2 with the defaults (report what the gate refuses)
  mssql.tls.schannel_protocols:
  register: tls12

- name: Keep TLS 1.0 on the client side for an application being upgraded
  mssql.tls.schannel_protocols:
    protocols:
      TLS 1.0: {server: disabled, client: keep}

- name: Proceed although the built-in ODBC driver lacks TLS 1.2 (nothing uses it here)
  mssql.tls.schannel_protocols:
    builtin_driver_blocks: false

- name: Keep TLS 1.0 on the server side while an application server still needs it (fleet pairing)
  mssql.tls.schannel_protocols:
    peers:
      - {host: app01, driver: SQL Server Native Client 11.0, protocols: [TLS 1.0], source: observed}

- name: Reboot only when the change needs it
  mssql.tls.reboot:
  when: tls12.reboot_required
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
    - Blockers that stopped a change, or scenarios this fix cannot remove (C(unfixable)), each with
      C(code), C(target), C(data), C(clears_with), C(forced) and C(message).
  returned: always
  type: list
  elements: dict
  sample:
    - code: sql_build_without_tls12
      target: "server:MSSQLSERVER"
      data: {instance: MSSQLSERVER, version: 12.0.4416.0, first_tls12_build: 12.0.4439.1}
      clears_with: SQL Server 12.0.4439.1 or later (KB3135244)
      forced: false
      unfixable: false
      message: "SQL Server MSSQLSERVER (12.0.4416.0) has no TLS 1.2 build: ..."
forced:
  description: Whether C(force) overrode at least one blocker.
  returned: always
  type: bool
reboot_required:
  description: A change was made (or would be, in check mode) that takes effect at the next reboot.
  returned: always
  type: bool
restart_required:
  description: Always false for this module (Schannel needs a reboot, not a service restart).
  returned: always
  type: bool
activations:
  description: How the changes take effect - C(reboot), C(immediate).
  returned: always
  type: list
  elements: str
journal_id:
  description: The host's journal record of the last apply batch (C(<run_id>.schannel_protocols.<n>-<nonce>)).
  returned: always
  type: str
  sample: 20261207T191500Z-ab12cd.schannel_protocols.1-3f9a
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
