"""Content addressing and storage on IPFS, with CIDs identical to Kubo's.

Public surface: `open_store`, the `ContentStore` protocol and `AddResult`,
`ImportProfile`, `FetchLimits` (what a read may produce and how long it may
take), only-hash helpers, raw-CID helpers for token URIs,
`check_cids` / `check_certificates`, and the `IpfsError` hierarchy.
"""

from __future__ import annotations

from provenance.config import Settings
from provenance.ipfs.check import (
    CertificateCids,
    CertificatesReport,
    CheckReport,
    CidStatus,
    check_certificates,
    check_cids,
)
from provenance.ipfs.cid import raw_cid_from_sha256, sha256_from_raw_cid
from provenance.ipfs.embedded import EmbeddedStore
from provenance.ipfs.errors import (
    BlockMismatch,
    CorruptCar,
    DeadlineExceeded,
    InconsistentDag,
    InvalidBlock,
    InvalidCid,
    IpfsError,
    LimitExceeded,
    NoIntactCopy,
    NotFound,
    RemoteError,
    StoreUnavailable,
    TooDeep,
    TooLarge,
    TooWide,
)
from provenance.ipfs.hashing import cid_of_bytes, cid_of_file
from provenance.ipfs.limits import DEFAULT_LIMITS, MAX_BLOCK_BYTES, MAX_CONTENT_BYTES, FetchLimits
from provenance.ipfs.profile import ImportProfile
from provenance.ipfs.store import AddResult, ContentStore, canonical_json

__all__ = [
    "DEFAULT_LIMITS",
    "MAX_BLOCK_BYTES",
    "MAX_CONTENT_BYTES",
    "AddResult",
    "BlockMismatch",
    "CertificateCids",
    "CertificatesReport",
    "CheckReport",
    "CidStatus",
    "ContentStore",
    "CorruptCar",
    "DeadlineExceeded",
    "EmbeddedStore",
    "FetchLimits",
    "ImportProfile",
    "InconsistentDag",
    "InvalidBlock",
    "InvalidCid",
    "IpfsError",
    "LimitExceeded",
    "NoIntactCopy",
    "NotFound",
    "RemoteError",
    "StoreUnavailable",
    "TooDeep",
    "TooLarge",
    "TooWide",
    "canonical_json",
    "check_certificates",
    "check_cids",
    "cid_of_bytes",
    "cid_of_file",
    "open_store",
    "raw_cid_from_sha256",
    "sha256_from_raw_cid",
]


def open_store(settings: Settings) -> ContentStore:
    """The backend `settings.ipfs_backend` names ("embedded", the default, or "kubo").

    With `settings.ipfs_gateways` set, reads the backend cannot answer fall
    back to those gateways; adds and pins still go to the backend alone.
    """
    primary = _backend(settings)
    if not settings.ipfs_gateways:
        return primary
    from provenance.ipfs.fallback import GatewayFallbackStore
    from provenance.ipfs.gateway import GatewayFetcher

    return GatewayFallbackStore(primary, GatewayFetcher(settings.ipfs_gateways))


def _backend(settings: Settings) -> ContentStore:
    if settings.ipfs_backend == "embedded":
        return EmbeddedStore(settings.ipfs_dir)
    if settings.ipfs_backend == "kubo":
        from provenance.ipfs.kubo import KuboStore

        return KuboStore(settings.ipfs_api, auth=settings.ipfs_api_auth)
    raise StoreUnavailable(f"unknown ipfs_backend {settings.ipfs_backend!r} (expected 'embedded' or 'kubo')")
