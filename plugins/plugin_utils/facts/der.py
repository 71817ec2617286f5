"""Just enough DER to read certificate property 9: a SEQUENCE OF OBJECT IDENTIFIER.

Property 9 (CERT_ENHKEY_USAGE_PROP_ID) holds the DER of X509_ENHANCED_KEY_USAGE,
e.g. ``30 00`` for "no purposes" (reference/sqlserver-tls.md 6).
"""

from __future__ import annotations

_SEQUENCE = 0x30
_OID = 0x06


class DerError(ValueError):
    """Bytes that are not the expected DER structure."""


def _read_tlv(data: bytes, offset: int) -> tuple[int, bytes, int]:
    if offset + 2 > len(data):
        raise DerError(f"truncated DER at byte {offset}")
    tag, first = data[offset], data[offset + 1]
    offset += 2
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        if count == 0 or count > 4 or offset + count > len(data):
            raise DerError(f"bad DER length at byte {offset - 1}")
        length = int.from_bytes(data[offset : offset + count], "big")
        offset += count
    end = offset + length
    if end > len(data):
        raise DerError(f"DER value runs past the end ({end} > {len(data)})")
    return tag, data[offset:end], end


def decode_oid(body: bytes) -> str:
    if not body:
        raise DerError("empty OBJECT IDENTIFIER")
    arcs: list[int] = []
    value = 0
    for byte in body:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            arcs.append(value)
            value = 0
    if body[-1] & 0x80:
        raise DerError("OBJECT IDENTIFIER ends inside an arc")
    first = arcs[0]
    head = [0, first] if first < 40 else [1, first - 40] if first < 80 else [2, first - 80]
    return ".".join(str(a) for a in head + arcs[1:])


def decode_oid_sequence(data: bytes) -> list[str]:
    """OIDs of a DER ``SEQUENCE OF OBJECT IDENTIFIER``; ``30 00`` gives an empty list."""
    tag, body, end = _read_tlv(data, 0)
    if tag != _SEQUENCE:
        raise DerError(f"expected a SEQUENCE (0x30), got tag 0x{tag:02x}")
    if end != len(data):
        raise DerError(f"{len(data) - end} trailing bytes after the SEQUENCE")
    oids: list[str] = []
    offset = 0
    while offset < len(body):
        tag, value, offset = _read_tlv(body, offset)
        if tag != _OID:
            raise DerError(f"expected an OBJECT IDENTIFIER (0x06), got tag 0x{tag:02x}")
        oids.append(decode_oid(value))
    return oids


def _tlv(tag: int, body: bytes) -> bytes:
    n = len(body)
    if n < 0x80:
        return bytes([tag, n]) + body
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(size)]) + size + body


def encode_oid(oid: str) -> bytes:
    """The content octets of an OBJECT IDENTIFIER (X.690 8.19)."""
    try:
        arcs = [int(a) for a in oid.split(".")]
    except ValueError:
        raise DerError(f"not a dotted OID: {oid!r}") from None
    if len(arcs) < 2 or arcs[0] > 2 or (arcs[0] < 2 and arcs[1] > 39) or min(arcs) < 0:
        raise DerError(f"not a valid OID: {oid!r}")
    out = bytearray()
    for arc in [arcs[0] * 40 + arcs[1], *arcs[2:]]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        out += bytes(reversed(chunk))
    return bytes(out)


def encode_oid_sequence(oids: list[str]) -> bytes:
    """DER ``SEQUENCE OF OBJECT IDENTIFIER`` (X509_ENHANCED_KEY_USAGE); ``[]`` gives ``30 00``."""
    return _tlv(_SEQUENCE, b"".join(_tlv(_OID, encode_oid(oid)) for oid in oids))
