"""dag-pb nodes and the UnixFS `Data` message inside them.

Encoding follows the dag-pb spec's canonical form (links first, then data;
link fields Hash, Name, Tsize in order), which is what Kubo writes, so the
bytes - and therefore the CIDs - come out identical.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from provenance.ipfs.errors import InvalidBlock
from provenance.ipfs.multiformats import decode_varint, encode_varint

UNIXFS_RAW, UNIXFS_DIRECTORY, UNIXFS_FILE, UNIXFS_METADATA, UNIXFS_SYMLINK, UNIXFS_HAMT = range(6)

_VARINT, _LEN = 0, 2


@dataclass(frozen=True)
class PbLink:
    hash: bytes  # binary CID
    name: str | None = ""
    tsize: int | None = None


@dataclass(frozen=True)
class PbNode:
    links: tuple[PbLink, ...] = ()
    data: bytes | None = None


@dataclass(frozen=True)
class UnixfsData:
    type: int
    data: bytes = b""
    filesize: int | None = None
    blocksizes: tuple[int, ...] = field(default_factory=tuple)


def _key(number: int, wire: int) -> bytes:
    return bytes([(number << 3) | wire])


# Field keys of the messages written here, computed once: the importer encodes
# one interior node per 174 leaves and one envelope per leaf.
_LINK_HASH, _LINK_NAME, _LINK_TSIZE = _key(1, _LEN), _key(2, _LEN), _key(3, _VARINT)
_NODE_LINK, _NODE_DATA = _key(2, _LEN), _key(1, _LEN)
_FS_TYPE, _FS_DATA, _FS_FILESIZE, _FS_BLOCKSIZE = _key(1, _VARINT), _key(2, _LEN), _key(3, _VARINT), _key(4, _VARINT)


def encode_link(link: PbLink) -> bytes:
    out = bytearray(_LINK_HASH)
    out += encode_varint(len(link.hash))
    out += link.hash
    if link.name is not None:
        name = link.name.encode("utf-8")
        out += _LINK_NAME
        out += encode_varint(len(name))
        out += name
    if link.tsize is not None:
        out += _LINK_TSIZE
        out += encode_varint(link.tsize)
    return bytes(out)


def encode_node(links: list[PbLink] | tuple[PbLink, ...], data: bytes | None) -> bytes:
    out = bytearray()
    for link in links:
        body = encode_link(link)
        out += _NODE_LINK
        out += encode_varint(len(body))
        out += body
    if data is not None:
        out += _NODE_DATA
        out += encode_varint(len(data))
        out += data
    return bytes(out)


def encode_unixfs_file(data: bytes | None, filesize: int, blocksizes: list[int] | tuple[int, ...] = ()) -> bytes:
    out = bytearray(_FS_TYPE)
    out += encode_varint(UNIXFS_FILE)
    if data is not None:
        out += _FS_DATA
        out += encode_varint(len(data))
        out += data
    out += _FS_FILESIZE
    out += encode_varint(filesize)
    for size in blocksizes:
        out += _FS_BLOCKSIZE
        out += encode_varint(size)
    return bytes(out)


@lru_cache(maxsize=8)  # all leaves but the last have the same length
def leaf_envelope(length: int) -> tuple[bytes, bytes]:
    """Bytes before and after a chunk's data in a dag-pb UnixFS leaf.

    Lets the importer hash and write a leaf without copying the chunk into a
    new buffer.
    """
    head = _FS_TYPE + encode_varint(UNIXFS_FILE) + _FS_DATA + encode_varint(length)
    tail = _FS_FILESIZE + encode_varint(length)
    unixfs_len = len(head) + length + len(tail)
    return _NODE_DATA + encode_varint(unixfs_len) + head, tail


def _fields(buf: bytes | memoryview, what: str):
    """Yield (field number, wire type, value) of a protobuf message, strictly."""
    pos = 0
    end = len(buf)
    while pos < end:
        try:
            key, pos = decode_varint(buf, pos)
            number, wire = key >> 3, key & 7
            if wire == _VARINT:
                value, pos = decode_varint(buf, pos)
                yield number, wire, value
            elif wire == _LEN:
                length, pos = decode_varint(buf, pos)
                if pos + length > end:
                    raise ValueError("truncated field")
                yield number, wire, bytes(buf[pos : pos + length])
                pos += length
            else:
                raise ValueError(f"unsupported wire type {wire}")
        except ValueError as exc:
            raise InvalidBlock(f"malformed {what}: {exc}") from None


def decode_node(block: bytes | memoryview) -> PbNode:
    links: list[PbLink] = []
    data = None
    for number, wire, value in _fields(block, "dag-pb node"):
        if number == 2 and wire == _LEN and data is None:
            links.append(_decode_link(value))
        elif number == 1 and wire == _LEN and data is None:
            data = value
        else:
            raise InvalidBlock(f"malformed dag-pb node: unexpected field {number}")
    return PbNode(tuple(links), data)


def _decode_link(buf: bytes) -> PbLink:
    hash_ = None
    name = None
    tsize = None
    for number, wire, value in _fields(buf, "dag-pb link"):
        if number == 1 and wire == _LEN and hash_ is None:
            hash_ = value
        elif number == 2 and wire == _LEN and name is None:
            name = value.decode("utf-8", errors="replace")
        elif number == 3 and wire == _VARINT and tsize is None:
            tsize = value
        else:
            raise InvalidBlock(f"malformed dag-pb link: unexpected field {number}")
    if hash_ is None:
        raise InvalidBlock("malformed dag-pb link: no Hash")
    return PbLink(hash_, name, tsize)


def decode_unixfs(data: bytes | None) -> UnixfsData:
    if data is None:
        raise InvalidBlock("dag-pb node has no UnixFS data")
    kind = None
    payload = b""
    filesize = None
    blocksizes: list[int] = []
    for number, wire, value in _fields(data, "UnixFS data"):
        if number == 1 and wire == _VARINT:
            kind = value
        elif number == 2 and wire == _LEN:
            payload = value
        elif number == 3 and wire == _VARINT:
            filesize = value
        elif number == 4 and wire == _VARINT:
            blocksizes.append(value)
        elif number == 4 and wire == _LEN:  # packed encoding, accepted on read
            pos = 0
            while pos < len(value):
                size, pos = decode_varint(value, pos)
                blocksizes.append(size)
        # other fields (hashType, fanout, mode, mtime) do not affect file bytes
    if kind is None:
        raise InvalidBlock("UnixFS data has no Type")
    return UnixfsData(kind, payload, filesize, tuple(blocksizes))
