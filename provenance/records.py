"""Writing a certificate into the ledger, from a mint or from chain events."""

from __future__ import annotations

from sqlalchemy.orm import Session

from .chain import Certificate
from .ledger import Ledger


def record_certificate(
    ledger: Ledger,
    session: Session,
    chain_id: int,
    contract: str,
    cert: Certificate,
    *,
    tx_hash: str,
    block_number: int,
    phash: str,
    pdq: str,
    metadata_cid: str | None = None,
    media_cid: str | None = None,
    revoke_reason: str | None = None,
) -> None:
    from .ipfs import raw_cid_from_sha256

    ledger.upsert_certificate(
        session,
        chain_id=chain_id,
        contract=contract,
        content_sha256=cert.content_hash.hex(),
        metadata_digest=cert.metadata_digest.hex(),
        metadata_cid=metadata_cid or raw_cid_from_sha256(cert.metadata_digest),
        media_cid=media_cid,
        issuer=cert.issuer,
        owner=cert.owner,
        label=cert.label.text,
        score_bps=cert.score_bps,
        phash=phash,
        pdq=pdq,
        issued_at=cert.issued_at,
        revoked=cert.revoked,
        revoke_reason=revoke_reason,
        tx_hash=tx_hash,
        block_number=block_number,
    )
