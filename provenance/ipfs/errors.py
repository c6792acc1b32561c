"""Exceptions of the IPFS layer, all rooted at `IpfsError`.

Every message is meant to be shown to a user as is, so each one names the CID,
file or endpoint it is about.
"""

from __future__ import annotations

from ..errors import ProvenanceError


class IpfsError(ProvenanceError):
    """Base of every error raised by `provenance.ipfs`."""


class InvalidCid(IpfsError):
    """A string or byte sequence is not a CID this project can use."""


class InvalidBlock(IpfsError):
    """A block's bytes do not decode as the codec its CID names."""


class BlockMismatch(IpfsError):
    """A block's bytes do not hash to the digest in its CID."""

    def __init__(self, cid: str, source: str = "") -> None:
        where = f" from {source}" if source else ""
        super().__init__(f"block {cid}{where} does not match its CID (content was altered or corrupted)")
        self.cid = cid


class NotFound(IpfsError):
    """A block or DAG is not available in the store asked."""

    def __init__(self, cid: str, where: str = "the store") -> None:
        super().__init__(f"{cid} is not in {where}")
        self.cid = cid
        self.where = where


class CorruptCar(IpfsError):
    """A CAR file is truncated, malformed or holds blocks that do not verify."""


class StoreUnavailable(IpfsError):
    """The store cannot be read or written (read-only, full, unreachable)."""


class RemoteError(IpfsError):
    """A Kubo node, pinning service or gateway answered with an error."""


class InconsistentDag(InvalidBlock):
    """A DAG's declared sizes disagree with each other or with what it holds.

    Every block may verify against its CID and the DAG still lie: a node can
    claim 40 bytes and link 1.6 GB. The CID vouches for such a DAG, so every
    source serves the same lie and there is no point asking another.
    """


class LimitExceeded(IpfsError):
    """A read went past a size, depth or time limit, the caller's or the default."""


class TooLarge(LimitExceeded):
    """Content is larger than the read allows (declared by the DAG, or produced by it)."""


class TooDeep(LimitExceeded):
    """A DAG nests deeper than the read allows."""


class TooWide(LimitExceeded):
    """A DAG node has more links than the read allows."""


class DeadlineExceeded(LimitExceeded):
    """A source did not deliver within the time the read allows."""


class NoIntactCopy(NotFound):
    """No source served the content intact: each was missing it, failed, or sent bytes that do not match.

    This is deliberately a `NotFound`, not a `BlockMismatch`: bytes that do not
    hash to the CID are not the content, so they say nothing about it. A
    certificate whose metadata every gateway garbles is unavailable, not
    tampered with. `mismatched` names the sources that sent wrong bytes, so a
    caller can still warn that a gateway is lying.
    """

    def __init__(self, cid: str, where: str, mismatched: tuple[str, ...] = ()) -> None:
        super().__init__(cid, where)
        self.mismatched = tuple(mismatched)
