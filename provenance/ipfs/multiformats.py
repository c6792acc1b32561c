"""The small encodings IPFS builds on: unsigned varints, base32 and base58btc.

Written here rather than imported so that CID computation has no third-party
dependency and stays auditable in one place.
"""

from __future__ import annotations

import base64

from provenance.ipfs.errors import InvalidCid

_B58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B58_INDEX = {c: i for i, c in enumerate(_B58_ALPHABET)}
MAX_VARINT_BYTES = 9  # multiformats caps varints at 63 bits


_ONE_BYTE = [bytes((i,)) for i in range(0x80)]  # most varints in a DAG (keys, lengths of CIDs)


def encode_varint(value: int) -> bytes:
    if 0 <= value < 0x80:
        return _ONE_BYTE[value]
    if value < 0:
        raise ValueError("varint must not be negative")
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def decode_varint(buf: bytes | memoryview, offset: int = 0) -> tuple[int, int]:
    """Return (value, offset just past the varint); reject truncated or overlong input."""
    value = 0
    shift = 0
    for i in range(MAX_VARINT_BYTES):
        if offset + i >= len(buf):
            raise ValueError("truncated varint")
        byte = buf[offset + i]
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            if byte == 0 and i > 0:
                raise ValueError("varint is not minimally encoded")
            return value, offset + i + 1
        shift += 7
    raise ValueError("varint is too long")


def b32_encode(data: bytes) -> str:
    return base64.b32encode(data).decode("ascii").rstrip("=").lower()


def b32_decode(text: str) -> bytes:
    if text != text.lower():
        raise InvalidCid("base32 text must be lower case")
    padded = text.upper() + "=" * (-len(text) % 8)
    try:
        return base64.b32decode(padded)
    except ValueError:
        raise InvalidCid("not valid base32") from None


def b58_encode(data: bytes) -> str:
    zeros = len(data) - len(data.lstrip(b"\0"))
    number = int.from_bytes(data, "big")
    chars = []
    while number:
        number, rem = divmod(number, 58)
        chars.append(_B58_ALPHABET[rem])
    return "1" * zeros + "".join(reversed(chars))


def b58_decode(text: str) -> bytes:
    number = 0
    for char in text:
        digit = _B58_INDEX.get(char)
        if digit is None:
            raise InvalidCid("not valid base58btc")
        number = number * 58 + digit
    zeros = len(text) - len(text.lstrip("1"))
    body = number.to_bytes((number.bit_length() + 7) // 8, "big") if number else b""
    return b"\0" * zeros + body
