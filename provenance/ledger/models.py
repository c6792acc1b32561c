"""Ledger tables: deployments, certificates, indexed chain events, sync positions, mint jobs and re-attestation jobs.

Every row belongs to one registry deployment (`deployment_id`), and a deployment is
its chain id, genesis hash, address and deploy block hash: a registry redeployed at
the same address on a reset chain is another deployment, so the old one's rows never
read as the new one's. Of the deployments at one (chain id, address) exactly one is
in use (`retired_at` unset); the ledger's lookups by chain id and address see its rows only.
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import BigInteger, Boolean, DateTime, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    pass


class OfDeployment:
    """The columns of a row that belongs to one deployment: its own id, the deployment's, and the
    deployment's chain id and address (kept on the row so lookups by them need no join).
    `sort_order` keeps them the table's first columns, where they stood before this mixin."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True, sort_order=-4)
    deployment_id: Mapped[int] = mapped_column(Integer, index=True, sort_order=-3)
    chain_id: Mapped[int] = mapped_column(BigInteger, sort_order=-2)
    contract: Mapped[str] = mapped_column(String(42), sort_order=-1)


class DeploymentRow(Base):
    """A registry deployment the ledger has rows for.

    A row without a genesis hash stands for the rows of a ledger older than this
    table (migration 0005) at one chain id and address; the first check of a real
    deployment there adopts it.
    """

    __tablename__ = "deployments"
    __table_args__ = (
        UniqueConstraint("chain_id", "genesis_hash", "address", "deploy_block_hash", name="uq_deployment_identity"),
        Index("ix_deployments_chain_address", "chain_id", "address"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    chain_id: Mapped[int] = mapped_column(BigInteger)
    address: Mapped[str] = mapped_column(String(42))  # lower case
    genesis_hash: Mapped[str | None] = mapped_column(String(66), nullable=True)
    deploy_block: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    deploy_block_hash: Mapped[str | None] = mapped_column(String(66), nullable=True)
    retired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class JobState:
    """A mint job moves forward through these states, in the order written; `failed` can be retried."""

    NEW = "new"
    HASHED = "hashed"
    SCANNED = "scanned"
    STORED = "stored"
    SUBMITTED = "submitted"
    CONFIRMED = "confirmed"
    FAILED = "failed"


class MintJob(OfDeployment, Base):
    __tablename__ = "mint_jobs"
    __table_args__ = (UniqueConstraint("deployment_id", "content_sha256", name="uq_job_content"),)

    content_sha256: Mapped[str] = mapped_column(String(64), index=True)
    path: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), default=JobState.NEW)
    request_json: Mapped[str] = mapped_column(Text)  # name, description, generator, recipient
    hashes_json: Mapped[str | None] = mapped_column(Text, nullable=True)
    verdict_json: Mapped[str | None] = mapped_column(Text, nullable=True)
    media_cid: Mapped[str | None] = mapped_column(String(128), nullable=True)
    metadata_cid: Mapped[str | None] = mapped_column(String(128), nullable=True)
    metadata_digest: Mapped[str | None] = mapped_column(String(64), nullable=True)
    tx_hash: Mapped[str | None] = mapped_column(String(66), nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class ReattestJob(OfDeployment, Base):
    """One re-attestation of a certificate: from the metadata digest on chain when it began to a new one.

    Moves scanned -> stored -> submitted -> confirmed (the `JobState` names). The
    transaction is signed and recorded (`tx_hash`, `tx_nonce`, `raw_tx`) before it
    is sent, so a re-run finds it and never sends a second re-attestation.
    """

    __tablename__ = "reattest_jobs"
    __table_args__ = (UniqueConstraint("deployment_id", "content_sha256", "prior_digest", name="uq_reattest_prior"),)

    content_sha256: Mapped[str] = mapped_column(String(64), index=True)
    prior_digest: Mapped[str] = mapped_column(String(64))  # the on-chain metadata digest it replaces
    previous_json: Mapped[str] = mapped_column(Text)  # the verdict it replaces: label, score, metadata_cid
    state: Mapped[str] = mapped_column(String(16), default=JobState.SCANNED)
    verdict_json: Mapped[str] = mapped_column(Text)
    metadata_cid: Mapped[str | None] = mapped_column(String(128), nullable=True)
    metadata_digest: Mapped[str | None] = mapped_column(String(64), nullable=True)
    tx_hash: Mapped[str | None] = mapped_column(String(66), nullable=True)
    tx_nonce: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    raw_tx: Mapped[str | None] = mapped_column(Text, nullable=True)  # hex of the signed transaction
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class CertificateRow(OfDeployment, Base):
    __tablename__ = "certificates"
    __table_args__ = (UniqueConstraint("deployment_id", "content_sha256", name="uq_cert_content"),)

    content_sha256: Mapped[str] = mapped_column(String(64), index=True)  # also the token id
    metadata_digest: Mapped[str] = mapped_column(String(64))
    metadata_cid: Mapped[str | None] = mapped_column(String(128), nullable=True)
    media_cid: Mapped[str | None] = mapped_column(String(128), nullable=True)
    issuer: Mapped[str] = mapped_column(String(42))
    owner: Mapped[str] = mapped_column(String(42))
    label: Mapped[str] = mapped_column(String(32))
    score_bps: Mapped[int] = mapped_column(Integer)
    phash: Mapped[str] = mapped_column(String(16))
    pdq: Mapped[str] = mapped_column(String(64))
    issued_at: Mapped[int] = mapped_column(BigInteger)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    revoke_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    tx_hash: Mapped[str] = mapped_column(String(66))
    block_number: Mapped[int] = mapped_column(BigInteger)


class ChainEvent(OfDeployment, Base):
    __tablename__ = "chain_events"
    __table_args__ = (UniqueConstraint("deployment_id", "block_number", "log_index", name="uq_event_position"),)

    block_number: Mapped[int] = mapped_column(BigInteger)
    block_hash: Mapped[str | None] = mapped_column(String(66), nullable=True)  # None: indexed before 0005
    log_index: Mapped[int] = mapped_column(Integer)
    tx_hash: Mapped[str] = mapped_column(String(66))
    name: Mapped[str] = mapped_column(String(64))
    args_json: Mapped[str] = mapped_column(Text)


class SyncState(Base):
    """How far `sync` has indexed a deployment: blocks below `next_block`, the last of them with this hash."""

    __tablename__ = "sync_state"

    deployment_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    chain_id: Mapped[int] = mapped_column(BigInteger)
    contract: Mapped[str] = mapped_column(String(42))
    next_block: Mapped[int] = mapped_column(BigInteger, default=0)
    last_block_hash: Mapped[str | None] = mapped_column(String(66), nullable=True)


class ApiKey(Base):
    """A key for the HTTP API's authenticated calls (`provenance apikeys create`).

    Only the key's sha256 is kept: the key is 32 random bytes, so a plain hash
    is enough to make a stolen ledger useless for calling the API, and a lookup
    by hash stays one indexed query. The prefix lets a person tell keys apart.
    """

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(128))
    prefix: Mapped[str] = mapped_column(String(16))
    key_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class ApiJob(Base):
    """A certify request queued by the HTTP API, run by a worker (provenance/server/worker.py).

    queued -> running -> done | failed. A worker holds a running job by its lease
    (`lease_until`, renewed while it works); a job whose lease ran out (its worker
    died) is queued again, and the mint it runs is itself resumable.
    """

    __tablename__ = "api_jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    api_key_id: Mapped[int] = mapped_column(Integer, index=True)
    state: Mapped[str] = mapped_column(String(16), default="queued", index=True)
    upload_path: Mapped[str] = mapped_column(Text)
    file_name: Mapped[str] = mapped_column(Text)
    request_json: Mapped[str] = mapped_column(Text)
    result_json: Mapped[str | None] = mapped_column(Text, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
