"""The few DER pieces the lab needs: TLV split/join and OBJECT IDENTIFIER coding."""

from __future__ import annotations

SEQUENCE = 0x30
OID = 0x06
NULL = 0x05
BIT_STRING = 0x03


class DerError(ValueError):
    """Malformed DER input."""


def encode_length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def tlv(tag: int, content: bytes) -> bytes:
    return bytes([tag]) + encode_length(len(content)) + content


def read_tlv(data: bytes, pos: int = 0) -> tuple[int, bytes, int]:
    """Read one element at `pos`: (tag, content, position after it). Single-byte tags only."""
    if pos + 2 > len(data):
        raise DerError("truncated element")
    tag, first = data[pos], data[pos + 1]
    pos += 2
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        if count == 0 or count > 4 or pos + count > len(data):
            raise DerError("bad length")
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    end = pos + length
    if end > len(data):
        raise DerError("element runs past the end of the data")
    return tag, data[pos:end], end


def children(content: bytes) -> list[bytes]:
    """The encoded child elements of a constructed element's content."""
    items = []
    pos = 0
    while pos < len(content):
        _tag, _content, end = read_tlv(content, pos)
        items.append(content[pos:end])
        pos = end
    return items


def encode_oid(dotted: str) -> bytes:
    parts = [int(p) for p in dotted.split(".")]
    if len(parts) < 2 or parts[0] > 2:
        raise DerError(f"bad OID {dotted!r}")
    body = bytearray([parts[0] * 40 + parts[1]])
    for arc in parts[2:]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        body.extend(reversed(chunk))
    return tlv(OID, bytes(body))


def decode_oid(content: bytes) -> str:
    if not content:
        raise DerError("empty OID")
    arcs = [min(content[0] // 40, 2)]
    arcs.append(content[0] - 40 * arcs[0])
    value = 0
    for byte in content[1:]:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            arcs.append(value)
            value = 0
    if content[-1] & 0x80:
        raise DerError("truncated OID")
    return ".".join(str(a) for a in arcs)


def encode_oid_sequence(oids: list[str]) -> bytes:
    return tlv(SEQUENCE, b"".join(encode_oid(o) for o in oids))


def decode_oid_sequence(data: bytes) -> list[str]:
    tag, content, end = read_tlv(data)
    if tag != SEQUENCE or end != len(data):
        raise DerError("expected one SEQUENCE OF OBJECT IDENTIFIER")
    oids = []
    for item in children(content):
        itag, icontent, _end = read_tlv(item)
        if itag != OID:
            raise DerError("expected only OBJECT IDENTIFIERs in the SEQUENCE")
        oids.append(decode_oid(icontent))
    return oids
