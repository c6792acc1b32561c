"""CAR v1 archives: a dag-cbor header naming the roots, then (CID, block) sections.

Reading is strict and streaming: every section is length-checked and every
block is verified against its CID before it is yielded, so a corrupt archive
fails with `CorruptCar` before any of its content can be trusted.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import BinaryIO

from provenance.ipfs.cid import Cid, cid_from_bytes
from provenance.ipfs.errors import CorruptCar, InvalidCid
from provenance.ipfs.multiformats import MAX_VARINT_BYTES, decode_varint, encode_varint

MAX_HEADER = 1 << 20
MAX_SECTION = 4 << 20  # far above any block an importer makes (Kubo's limit is 2 MiB)
_CID_TAG = 42


def encode_header(roots: list[Cid]) -> bytes:
    """dag-cbor {"roots": [...], "version": 1}, keys in canonical (length-first) order."""
    out = bytearray(b"\xa2\x65roots")
    out += _cbor_head(4, len(roots))
    for root in roots:
        body = b"\x00" + root.to_bytes()  # CIDs in dag-cbor carry a multibase-identity prefix
        out += b"\xd8\x2a" + _cbor_head(2, len(body)) + body
    out += b"\x67version\x01"
    return bytes(out)


def _cbor_head(major: int, value: int) -> bytes:
    if value < 24:
        return bytes([major << 5 | value])
    for info, width in ((24, 1), (25, 2), (26, 4), (27, 8)):
        if value < 1 << (8 * width):
            return bytes([major << 5 | info]) + value.to_bytes(width, "big")
    raise ValueError("CBOR value too large")


def write_car(out: BinaryIO, roots: list[Cid], blocks: Iterable[tuple[Cid, bytes]]) -> int:
    """Write a CAR v1 stream; return the number of blocks written."""
    header = encode_header(roots)
    out.write(encode_varint(len(header)) + header)
    count = 0
    for cid, block in blocks:
        cid_bytes = cid.to_bytes()
        out.write(encode_varint(len(cid_bytes) + len(block)))
        out.write(cid_bytes)
        out.write(block)
        count += 1
    return count


class _Cbor:
    """Just enough CBOR to read a CAR header; anything unexpected is rejected."""

    def __init__(self, buf: bytes) -> None:
        self.buf = buf
        self.pos = 0

    def _take(self, n: int) -> bytes:
        if self.pos + n > len(self.buf):
            raise CorruptCar("CAR header is truncated")
        chunk = self.buf[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def _head(self) -> tuple[int, int]:
        first = self._take(1)[0]
        major, info = first >> 5, first & 31
        if info < 24:
            return major, info
        widths = {24: 1, 25: 2, 26: 4, 27: 8}
        if info not in widths:
            raise CorruptCar("CAR header uses indefinite-length or reserved CBOR")
        return major, int.from_bytes(self._take(widths[info]), "big")

    def item(self, depth: int = 0) -> object:
        if depth > 8:
            raise CorruptCar("CAR header is nested too deeply")
        major, value = self._head()
        if major == 0:
            return value
        if major == 2:
            return self._take(value)
        if major == 3:
            try:
                return self._take(value).decode("utf-8")
            except UnicodeDecodeError:
                raise CorruptCar("CAR header holds invalid UTF-8") from None
        if major == 4:
            return [self.item(depth + 1) for _ in range(value)]
        if major == 5:
            return {self._key(depth): self.item(depth + 1) for _ in range(value)}
        if major == 6 and value == _CID_TAG:
            body = self.item(depth + 1)
            if not isinstance(body, bytes) or not body.startswith(b"\x00"):
                raise CorruptCar("CAR header holds a malformed CID")
            cid, end = cid_from_bytes(body, 1, "CAR root")
            if end != len(body):
                raise CorruptCar("CAR header holds a malformed CID")
            return cid
        raise CorruptCar(f"CAR header holds an unsupported CBOR item (major type {major})")

    def _key(self, depth: int) -> str:
        key = self.item(depth + 1)
        if not isinstance(key, str):
            raise CorruptCar("CAR header map keys must be strings")
        return key


def _read_varint(stream: BinaryIO) -> int | None:
    """A varint from the stream, or None at a clean end of stream."""
    raw = bytearray()
    while True:
        byte = stream.read(1)
        if not byte:
            if raw:
                raise CorruptCar("CAR is truncated inside a length prefix")
            return None
        raw += byte
        if byte[0] < 0x80:
            break
        if len(raw) >= MAX_VARINT_BYTES:
            raise CorruptCar("CAR has an over-long length prefix")
    try:
        return decode_varint(bytes(raw))[0]
    except ValueError as exc:
        raise CorruptCar(f"CAR has a bad length prefix: {exc}") from None


def _read_exactly(stream: BinaryIO, n: int, what: str) -> bytes:
    data = stream.read(n)
    if len(data) != n:
        raise CorruptCar(f"CAR is truncated in {what} (wanted {n} bytes, got {len(data)})")
    return data


def read_header(stream: BinaryIO) -> list[Cid]:
    length = _read_varint(stream)
    if length is None or length == 0:
        raise CorruptCar("not a CAR file (empty)")
    if length > MAX_HEADER:
        raise CorruptCar("not a CAR v1 file (header length is implausible)")
    try:
        header = _Cbor(_read_exactly(stream, length, "the header")).item()
    except InvalidCid as exc:
        raise CorruptCar(f"CAR header: {exc}") from None
    if not isinstance(header, dict) or header.get("version") != 1:
        raise CorruptCar("not a CAR v1 file (header has no version 1)")
    roots = header.get("roots")
    if not isinstance(roots, list) or not all(isinstance(r, Cid) for r in roots):
        raise CorruptCar("CAR header has no valid roots list")
    return roots


def iter_sections(stream: BinaryIO, source: str = "CAR") -> Iterator[tuple[Cid, bytes]]:
    """Yield (cid, block) for each section; a block that fails its CID raises `BlockMismatch`."""
    while True:
        length = _read_varint(stream)
        if length is None:
            return
        if not 0 < length <= MAX_SECTION:
            raise CorruptCar(f"{source}: section length {length} is out of range")
        section = _read_exactly(stream, length, "a block section")
        try:
            cid, offset = cid_from_bytes(section, 0, "CAR section")
        except InvalidCid as exc:
            raise CorruptCar(f"{source}: {exc}") from None
        block = section[offset:]
        try:
            cid.verify(block, source)
        except InvalidCid as exc:
            raise CorruptCar(f"{source}: {exc}") from None
        yield cid, block
