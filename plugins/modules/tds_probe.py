# Copyright: mssql.tls developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: tds_probe
short_description: Probe SQL Server ports over TDS and report what clients see of TLS
version_added: 1.0.0
description:
  - Connects from the controller to each SQL Server port of the host the way a client does and reports
    the TLS protocols and cipher suites the endpoint accepts (in the server's order), the certificate it
    presents, the PRELOGIN C(ENCRYPTION) answer (ForceEncryption), and for a set of client profiles
    (real drivers on real Windows versions) whether they connect or fail with error 10054, and why.
  - C(tds) is the TDS 7.x path every SQL Server has (cleartext PRELOGIN, then TLS inside TDS packets);
    C(strict) is TDS 8.0 (TLS first, ALPN C(tds/8.0), SQL Server 2022); C(tls) is plain TLS on the port.
  - Endpoints are probed concurrently. No agent and no remote command run on the host; the host's
    connection (WinRM, PSRP, SSH) is not used.
  - Each probe is one TCP connection per offered cipher suite and protocol (about 10 to 50 per endpoint);
    SQL Server may log aborted handshakes. Use O(delay) on sensitive hosts.
  - The certificate is observed, never validated (no trust chain or host name check), so a weak or
    expired certificate is reported rather than refused. No credentials or data are sent.
options:
  targets:
    description:
      - Endpoints to probe, each a V(host), V(host:port) or V([ipv6]:port) string, or a mapping with
        C(host), C(port) (default V(1433)) and C(name) (the instance name, copied to the result).
      - Defaults to the host var C(mssql_tls_instances) (a list of C({name, port}); an item may give its
        own C(host)) on the host's C(ansible_host), else its inventory name.
    type: list
    elements: raw
  mode:
    description:
      - Entry path to probe. V(both) probes V(tds) and V(strict) and returns one result for each.
    type: str
    choices: [tds, strict, tls, both]
    default: tds
  profiles:
    description:
      - Client profiles to judge, for example V(snac11-unpatched), V(odbc17), V(odbc18),
        V(odbc18-strict), V(dotnet45-default), V(dotnet48-strong-crypto), V(sqlclient5-mandatory),
        V(sqlclient5-strict), V(snac11-patched), V(windows-2012r2-client).
      - Each profile is judged on the entry path its driver uses; with O(mode=tds) or O(mode=strict) a
        profile of the other path is an error. V([]) judges none.
      - Defaults to every profile of the probed path (all of them for V(tls)).
    type: list
    elements: str
  timeout:
    description: Seconds to wait for the connection and for each answer.
    type: float
    default: 5.0
  exchange_timeout:
    description: Seconds one whole connection may take (connect, PRELOGIN, first server answer).
    type: float
    default: 15.0
  delay:
    description: Seconds to wait between the handshakes of one protocol version.
    type: float
    default: 0.0
  server_name:
    description: SNI host name to send in the ClientHello (not an IP address). By default none is sent.
    type: str
  max_workers:
    description: Endpoints probed at the same time.
    type: int
    default: 8
  baseline:
    description:
      - An earlier probe to compare with, for example the registered result of an earlier
        M(mssql.tls.tds_probe) task, its RV(endpoints) list, or one endpoint result.
      - When given, RV(changes) lists every difference a client would notice.
    type: raw
  lang:
    description:
      - Language of the human text in RV(summary_lines), RV(client_lines), RV(change_lines),
        RV(change_summary) and the C(text) of RV(changes); the machine fields (verdict C(code) and
        C(params), change C(kind), C(item), C(before), C(after), C(regression)) do not change.
      - Cipher suite names, protocol labels, host names and profile names are never translated.
      - The C(reason) and C(warnings) of RV(endpoints[].client_verdicts) stay English (schema 1);
        the verify role sets this from C(mssql_tls_report_lang).
    type: str
    choices: [en, ja]
    default: en
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: The probe only reads; check mode probes the same way and never reports a change.
  diff_mode:
    description: >-
      Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
  platform:
    support: full
    description: Target OS/families that can be operated against.
    platforms: windows
    details: >-
      Runs on the controller and reaches the SQL Server TCP ports directly; the host needs nothing installed.
notes:
  - TLS 1.3 is reported as not applicable on the C(tds) path (TDS 7.x does not carry it);
    probe C(strict) for TLS 1.3.
  - Suites outside the prober's table are not found; Python's C(ssl) is used for one full handshake only,
    so SSL 3.0, RC4 and 3DES acceptance is still detected.
seealso:
  - module: mssql.tls.tls_facts
  - module: mssql.tls.assess
author:
  - mssql.tls developers (@mssql-tls)
"""

EXAMPLES = r"""
- name: Probe every SQL Server instance of the host (host var mssql_tls_instances)
  mssql.tls.tds_probe:
  register: probe

- name: Print what each client profile sees
  ansible.builtin.debug:
    msg: "{{ probe.client_lines }}"

- name: Probe explicit endpoints on both entry paths
  mssql.tls.tds_probe:
    targets:
      - sql01.corp.example:1433
      - {host: sql01.corp.example, port: 14331, name: REPORTS}
    mode: both
    profiles: [odbc18, odbc18-strict, snac11-unpatched]

- name: After a remediation, compare with the earlier probe
  mssql.tls.tds_probe:
    baseline: "{{ probe }}"
  register: after

- name: No client that connected before may fail now
  ansible.builtin.assert:
    that: after.changes | selectattr('regression') | list | length == 0
    fail_msg: "{{ after.change_lines }}"
"""

RETURN = r"""
endpoints:
  description:
    - One probe result per endpoint and entry path (schema version 1, documented in docs/prober.md),
      plus C(instance), the instance name or null.
  returned: always
  type: list
  elements: dict
  contains:
    target:
      description: The probed C(host:port).
      type: str
      sample: 10.0.0.5:1433
    instance:
      description: The instance name from O(targets) or C(mssql_tls_instances), else null.
      type: str
      sample: MSSQLSERVER
    mode:
      description: Entry path, C(tds), C(strict) or C(tls).
      type: str
    server_version:
      description: SQL Server version from the PRELOGIN answer, C(major.minor.build).
      type: str
      sample: 15.0.4395
    encryption:
      description: The PRELOGIN ENCRYPTION answer to ENCRYPT_OFF (C(tds) only); C(forced) is ForceEncryption.
      type: dict
    protocols:
      description: Per version (C(SSL 3.0) .. C(TLS 1.3)) true (accepted), false (refused), null (unknown)
        or C(not applicable to TDS 7.x).
      type: dict
      sample: {"SSL 3.0": false, "TLS 1.0": false, "TLS 1.1": false, "TLS 1.2": true,
               "TLS 1.3": "not applicable to TDS 7.x"}
    cipher_suites:
      description: Per accepted version, the accepted suites (IANA names) in the order the server picks them.
      type: dict
    suite_order:
      description: Per accepted version, C(server), C(client), C(unknown) or C(n/a).
      type: dict
    rejections:
      description: Per refused version, how the server refused (alert, reset, close).
      type: dict
      sample: {"TLS 1.0": "connection reset"}
    certificate:
      description: >-
        The certificate presented (subject, issuer, validity, signature_hash, key, EKU, thumbprint),
        not validated.
      type: dict
    full_handshake:
      description: The one complete handshake (protocol, suite, ALPN, error).
      type: dict
    strict:
      description: TDS 8.0 facts (C(strict) only).
      type: dict
    client_verdicts:
      description:
        - Per judged profile, C(connects), C(protocol), C(suite), the stable C(code) (V(connects),
          V(connects_without_tls), V(encryption_required_not_supported), V(no_common_protocol),
          V(no_common_suite)) with its C(params), C(warning_codes) (V(dhe_without_leading_zero_fix_client),
          V(dhe_leading_zero_mismatch)), and the English C(reason) and C(warnings) rendered from them.
      type: list
      elements: dict
    handshakes:
      description: TLS connections made.
      type: int
    errors:
      description: >-
        What went wrong while probing, C({stage, message}); an unreachable endpoint is reported here.
      type: list
      elements: dict
    duration_s:
      description: Wall time of this endpoint's probe.
      type: float
summary:
  description: The short view of each endpoint, in the order of RV(endpoints).
  returned: always
  type: list
  elements: dict
  contains:
    target:
      description: C(host:port).
      type: str
    instance:
      description: Instance name or null.
      type: str
    mode:
      description: Entry path.
      type: str
    reachable:
      description: Whether anything could be measured.
      type: bool
    protocols:
      description: Accepted protocol versions.
      type: list
      elements: str
      sample: ["TLS 1.2"]
    dhe_accepted:
      description: A TLS_DHE suite is accepted (scenarios 3 and 5 of the 10054 article).
      type: bool
    dhe_suites:
      description: The accepted TLS_DHE suites.
      type: list
      elements: str
    certificate_hash:
      description: Signature hash of the presented certificate.
      type: str
      sample: sha256
    weak_hash_certificate:
      description: The certificate is signed with MD5, SHA224 or SHA512 (scenario 4).
      type: bool
    encryption_forced:
      description: ForceEncryption as the PRELOGIN answer shows it (C(tds) only), else null.
      type: bool
    failing_profiles:
      description: Judged client profiles that cannot connect.
      type: list
      elements: str
      sample: ["snac11-unpatched", "dotnet45-default"]
    connecting_profiles:
      description: Judged client profiles that connect.
      type: list
      elements: str
    errors:
      description: Probe errors as text.
      type: list
      elements: str
summary_lines:
  description: A fixed-width table of RV(summary), header first, for printing.
  returned: always
  type: list
  elements: str
client_lines:
  description: For each endpoint, one line per judged client profile with its verdict and reason.
  returned: always
  type: list
  elements: str
failing_profiles:
  description: Profiles that fail on at least one endpoint of the host.
  returned: always
  type: list
  elements: str
changes:
  description:
    - Differences from O(baseline), endpoint by endpoint. C(kind) is C(endpoint), C(reachable), C(protocol),
      C(cipher_suites) (with C(added) and C(removed)), C(certificate), C(encryption_forced) or C(client);
      C(regression) is true where a client that connected no longer does or an endpoint stopped answering.
  returned: when O(baseline) is given
  type: list
  elements: dict
  sample:
    - target: 10.0.0.5:1433
      mode: tds
      instance: MSSQLSERVER
      kind: cipher_suites
      item: TLS 1.2
      before: ["TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384"]
      after: ["TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"]
      added: []
      removed: ["TLS_DHE_RSA_WITH_AES_256_GCM_SHA384"]
      regression: false
      text: "10.0.0.5:1433 tds TLS 1.2: suites removed: TLS_DHE_RSA_WITH_AES_256_GCM_SHA384"
change_lines:
  description: The C(text) of each change.
  returned: when O(baseline) is given
  type: list
  elements: str
change_summary:
  description: One line in O(lang) with the number of changes and regressions, or that nothing changed.
  returned: when O(baseline) is given
  type: str
  sample: no change visible to clients
"""
