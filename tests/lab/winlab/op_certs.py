"""cert.list / cert.prop.* / cert.key.acl.set on LocalMachine stores.

Property 9 is CERT_ENHKEY_USAGE_PROP_ID (sqlserver-tls.md section 6); like
CertSetCertificateContextProperty, the lab stores the bytes as given. Property 2
(CERT_KEY_PROV_INFO_PROP_ID) is answered decoded from the certificate's key facts
(provider, provider type, container, KeySpec, flags CRYPT_MACHINE_KEYSET). A private key's
DACL is one SDDL string per certificate, compared and replaced as a string.
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
CRYPT_MACHINE_KEYSET = 0x20
# A DACL in SDDL form: 'D:', its flags, then ACE strings (the lab checks the shape only).
_SDDL_DACL = re.compile(r"^D:(?:P|AI|AR)*(?:\([^()]*\))*$")
_KEY_ACL_DENIED = "Access is denied."
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


def key_prov_info(cert: StoredCert) -> dict[str, Any] | None:
    """Property 2 decoded (docs/agent-protocol.md, cert.prop.get), or None without a key."""
    if not cert.has_private_key:
        return None
    return {
        "container": cert.key_container,
        "provider": cert.key_provider,
        "provider_type": cert.key_provider_type,
        "flags": CRYPT_MACHINE_KEYSET,
        "key_spec": cert.key_spec,
    }


def _key_kind(cert: StoredCert) -> str:
    return "cng" if cert.key_provider_type == 0 else "csp"


def _read_key_acl(cert: StoredCert) -> dict[str, str]:
    if cert.key_acl_denied:
        raise OpError("access_denied", _KEY_ACL_DENIED)
    return {"kind": _key_kind(cert), "sddl": cert.key_acl or ""}


def _list_entry(cert: StoredCert, with_acl: bool) -> dict[str, Any]:
    info = key_prov_info(cert)
    entry: dict[str, Any] = {
        "thumbprint": cert.thumbprint,
        "der": _b64(cert.der),
        "has_private_key": cert.has_private_key,
        "key_provider": None if info is None else info["provider"],
        "key_provider_type": None if info is None else info["provider_type"],
        "key_spec": None if info is None else info["key_spec"],
        "key_container": None if info is None else info["container"],
        "prop9": _b64(cert.properties.get(9)),
    }
    if with_acl:
        entry["key_acl"] = None
        entry["key_acl_error"] = None
        if info is not None:
            try:
                entry["key_acl"] = _read_key_acl(cert)
            except OpError as exc:
                entry["key_acl_error"] = {"kind": exc.kind, "message": exc.message}
    return entry


def cert_list(ctx: OpContext, op: dict[str, Any]) -> list[dict[str, Any]]:
    wanted = None if "thumbprints" not in op else {t.upper() for t in op["thumbprints"]}
    with_acl = op.get("key_acl", False) is True
    return [_list_entry(c, with_acl) for c in _store(ctx, op) if wanted is None or c.thumbprint in wanted]


def cert_prop_get(ctx: OpContext, op: dict[str, Any]) -> dict[str, Any]:
    cert = _cert(ctx, op)
    if op["prop_id"] == 2:
        info = key_prov_info(cert)
        return {"present": info is not None, "data": info}
    data = _get_prop(cert, op["prop_id"])
    return {"present": data is not None, "data": _b64(data)}


def cert_key_acl_set(ctx: OpContext, op: dict[str, Any]) -> dict[str, Any]:
    """Replace the private key's DACL; expect {"data": <current SDDL>} compared exactly."""
    sddl = op["sddl"]
    if not _SDDL_DACL.fullmatch(sddl):
        raise invalid(f"field 'sddl': expected a DACL in SDDL form ('D:...'), got {sddl!r}")
    expect = op.get("expect")
    if has_expect(op) and (
        not isinstance(expect, dict) or set(expect) != {"data"} or not isinstance(expect["data"], str)
    ):
        raise invalid("field 'expect': expected {'data': <current DACL as SDDL>} or no field")
    cert = _cert(ctx, op)
    if key_prov_info(cert) is None:
        raise OpError("not_found", f"certificate {cert.thumbprint} has no private key")
    before = _read_key_acl(cert)
    if has_expect(op) and expect["data"] != before["sddl"]:  # type: ignore[index]
        raise OpError(
            "conflict",
            f"private key of {cert.thumbprint}: expected DACL {expect['data']}, found {before['sddl']}",  # type: ignore[index]
        )
    cert.key_acl = sddl
    return {"kind": before["kind"], "before": before["sddl"], "after": sddl}


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
