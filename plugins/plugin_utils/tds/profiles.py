"""Client profiles: what real SQL Server drivers offer on the wire.

A profile = the entry path the driver uses (TDS 7.x or TDS 8.0 strict), the
protocol versions it may negotiate, the ordered suite list its OS offers, and
whether it insists on encryption. Sources are cited per profile; where the
driver hands protocol choice to the OS, the OS defaults of
windows-schannel.md sections 2 and 5 apply.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import ProbeInputError
from .versions import TlsVersion
from .windows_defaults import WINDOWS_2012R2, WINDOWS_2016, WINDOWS_2019, WINDOWS_2022

SSL3, TLS10, TLS11, TLS12, TLS13 = (
    TlsVersion.SSL3,
    TlsVersion.TLS10,
    TlsVersion.TLS11,
    TlsVersion.TLS12,
    TlsVersion.TLS13,
)


@dataclass(frozen=True)
class ClientProfile:
    name: str
    description: str
    path: str  # "tds" (TDS 7.x, PRELOGIN first) or "strict" (TDS 8.0, TLS first)
    protocols: tuple[TlsVersion, ...]
    suite_list: tuple[str, ...]  # the OS cipher-suite order, Schannel names
    requires_encryption: bool  # Encrypt=yes/mandatory by default: no TLS means no connection
    dhe_leading_zero_fix: bool | None  # KB4557473 status of the client OS (None: depends on patches)
    sources: tuple[str, ...]


PROFILES: tuple[ClientProfile, ...] = (
    ClientProfile(
        name="snac11-unpatched",
        description="SQL Server Native Client 11.0 before 11.0.6538 on Windows Server 2012 R2",
        path="tds",
        protocols=(TLS10,),
        suite_list=WINDOWS_2012R2,
        requires_encryption=False,
        dhe_leading_zero_fix=False,
        sources=(
            "sqlserver-tls.md s8: SNAC 11.0 needs build >= 6538 for TLS 1.2 (KB3135244)",
            "windows-schannel.md s5/s6: 2012 R2 suite order, no leading-zero fix",
        ),
    ),
    ClientProfile(
        name="snac11-patched",
        description="SQL Server Native Client 11.0.6538+ on Windows Server 2012 R2 (OS defaults)",
        path="tds",
        protocols=(SSL3, TLS10, TLS11, TLS12),
        suite_list=WINDOWS_2012R2,
        requires_encryption=False,
        dhe_leading_zero_fix=False,
        sources=("sqlserver-tls.md s8", "windows-schannel.md s2: 2012 R2 enables SSL 3.0..TLS 1.2"),
    ),
    ClientProfile(
        name="odbc17",
        description="ODBC Driver 17 for SQL Server on Windows Server 2016 (OS defaults, Encrypt=no)",
        path="tds",
        protocols=(TLS10, TLS11, TLS12),
        suite_list=WINDOWS_2016,
        requires_encryption=False,
        dhe_leading_zero_fix=None,
        sources=(
            "sqlserver-tls.md s8: ODBC 13/17/18 support TLS 1.2, TLS 1.3 'No' for every driver",
            "windows-schannel.md s2/s5: 2016 protocol defaults and suite order; s6: fixed from 14393.3542",
        ),
    ),
    ClientProfile(
        name="odbc18",
        description="ODBC Driver 18 for SQL Server on Windows Server 2019 (Encrypt=yes, TDS 7.x)",
        path="tds",
        protocols=(TLS10, TLS11, TLS12),
        suite_list=WINDOWS_2019,
        requires_encryption=True,
        dhe_leading_zero_fix=True,
        sources=("sqlserver-tls.md s8", "windows-schannel.md s2/s5/s6: 2019 defaults, fixed since RTM"),
    ),
    ClientProfile(
        name="odbc18-strict",
        description="ODBC Driver 18.1.2.1+ with Encrypt=strict on Windows Server 2022 (TDS 8.0)",
        path="strict",
        protocols=(TLS12, TLS13),
        suite_list=WINDOWS_2022,
        requires_encryption=True,
        dhe_leading_zero_fix=True,
        sources=(
            "sqlserver-tls.md s8: TDS 8.0 minimum ODBC 18.1.2.1",
            "tds-tls-probing.md s6: TLS 1.3 via strict on Server 2022",
            "windows-schannel.md s5: 2022",
        ),
    ),
    ClientProfile(
        name="dotnet45-default",
        description=".NET Framework 4.5 application (System.Data.SqlClient) without the TLS 1.2 updates",
        path="tds",
        protocols=(SSL3, TLS10),
        suite_list=WINDOWS_2012R2,
        requires_encryption=False,
        dhe_leading_zero_fix=False,
        sources=(
            "sqlserver-tls.md s8: ADO.NET has TLS 1.2 only from .NET 4.6 or with the 3.5.x updates",
            "windows-schannel.md s7",
        ),
    ),
    ClientProfile(
        name="dotnet48-strong-crypto",
        description=".NET Framework 4.8 with SchUseStrongCrypto=1 / SystemDefaultTlsVersions on Server 2019",
        path="tds",
        protocols=(TLS11, TLS12),
        suite_list=WINDOWS_2019,
        requires_encryption=False,
        dhe_leading_zero_fix=True,
        sources=("windows-schannel.md s7: strong crypto uses TLS 1.2/1.1 and blocks insecure protocols",),
    ),
    ClientProfile(
        name="sqlclient5-mandatory",
        description="Microsoft.Data.SqlClient 5.x, Encrypt=Mandatory (default) on Windows Server 2022",
        path="tds",
        protocols=(TLS10, TLS11, TLS12),
        suite_list=WINDOWS_2022,
        requires_encryption=True,
        dhe_leading_zero_fix=True,
        sources=(
            "tds-tls-probing.md s5.4: SqlClient excludes TLS 1.3 without strict (#1151/#1168)",
            "windows-schannel.md s2/s5: 2022 defaults",
        ),
    ),
    ClientProfile(
        name="sqlclient5-strict",
        description="Microsoft.Data.SqlClient 5.1+ with Encrypt=Strict on Windows Server 2022 (TDS 8.0)",
        path="strict",
        protocols=(TLS12, TLS13),
        suite_list=WINDOWS_2022,
        requires_encryption=True,
        dhe_leading_zero_fix=True,
        sources=(
            "sqlserver-tls.md s8: TDS 8.0 minimum SqlClient 5.1",
            "tds-tls-probing.md s6: ALPN tds/8.0, TLS 1.3 on Server 2022",
        ),
    ),
    ClientProfile(
        name="windows-2012r2-client",
        description="Any Schannel client on Windows Server 2012 R2, OS defaults (no DHE leading-zero fix)",
        path="tds",
        protocols=(SSL3, TLS10, TLS11, TLS12),
        suite_list=WINDOWS_2012R2,
        requires_encryption=False,
        dhe_leading_zero_fix=False,
        sources=("windows-schannel.md s2/s5/s6: 2012 R2 defaults; KB4557473 names 2012 R2 clients",),
    ),
)

_BY_NAME = {profile.name: profile for profile in PROFILES}


def profile_by_name(name: str) -> ClientProfile:
    try:
        return _BY_NAME[name]
    except KeyError:
        raise ProbeInputError("profile", f"one of {sorted(_BY_NAME)}", name) from None


def profiles_for_mode(mode: str) -> tuple[ClientProfile, ...]:
    """Profiles that use the probed entry path; plain TLS is judged against all of them."""
    if mode == "tls":
        return PROFILES
    return tuple(profile for profile in PROFILES if profile.path == mode)
