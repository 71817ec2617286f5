"""Per-service SIDs (``NT SERVICE\\<name>``), computed on the controller.

The algorithm is in docs/reference-windows-bindings.md section 4 (wixtoolset/wix
``AclCalculateServiceSidString``; volatility ``createservicesid``): upper-case the service
name, encode it as UTF-16LE without a terminator, SHA-1 it, read the 20 bytes as five
little-endian unsigned 32-bit integers, and join them after ``S-1-5-80-``. The table there
gives test vectors. Whether Windows upper-cases non-ASCII names like ``str.upper``: no
source found (section 11); SQL Server service names are ASCII (``MSSQLSERVER``,
``MSSQL$<instance>``, sqlserver-tls.md 10).
"""

from __future__ import annotations

import hashlib
import struct

SERVICE_SID_PREFIX = "S-1-5-80-"


def service_sid(service_name: str) -> str:
    """``S-1-5-80-...`` of ``NT SERVICE\\<service_name>``."""
    if not service_name:
        raise ValueError("service_name: expected a service name, got an empty string")
    digest = hashlib.sha1(service_name.upper().encode("utf-16-le")).digest()
    return SERVICE_SID_PREFIX + "-".join(str(part) for part in struct.unpack("<5I", digest))
