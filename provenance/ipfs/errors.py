"""Exceptions of the IPFS layer, all rooted at `IpfsError`.

Every message is meant to be shown to a user as is, so each one names the CID,
file or endpoint it is about.
"""

from __future__ import annotations


class IpfsError(Exception):
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
