"""A content store that reads from HTTP gateways what its primary store cannot supply.

Adds and pins always go to the primary store: a gateway is a read-only
source, and content it serves is checked block by block against the CID
(a gateway sending wrong bytes raises `BlockMismatch`, it is never skipped).
Blocks fetched from a gateway are not copied into the primary store, so
reading never writes.

Corruption found in the primary store is reported, not papered over with a
gateway's copy: a damaged local store is something the user must learn about.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from provenance.ipfs.errors import NotFound, StoreUnavailable
from provenance.ipfs.gateway import GatewayFetcher
from provenance.ipfs.store import AddResult, ContentStore

T = TypeVar("T")

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

    def cat(self, cid: str) -> bytes:
        return self._read(cid, self.primary.cat, self.gateways.cat)

    def verify(self, cid: str) -> None:
        self._read(cid, self.primary.verify, self.gateways.verify)

    def has(self, cid: str) -> bool:
        try:
            if self.primary.has(cid):
                return True
        except StoreUnavailable:
            pass
        return self.gateways.has(cid)

    def _read(self, cid: str, local: Callable[[str], T], remote: Callable[[str], T]) -> T:
        try:
            return local(cid)
        except _UNAVAILABLE as local_exc:
            try:
                return remote(cid)
            except NotFound as remote_exc:
                primary = repr(self.primary) if isinstance(local_exc, NotFound) else f"{self.primary!r} ({local_exc})"
                raise NotFound(cid, f"{primary} nor {remote_exc.where}") from None


def primary_of(store: ContentStore) -> ContentStore:
    """The store that adds and pins go to, under any gateway fallback."""
    return store.primary if isinstance(store, GatewayFallbackStore) else store
