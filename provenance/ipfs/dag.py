"""Walking a stored DAG: file bytes out of UnixFS, and the set of blocks under a root.

Both walks take a `get_block` function that returns a block already verified
against its CID, so they work the same over the embedded store, a Kubo node or
a gateway. Both are iterative (an explicit stack, never recursion), because a
DAG's depth is chosen by whoever built it.

A verified block is authentic, not harmless: a small DAG of repeated links can
expand to gigabytes, and a node can claim fewer bytes than it links to. So the
file walk holds every node to the sizes its parent declared, refuses a root
declaring more than the read allows before fetching anything under it, and
stops at a depth limit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from provenance.ipfs.cid import DAG_PB, RAW, Cid, cid_from_bytes
from provenance.ipfs.dagpb import UNIXFS_FILE, UNIXFS_RAW, decode_node, decode_unixfs
from provenance.ipfs.errors import InconsistentDag, InvalidBlock, IpfsError, TooDeep, TooLarge, TooWide
from provenance.ipfs.limits import DEFAULT_LIMITS, Deadline, FetchLimits

GetBlock = Callable[[Cid], bytes]


def child_cids(cid: Cid, block: bytes) -> list[Cid]:
    if cid.codec == RAW:
        return []
    if cid.codec != DAG_PB:
        raise IpfsError(f"{cid}: codec 0x{cid.codec:x} is not supported (only dag-pb and raw)")
    return _links(cid, decode_node(block).links)


def _links(cid: Cid, links) -> list[Cid]:
    children = []
    for link in links:
        child, end = cid_from_bytes(link.hash, 0, f"link in {cid}")
        if end != len(link.hash):
            raise InvalidBlock(f"{cid}: a link holds trailing bytes after its CID")
        children.append(child)
    return children


@dataclass(frozen=True, slots=True)
class FileNode:
    """One node of a UnixFS file: its own bytes, its children, and the sizes it declares."""

    data: bytes
    children: list[Cid]
    child_sizes: tuple[int, ...]  # one per child
    size: int  # file bytes under this node, as declared (a raw leaf: its length)


def file_node(cid: Cid, block: bytes, max_links: int = DEFAULT_LIMITS.max_links) -> FileNode:
    """Decode a file node and check that its own declarations agree with each other.

    The UnixFS spec has a file node with links declare each child's size
    (`blocksizes`); every importer does. Without them a walk could not know
    what it is owed, so a node lacking them is refused rather than trusted.
    """
    if cid.codec == RAW:
        return FileNode(block, [], (), len(block))
    if cid.codec != DAG_PB:
        raise IpfsError(f"{cid}: codec 0x{cid.codec:x} is not a UnixFS file")
    node = decode_node(block)
    unixfs = decode_unixfs(node.data)
    if unixfs.type not in (UNIXFS_FILE, UNIXFS_RAW):
        raise IpfsError(f"{cid} is not a file (UnixFS type {unixfs.type})")
    if len(node.links) > max_links:
        raise TooWide(f"{cid} has {len(node.links)} links, more than this read's limit of {max_links}")
    children = _links(cid, node.links)
    if len(unixfs.blocksizes) != len(children):
        raise InconsistentDag(f"{cid} declares {len(unixfs.blocksizes)} block sizes for {len(children)} links")
    summed = len(unixfs.data) + sum(unixfs.blocksizes)
    if unixfs.filesize is not None and unixfs.filesize != summed:
        raise InconsistentDag(f"{cid} declares a file size of {unixfs.filesize} bytes but its parts add up to {summed}")
    return FileNode(unixfs.data, children, unixfs.blocksizes, summed)


@dataclass(frozen=True, slots=True)
class _Visit:
    cid: Cid
    declared: int | None  # the size the parent declared for this child; None for the root
    depth: int


def iter_file(root: Cid, get_block: GetBlock, limits: FetchLimits = DEFAULT_LIMITS, deadline: Deadline | None = None) -> Iterator[bytes]:
    """Yield a UnixFS file's content in order, one block's data at a time.

    Raises `TooLarge` before reading below a root that declares more than
    `limits.max_bytes`; `TooDeep` / `TooWide` past `limits.max_depth` /
    `limits.max_links`; `InconsistentDag` for a node whose size differs from
    what its parent declares for it or an empty node below the root; and
    `DeadlineExceeded` between blocks once `deadline` has passed.

    Why this bounds the output: a node's size is its own data plus the sizes
    it declares for its children, and each child is held to the size declared
    for it, so by induction the file is exactly the root's declared size, and
    no node can yield a byte more than it was vouched for. Why it bounds the
    work: every node below the root holds at least one byte, so a walk visits
    at most `max_depth` nodes per byte it yields, and keeps at most
    `max_depth * max_links` nodes pending.
    """
    stack = [_Visit(root, None, 0)]
    while stack:
        item = stack.pop()
        if item.depth > limits.max_depth:
            raise TooDeep(f"{root} nests deeper than {limits.max_depth} levels (at {item.cid})")
        if deadline is not None:
            deadline.check()
        node = file_node(item.cid, get_block(item.cid), limits.max_links)
        _check_size(root, item, node, limits)
        if node.data:
            yield node.data
        for child, size in zip(reversed(node.children), reversed(node.child_sizes)):
            stack.append(_Visit(child, size, item.depth + 1))


def _check_size(root: Cid, item: _Visit, node: FileNode, limits: FetchLimits) -> None:
    """The node's own size must be what its parent declared, and nothing below the root may be empty."""
    if item.declared is None:
        if node.size > limits.max_bytes:
            raise TooLarge(f"{root} declares {node.size} bytes, more than this read's limit of {limits.max_bytes}")
        return
    if node.size != item.declared:
        raise InconsistentDag(f"{item.cid} declares {node.size} bytes but its parent declares {item.declared}")
    if node.size == 0:
        # Importers make an empty node only for an empty file's root; below it, one
        # costs a visit and yields nothing, which is how a walk is made endless.
        raise InconsistentDag(f"{item.cid} is an empty node inside {root}")


def walk(roots: Sequence[Cid], children_of: Callable[[Cid], Sequence[Cid]], seen: set[bytes] | None = None) -> Iterator[Cid]:
    """Every CID under `roots` once, depth first, each before its children (in their order).

    The one DAG walk of the package: a CID met again (a DAG may link one block many times,
    which is how a small DAG is made to look endless) is neither yielded nor expanded again.
    `children_of` is asked for a CID's children after the CID is yielded.
    """
    seen = set() if seen is None else seen
    stack = list(reversed(roots))
    while stack:
        cid = stack.pop()
        key = cid.to_bytes()
        if key in seen:
            continue
        seen.add(key)
        yield cid
        stack.extend(reversed(children_of(cid)))


def iter_dag(root: Cid, get_block: GetBlock, seen: set[bytes] | None = None) -> Iterator[tuple[Cid, bytes]]:
    """Yield every (cid, block) under `root` once, depth first, root first."""
    fetched: dict[bytes, bytes] = {}  # the block just yielded, whose links walk asks for next
    for cid in walk([root], lambda c: child_cids(c, fetched.pop(c.to_bytes())), seen):
        block = get_block(cid)
        fetched[cid.to_bytes()] = block
        yield cid, block
