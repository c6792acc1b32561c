"""The UnixFS file importer: fixed-size chunks under a balanced DAG, as Kubo builds it.

Leaves come from `leaves` (hashed by worker threads for large files); this
module links them into interior nodes. Memory stays constant whatever the
file size, and each block is handed to an optional sink as a list of byte
parts (a leaf's envelope and its data) to avoid copying chunks.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO

from provenance.ipfs.cid import DAG_PB, Cid
from provenance.ipfs.dagpb import PbLink, encode_node, encode_unixfs_file
from provenance.ipfs.leaves import BlockSink, LeafSource, Node, hash_leaf, open_leaves
from provenance.ipfs.profile import ImportProfile

__all__ = ["BlockSink", "ImportedFile", "import_stream"]


@dataclass(frozen=True)
class ImportedFile:
    cid: Cid
    size: int  # bytes of file content
    dag_size: int  # bytes of all blocks (Kubo's cumulative size)
    blocks: int


class _Builder:
    def __init__(self, profile: ImportProfile, sink: BlockSink | None, progress: Callable[[int], None] | None) -> None:
        self.profile = profile
        self.sink = sink
        self.progress = progress
        self.blocks = 0

    def leaf(self, leaves: LeafSource) -> Node:
        node = leaves.next()
        self.blocks += 1
        if self.progress is not None:
            self.progress(node.file_size)
        return node

    def empty_file(self) -> Node:
        if self.profile.raw_leaves:
            self.blocks += 1
            return hash_leaf(memoryview(b""), self.profile, self.sink)
        return self.interior([])

    def interior(self, children: list[Node]) -> Node:
        self.blocks += 1
        file_size = sum(c.file_size for c in children)
        data = encode_unixfs_file(None, file_size, [c.file_size for c in children])
        links = [PbLink(c.cid.to_bytes(), "", c.tsize) for c in children]
        block = encode_node(links, data)
        cid = Cid(self.profile.cid_version, DAG_PB, hashlib.sha256(block).digest())
        if self.sink is not None:
            self.sink.put_parts(cid, [block])
        return Node(cid, file_size, len(block) + sum(c.tsize for c in children))

    def fill(self, leaves: LeafSource, first: Node | None, depth: int) -> Node:
        """A node `depth` levels above the leaves, filled with as many children as fit."""
        children = [first] if first is not None else []
        while len(children) < self.profile.max_links and not leaves.done:
            if depth == 1:
                children.append(self.leaf(leaves))
            else:
                children.append(self.fill(leaves, None, depth - 1))
        return self.interior(children)


def import_stream(
    stream: BinaryIO,
    profile: ImportProfile,
    sink: BlockSink | None = None,
    progress: Callable[[int], None] | None = None,
    parallel: bool | None = None,
) -> ImportedFile:
    """Chunk `stream` and build its DAG; blocks go to `sink` (none: only hash).

    `parallel`: None lets `leaves.open_leaves` decide (worker threads for large
    files when a CPU is idle); True or False force the choice (the benchmark compares all three).
    """
    builder = _Builder(profile, sink, progress)
    leaves = open_leaves(stream, profile, sink, parallel)
    try:
        if leaves.done:
            root = builder.empty_file()
        else:
            # As in Kubo's balanced layout: the tree grows one level at a time,
            # each time adopting the previous full tree as its first child.
            root = builder.leaf(leaves)
            depth = 1
            while not leaves.done:
                root = builder.fill(leaves, root, depth)
                depth += 1
    finally:
        leaves.close()
    return ImportedFile(root.cid, root.file_size, root.tsize, builder.blocks)
