"""A content store that reads from HTTP gateways what its primary store cannot supply.

Adds and pins always go to the primary store: a gateway is a read-only
source, and content it serves is checked block by block against the CID (a
gateway sending wrong bytes is that gateway's failure, and the next one is
asked). Blocks fetched from a gateway are not copied into the primary store,
so reading never writes.

Corruption found in the primary store is reported, not papered over with a
gateway's copy: a damaged local store is something the user must learn about.
A primary that has only part of a DAG is finished from a gateway: both serve
verified bytes of the same CID, so the gateway's stream continues exactly
where the primary's stopped.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from typing import Any

from provenance.ipfs.errors import NoIntactCopy, NotFound, StoreUnavailable
from provenance.ipfs.gateway import GatewayFetcher
from provenance.ipfs.limits import DEFAULT_LIMITS, FetchLimits
from provenance.ipfs.store import AddResult, ContentStore

# What makes a read worth retrying elsewhere: the block is absent, or the
# primary (a Kubo node) cannot be reached at all.
_UNAVAILABLE = (NotFound, StoreUnavailable)


class GatewayFallbackStore:
    def __init__(self, primary: ContentStore, gateways: GatewayFetcher) -> None:
        self.primary = primary
        self.gateways = gateways

    def __repr__(self) -> str:
        return f"{self.primary!r} with {len(self.gateways.gateways)} gateway(s)"

    def close(self) -> None:
        close = getattr(self.primary, "close", None)
        if close is not None:
            close()
        self.gateways.close()

    # -- writes: the primary store only ------------------------------------------

    def add_bytes(self, data: bytes, **options: Any) -> AddResult:
        return self.primary.add_bytes(data, **options)

    def add_file(self, path, **options: Any) -> AddResult:
        return self.primary.add_file(path, **options)

    def add_json(self, obj: Any, **options: Any) -> AddResult:
        return self.primary.add_json(obj, **options)

    def pin(self, cid: str) -> None:
        self.primary.pin(cid)

    def unpin(self, cid: str) -> None:
        self.primary.unpin(cid)

    def pins(self) -> list[str]:
        return self.primary.pins()

    # -- reads: primary first, then the gateways ------------------------------------

    def cat(self, cid: str, *, limits: FetchLimits | None = None) -> bytes:
        return b"".join(self.iter_cat(cid, limits=limits))

    def iter_cat(self, cid: str, *, limits: FetchLimits | None = None) -> Iterator[bytes]:
        """The file's bytes from the primary, or from where it stopped on, from the gateways."""
        limits, started, sent = limits or DEFAULT_LIMITS, time.monotonic(), 0
        try:
            for chunk in _iter_cat(self.primary, cid, limits):
                sent += len(chunk)
                yield chunk
            return
        except _UNAVAILABLE as exc:
            local_exc = exc
        try:
            yield from _skip(self.gateways.iter_cat(cid, limits=_remaining(limits, started)), sent)
        except NotFound as remote_exc:
            raise self._neither(cid, local_exc, remote_exc) from None

    def verify(self, cid: str, *, limits: FetchLimits | None = None) -> None:
        limits, started = limits or DEFAULT_LIMITS, time.monotonic()
        try:
            self.primary.verify(cid, limits=limits)
        except _UNAVAILABLE as local_exc:
            try:
                self.gateways.verify(cid, limits=_remaining(limits, started))
            except NotFound as remote_exc:
                raise self._neither(cid, local_exc, remote_exc) from None

    def has(self, cid: str) -> bool:
        try:
            if self.primary.has(cid):
                return True
        except StoreUnavailable:
            pass
        return self.gateways.has(cid)

    def _neither(self, cid: str, local_exc: Exception, remote_exc: NotFound) -> NoIntactCopy:
        primary = repr(self.primary) if isinstance(local_exc, NotFound) else f"{self.primary!r} ({local_exc})"
        return NoIntactCopy(cid, f"{primary} nor {remote_exc.where}", getattr(remote_exc, "mismatched", ()))


def _iter_cat(store: ContentStore, cid: str, limits: FetchLimits) -> Iterator[bytes]:
    if hasattr(store, "iter_cat"):
        return store.iter_cat(cid, limits=limits)
    return iter([store.cat(cid, limits=limits)])


def _remaining(limits: FetchLimits, started: float) -> FetchLimits:
    """The caller's deadline covers the primary and the gateways together."""
    if limits.deadline_s is None:
        return limits
    return dataclasses.replace(limits, deadline_s=max(0.0, limits.deadline_s - (time.monotonic() - started)))


def _skip(chunks: Iterator[bytes], count: int) -> Iterator[bytes]:
    """`chunks` without their first `count` bytes."""
    for chunk in chunks:
        if count >= len(chunk):
            count -= len(chunk)
            continue
        yield chunk[count:] if count else chunk
        count = 0


def primary_of(store: ContentStore) -> ContentStore:
    """The store that adds and pins go to, under any gateway fallback."""
    return store.primary if isinstance(store, GatewayFallbackStore) else store
