"""Writing a certificate into the ledger, from a mint or from chain events."""

from __future__ import annotations

from sqlalchemy.orm import Session

from .chain import Certificate
from .ledger import Ledger


def index_key(chain_id: int, contract: str, content_sha256: str) -> str:
    """Near-duplicate index key: one deployment's certificates never match another's."""
    return f"{chain_id}:{contract.lower()}:{content_sha256}"


def split_index_key(key: str) -> tuple[int, str, str]:
    chain_id, contract, content = key.split(":")
    return int(chain_id), contract, content


def index_hashes(session: Session, key: str, phash: str, pdq: str) -> None:
    """Add a certificate's hashes to the near-duplicate index, once."""
    from sqlalchemy import insert, select

    from .hashing.index import index_rows, phash_table

    if session.scalar(select(phash_table.c.id).where(phash_table.c.key == key).limit(1)) is not None:
        return
    for table, row in index_rows(key, phash, pdq):
        session.execute(insert(table).values(**row))


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
    index_hashes(session, index_key(chain_id, contract, cert.content_hash.hex()), phash, pdq)
