"""Sign a metadata document and pin it: the one path certify and reattest share."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from eth_account.signers.local import LocalAccount

from .errors import ProvenanceError
from .ipfs import ContentStore, raw_cid_from_sha256
from .metadata import MAX_METADATA_BYTES, SigningDomain, canonical_bytes, sign, validate

if TYPE_CHECKING:
    from .chain import ChainSession
    from .ledger import Ledger
    from .scanning import Scanner


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


class IssuerService:
    """What certify and reattest share: they sign and pin as the issuer of one deployment, record in the ledger
    and scan with the same scanner; a session without the issuer's key can do neither."""

    def __init__(self, chain: ChainSession, store: ContentStore, ledger: Ledger, scanner: Scanner, doing: str):
        """`doing`: what needs the key, for the error ("certifying")."""
        if chain.registry.signer is None:
            raise ProvenanceError(f"{doing} needs the issuer's signing key")
        self.chain = chain
        self.store = store
        self.ledger = ledger
        self.scanner = scanner
        self.issuer = chain.registry.signer
        self.chain_id = chain.deployment.chain_id
        self.contract = chain.deployment.address

    def pin(self, doc: dict) -> tuple[str, str]:
        """`doc` signed for this deployment and pinned: (metadata CID, sha256 hex of the canonical bytes)."""
        return pin_signed(doc, self.issuer, SigningDomain(self.chain_id, self.contract), self.store)
