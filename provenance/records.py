"""Writing a certificate into the ledger, from a mint or from chain events, and holding it to the chain."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from .chain import Certificate
from .ledger import Ledger, MintJob

if TYPE_CHECKING:
    from .chain import ChainSession


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

    row = ledger.upsert_certificate(
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
    if not cert.revoked:
        row.revoke_reason = None  # a re-issued certificate drops its revoked predecessor's reason (upsert keeps old values for None)
    index_hashes(session, index_key(chain_id, contract, cert.content_hash.hex()), phash, pdq)


def reopen_lost_mints(chain: "ChainSession", ledger: Ledger, jobs: list[MintJob]) -> dict[int, MintJob]:
    """Of these confirmed mint jobs, those the chain does not back, reopened (back to `stored`), by job id.

    A confirmed job is done only while the chain holds its token with the job's metadata (or with
    metadata a re-attestation recorded in this ledger put there). Otherwise the mint was lost with
    its blocks (a node killed before it saved them, a reorganisation) or never happened on this
    chain: the job goes back to be sent again, and its certificate row leaves the ledger.
    """
    if not jobs:
        return {}
    registry = chain.registry
    tokens = registry.tokens_of_contents([bytes.fromhex(j.content_sha256) for j in jobs])
    reopened = {}
    for job, token in zip(jobs, tokens):
        if token is not None:
            cert = registry.certificate(token)
            digest = cert.metadata_digest.hex() if cert is not None else None
            if digest == job.metadata_digest:
                continue
            if digest and ledger.reattest_job(job.chain_id, job.contract, job.content_sha256, new=digest) is not None:
                continue
        reopened[job.id] = ledger.reopen_job(job.id)
    return reopened
