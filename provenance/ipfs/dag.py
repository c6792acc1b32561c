"""Walking a stored DAG: file bytes out of UnixFS, and the set of blocks under a root.

Both walks take a `get_block` function that returns a block already verified
against its CID, so they work the same over the embedded store, a Kubo node or
a gateway.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from provenance.ipfs.cid import DAG_PB, RAW, Cid, cid_from_bytes
from provenance.ipfs.dagpb import UNIXFS_FILE, UNIXFS_RAW, decode_node, decode_unixfs
from provenance.ipfs.errors import InvalidBlock, IpfsError

GetBlock = Callable[[Cid], bytes]


def child_cids(cid: Cid, block: bytes) -> list[Cid]:
    if cid.codec == RAW:
        return []
    if cid.codec != DAG_PB:
        raise IpfsError(f"{cid}: codec 0x{cid.codec:x} is not supported (only dag-pb and raw)")
    children = []
    for link in decode_node(block).links:
        child, end = cid_from_bytes(link.hash, 0, f"link in {cid}")
        if end != len(link.hash):
            raise InvalidBlock(f"{cid}: a link holds trailing bytes after its CID")
        children.append(child)
    return children


def iter_file(root: Cid, get_block: GetBlock) -> Iterator[bytes]:
    """Yield a UnixFS file's content in order, one leaf at a time (constant memory per level)."""
    block = get_block(root)
    if root.codec == RAW:
        yield block
        return
    if root.codec != DAG_PB:
        raise IpfsError(f"{root}: codec 0x{root.codec:x} is not a UnixFS file")
    node = decode_node(block)
    unixfs = decode_unixfs(node.data)
    if unixfs.type not in (UNIXFS_FILE, UNIXFS_RAW):
        raise IpfsError(f"{root} is not a file (UnixFS type {unixfs.type})")
    if unixfs.data:
        yield unixfs.data
    for child in child_cids(root, block):
        yield from iter_file(child, get_block)


def iter_dag(root: Cid, get_block: GetBlock, seen: set[bytes] | None = None) -> Iterator[tuple[Cid, bytes]]:
    """Yield every (cid, block) under `root` once, depth first, root first."""
    seen = set() if seen is None else seen
    stack = [root]
    while stack:
        cid = stack.pop()
        key = cid.to_bytes()
        if key in seen:
            continue
        seen.add(key)
        block = get_block(cid)
        yield cid, block
        stack.extend(reversed(child_cids(cid, block)))
