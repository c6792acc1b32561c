"""Sign a metadata document and pin it: the one path certify and reattest share."""

from __future__ import annotations

import hashlib

from eth_account.signers.local import LocalAccount

from .errors import ProvenanceError
from .ipfs import ContentStore, raw_cid_from_sha256
from .metadata import MAX_METADATA_BYTES, SigningDomain, canonical_bytes, sign, validate


def pin_signed(doc: dict, issuer: LocalAccount, domain: SigningDomain, store: ContentStore) -> tuple[str, str]:
    """Sign, validate and pin `doc`; (metadata CID, sha256 hex of the canonical bytes)."""
    signed = sign(doc, issuer, domain)
    validate(signed)
    raw = canonical_bytes(signed)
    if len(raw) > MAX_METADATA_BYTES:
        raise ProvenanceError(f"metadata is {len(raw)} bytes; the limit is {MAX_METADATA_BYTES}")
    digest = hashlib.sha256(raw).hexdigest()
    stored = store.add_bytes(raw, cid_version=1)
    # The contract's tokenURI names the CID of this digest: they must agree.
    if stored.cid != raw_cid_from_sha256(bytes.fromhex(digest)):
        raise ProvenanceError(f"metadata CID {stored.cid} does not match its digest")
    return stored.cid, digest
