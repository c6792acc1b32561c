"""The UnixFS file importer: fixed-size chunks under a balanced DAG, as Kubo builds it.

The file is read once, in chunks, into two reusable buffers, so memory stays
constant whatever the size. Each block is handed to an optional sink as a list
of byte parts (a leaf's envelope and its data) to avoid copying chunks.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import BinaryIO, Protocol

from provenance.ipfs.cid import DAG_PB, RAW, Cid
from provenance.ipfs.dagpb import PbLink, encode_node, encode_unixfs_file, leaf_envelope
from provenance.ipfs.profile import ImportProfile


class BlockSink(Protocol):
    def put_parts(self, cid: Cid, parts: Sequence[bytes | memoryview]) -> None: ...


@dataclass(frozen=True)
class ImportedFile:
    cid: Cid
    size: int  # bytes of file content
    dag_size: int  # bytes of all blocks (Kubo's cumulative size)
    blocks: int


@dataclass(frozen=True)
class _Child:
    cid: Cid
    file_size: int
    tsize: int


class _ChunkReader:
    """Reads fixed-size chunks with one chunk of look-ahead, so `done` is known."""

    def __init__(self, stream: BinaryIO, chunk_size: int) -> None:
        self._stream = stream
        self._buffers = [memoryview(bytearray(chunk_size)), memoryview(bytearray(chunk_size))]
        self._current = 0
        self._ahead = self._fill(self._buffers[0])

    def _fill(self, buf: memoryview) -> int:
        filled = 0
        while filled < len(buf):
            n = self._stream.readinto(buf[filled:])
            if not n:
                break
            filled += n
        return filled

    @property
    def done(self) -> bool:
        return self._ahead == 0

    def next(self) -> memoryview:
        """The next chunk; valid only until the call after next."""
        chunk = self._buffers[self._current][: self._ahead]
        self._current ^= 1
        self._ahead = self._fill(self._buffers[self._current]) if self._ahead == len(chunk.obj) else 0
        return chunk


class _Builder:
    def __init__(self, profile: ImportProfile, sink: BlockSink | None, progress: Callable[[int], None] | None) -> None:
        self.profile = profile
        self.sink = sink
        self.progress = progress
        self.blocks = 0
        self.node_codec_version = profile.cid_version

    def _emit(self, cid: Cid, parts: Sequence[bytes | memoryview]) -> None:
        self.blocks += 1
        if self.sink is not None:
            self.sink.put_parts(cid, parts)

    def leaf(self, chunk: memoryview) -> _Child:
        size = len(chunk)
        if self.profile.raw_leaves:
            cid = Cid(1, RAW, hashlib.sha256(chunk).digest())
            self._emit(cid, [chunk])
            block_size = size
        else:
            head, tail = leaf_envelope(size)
            digest = hashlib.sha256(head)
            digest.update(chunk)
            digest.update(tail)
            cid = Cid(self.profile.cid_version, DAG_PB, digest.digest())
            self._emit(cid, [head, chunk, tail])
            block_size = len(head) + size + len(tail)
        if self.progress is not None:
            self.progress(size)
        return _Child(cid, size, block_size)

    def empty_file(self) -> _Child:
        if self.profile.raw_leaves:
            return self.leaf(memoryview(b""))
        return self.interior([])

    def interior(self, children: list[_Child]) -> _Child:
        file_size = sum(c.file_size for c in children)
        data = encode_unixfs_file(None, file_size, [c.file_size for c in children])
        links = [PbLink(c.cid.to_bytes(), "", c.tsize) for c in children]
        block = encode_node(links, data)
        cid = Cid(self.profile.cid_version, DAG_PB, hashlib.sha256(block).digest())
        self._emit(cid, [block])
        return _Child(cid, file_size, len(block) + sum(c.tsize for c in children))

    def fill(self, reader: _ChunkReader, first: _Child | None, depth: int) -> _Child:
        """A node `depth` levels above the leaves, filled with as many children as fit."""
        children = [first] if first is not None else []
        while len(children) < self.profile.max_links and not reader.done:
            if depth == 1:
                children.append(self.leaf(reader.next()))
            else:
                children.append(self.fill(reader, None, depth - 1))
        return self.interior(children)


def import_stream(
    stream: BinaryIO,
    profile: ImportProfile,
    sink: BlockSink | None = None,
    progress: Callable[[int], None] | None = None,
) -> ImportedFile:
    """Chunk `stream` and build its DAG; blocks go to `sink` (none: only hash)."""
    builder = _Builder(profile, sink, progress)
    reader = _ChunkReader(stream, profile.chunk_size)
    if reader.done:
        root = builder.empty_file()
    else:
        # As in Kubo's balanced layout: the tree grows one level at a time,
        # each time adopting the previous full tree as its first child.
        root = builder.leaf(reader.next())
        depth = 1
        while not reader.done:
            root = builder.fill(reader, root, depth)
            depth += 1
    return ImportedFile(root.cid, root.file_size, root.tsize, builder.blocks)
