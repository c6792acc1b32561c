"""Hostile but well-formed DAGs for tests: every block verifies, the shape is the attack.

`fan_bomb` repeats one leaf under levels of identical links (a small CAR that
expands enormously); `chain` nests single-link nodes deeper than any importer
would. Sizes can be declared honestly or understated, to exercise both the
up-front check of a root's declared size and the check of what a walk produces.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from provenance.ipfs.car import write_car
from provenance.ipfs.cid import DAG_PB, RAW, Cid
from provenance.ipfs.dagpb import PbLink, encode_node, encode_unixfs_file


@dataclass(frozen=True)
class Dag:
    root: Cid
    blocks: dict[Cid, bytes]  # every distinct block, root included
    size: int  # bytes `cat` yields if nothing stops it

    def write_car(self, path: Path) -> Path:
        with open(path, "wb") as fh:
            write_car(fh, [self.root], self.blocks.items())
        return path

    def put_into(self, store) -> str:
        """Store every block in an EmbeddedStore (as a CAR import would, without its checks)."""
        store.blocks.ensure_writable()
        for cid, block in self.blocks.items():
            store.blocks.put_verified(cid, block)
        return str(self.root)


def _node(children: list[tuple[Cid, int]], declare: int | None = None) -> tuple[Cid, bytes]:
    """A UnixFS file node over `children` (cid, content size); `declare` overrides the sizes it claims."""
    sizes = [size for _, size in children]
    if declare is not None and children:
        sizes = [declare // len(children)] * len(children)
    data = encode_unixfs_file(None, sum(sizes), sizes)
    block = encode_node([PbLink(cid.to_bytes(), "", size) for cid, size in children], data)
    return Cid(1, DAG_PB, hashlib.sha256(block).digest()), block


def raw_leaf(data: bytes) -> tuple[Cid, bytes]:
    return Cid(1, RAW, hashlib.sha256(data).digest()), data


def fan_bomb(leaf_bytes: int, fanout: int, levels: int, honest: bool = True) -> Dag:
    """`levels` levels of `fanout` identical links over one raw leaf: leaf_bytes * fanout**levels bytes out."""
    leaf_cid, leaf = raw_leaf(b"\xab" * leaf_bytes)
    blocks = {leaf_cid: leaf}
    cid, size = leaf_cid, leaf_bytes
    for _ in range(levels):
        cid, block = _node([(cid, size)] * fanout, declare=None if honest else fanout)
        blocks[cid] = block
        size *= fanout
    return Dag(cid, blocks, size)


def chain(depth: int, payload: bytes = b"deep") -> Dag:
    """`depth` single-link nodes over one raw leaf, sizes declared honestly."""
    cid, block = raw_leaf(payload)
    blocks = {cid: block}
    for _ in range(depth):
        cid, block = _node([(cid, len(payload))])
        blocks[cid] = block
    return Dag(cid, blocks, len(payload))


def empty_padding(fanout: int, levels: int) -> Dag:
    """`levels` levels of `fanout` links to empty nodes: nothing to yield, fanout**levels visits to make."""
    cid, block = _node([], None)  # an empty file node: no links, size 0
    blocks = {cid: block}
    for _ in range(levels):
        cid, block = _node([(cid, 0)] * fanout)
        blocks[cid] = block
    return Dag(cid, blocks, 0)


def wide(links: int) -> Dag:
    """One node with `links` links to the same one-byte leaf, sizes declared honestly."""
    leaf_cid, leaf = raw_leaf(b"w")
    cid, block = _node([(leaf_cid, 1)] * links)
    return Dag(cid, {leaf_cid: leaf, cid: block}, links)


def unsized(children: int = 2) -> Dag:
    """A file node whose links carry no `blocksizes`: nothing says what each child owes."""
    leaf_cid, leaf = raw_leaf(b"u" * 10)
    block = encode_node([PbLink(leaf_cid.to_bytes(), "", 10)] * children, encode_unixfs_file(None, 10 * children, []))
    cid = Cid(1, DAG_PB, hashlib.sha256(block).digest())
    return Dag(cid, {leaf_cid: leaf, cid: block}, 10 * children)
