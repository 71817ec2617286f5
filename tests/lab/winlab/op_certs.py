"""cert.list / cert.prop.get / cert.prop.set / cert.prop.clear on LocalMachine stores.

Property 9 is CERT_ENHKEY_USAGE_PROP_ID (sqlserver-tls.md section 6); like
CertSetCertificateContextProperty, the lab stores the bytes as given.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from typing import Any

from .model import StoredCert
from .opcore import OpContext, OpError, has_expect, invalid

_THUMB = re.compile(r"^[0-9A-Fa-f]{40}$")
# Properties Windows derives from the encoded certificate rather than storing.
_DERIVED = {
    3: lambda c: hashlib.sha1(c.der).digest(),  # CERT_SHA1_HASH_PROP_ID
    4: lambda c: hashlib.md5(c.der).digest(),  # CERT_MD5_HASH_PROP_ID
}


def _b64(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode("ascii")


def _store(ctx: OpContext, op: dict[str, Any]) -> list[StoredCert]:
    name = op.get("store", "My")
    for store, entries in ctx.state.cert_stores.items():
        if store.lower() == name.lower():
            return entries
    raise OpError("not_found", f"Cannot find the certificate store LocalMachine\\{name}.")


def _cert(ctx: OpContext, op: dict[str, Any]) -> StoredCert:
    thumb = op["thumbprint"]
    if not _THUMB.match(thumb):
        raise invalid(f"field 'thumbprint': expected 40 hex digits, got {thumb!r}")
    for cert in _store(ctx, op):
        if cert.thumbprint == thumb.upper():
            return cert
    raise OpError(
        "not_found", f"certificate {thumb.upper()} not found in LocalMachine\\{op.get('store', 'My')}"
    )


def _get_prop(cert: StoredCert, prop_id: int) -> bytes | None:
    if prop_id in cert.properties:
        return cert.properties[prop_id]
    derive = _DERIVED.get(prop_id)
    return None if derive is None else derive(cert)


def _check_expect(op: dict[str, Any], current: bytes | None) -> None:
    if not has_expect(op):
        return
    expect = op["expect"]
    if expect is not None and (set(expect) != {"data"} or not isinstance(expect["data"], str)):
        raise invalid("field 'expect': expected null or {'data': <base64>}")
    wanted = None if expect is None else expect["data"]
    if wanted != _b64(current):
        raise OpError(
            "conflict",
            f"property {op['prop_id']} of {op['thumbprint'].upper()}: "
            f"expected {wanted}, found {_b64(current)}",
        )


def cert_list(ctx: OpContext, op: dict[str, Any]) -> list[dict[str, Any]]:
    wanted = None if "thumbprints" not in op else {t.upper() for t in op["thumbprints"]}
    return [
        {
            "thumbprint": c.thumbprint,
            "der": _b64(c.der),
            "has_private_key": c.has_private_key,
            "key_provider": c.key_provider,
            "key_spec": c.key_spec,
            "prop9": _b64(c.properties.get(9)),
        }
        for c in _store(ctx, op)
        if wanted is None or c.thumbprint in wanted
    ]


def cert_prop_get(ctx: OpContext, op: dict[str, Any]) -> dict[str, Any]:
    data = _get_prop(_cert(ctx, op), op["prop_id"])
    return {"present": data is not None, "data": _b64(data)}


def cert_prop_set(ctx: OpContext, op: dict[str, Any]) -> dict[str, Any]:
    cert = _cert(ctx, op)
    try:
        data = base64.b64decode(op["data"], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise invalid("field 'data': expected base64") from exc
    before = _get_prop(cert, op["prop_id"])
    _check_expect(op, before)
    cert.properties[op["prop_id"]] = data
    return {"before": _b64(before), "after": _b64(data)}


def cert_prop_clear(ctx: OpContext, op: dict[str, Any]) -> dict[str, Any]:
    cert = _cert(ctx, op)
    before = cert.properties.get(op["prop_id"])
    _check_expect(op, before)
    removed = cert.properties.pop(op["prop_id"], None) is not None
    return {"before": _b64(before), "removed": removed}
