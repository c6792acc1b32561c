"""The ledger: a SQLAlchemy database (SQLite by default) of jobs, certificates and events.

Every state change of a mint job is its own committed transaction, so a crash
loses at most the step in progress, which the next run redoes.
"""

from __future__ import annotations

import json
import os
from typing import Iterable, Sequence

from sqlalchemy import Engine, create_engine, event, make_url, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from ..errors import ProvenanceError
from .migrate import upgrade
from .models import CertificateRow, ChainEvent, JobState, MintJob, ReattestJob, SyncState


class LedgerError(ProvenanceError):
    """The ledger database cannot be opened or written."""


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # NORMAL in WAL mode: a committed step survives a crash of the process
    # (what resumable jobs need); only a power loss may drop the last commits.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def _create_private(db) -> None:
    """Create a new SQLite ledger file owner-only (0600; SQLite gives its -wal and -shm the same mode),
    in a folder made 0700 when it is new (the home, by default). Existing ones are left as they are."""
    if str(db) in ("", ":memory:"):
        return
    try:
        db.parent.mkdir(mode=0o700, parents=True)
    except FileExistsError:
        pass
    try:
        os.close(os.open(db, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass


def make_engine(url: str) -> Engine:
    engine = create_engine(url, future=True)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _safe(url: str) -> str:
    """The URL with any password masked, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparsable URL has no password we could find
        return "(unparsable database URL)"


class Ledger:
    def __init__(self, engine: Engine):
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @classmethod
    def open(cls, url: str) -> "Ledger":
        try:
            if url.startswith("sqlite:///"):
                from pathlib import Path

                _create_private(Path(url.removeprefix("sqlite:///").split("?", 1)[0]))
            engine = make_engine(url)
            upgrade(engine)
        except (SQLAlchemyError, OSError, ValueError) as exc:
            raise LedgerError(f"cannot open ledger {_safe(url)}: {str(exc).splitlines()[0]}") from None
        return cls(engine)

    def session(self) -> Session:
        return self._sessions()

    # ---- mint jobs ----------------------------------------------------
    def job_for(self, chain_id: int, contract: str, content_sha256: str) -> MintJob | None:
        with self.session() as s:
            return s.scalar(
                select(MintJob).where(
                    MintJob.chain_id == chain_id, MintJob.contract == contract, MintJob.content_sha256 == content_sha256
                )
            )

    def create_job(self, chain_id: int, contract: str, content_sha256: str, path: str, request: dict) -> MintJob:
        with self.session() as s, s.begin():
            job = MintJob(
                chain_id=chain_id, contract=contract, content_sha256=content_sha256, path=path,
                state=JobState.NEW, request_json=json.dumps(request, sort_keys=True),
            )
            s.add(job)
        return job

    def update_job(self, job_id: int, session: Session | None = None, **fields) -> MintJob:
        """Change a job; in its own transaction, or inside the caller's `session`."""
        if session is not None:
            job = session.get(MintJob, job_id)
            for key, value in fields.items():
                setattr(job, key, value)
            return job
        with self.session() as s, s.begin():
            job = self.update_job(job_id, s, **fields)
        return job

    def jobs(self, states: Sequence[str] | None = None) -> list[MintJob]:
        with self.session() as s:
            query = select(MintJob).order_by(MintJob.id)
            if states:
                query = query.where(MintJob.state.in_(states))
            return list(s.scalars(query))

    # ---- re-attestation jobs ------------------------------------------
    def reattest_job(self, chain_id: int, contract: str, content_sha256: str, *, prior: str | None = None,
                     new: str | None = None) -> ReattestJob | None:
        """The job that replaces the metadata digest `prior`, or the one that put the digest `new` on chain."""
        with self.session() as s:
            query = select(ReattestJob).where(
                ReattestJob.chain_id == chain_id, ReattestJob.contract == contract, ReattestJob.content_sha256 == content_sha256
            )
            if prior is not None:
                query = query.where(ReattestJob.prior_digest == prior)
            if new is not None:
                query = query.where(ReattestJob.metadata_digest == new)
            return s.scalar(query.order_by(ReattestJob.id.desc()).limit(1))

    def create_reattest_job(self, chain_id: int, contract: str, content_sha256: str, prior_digest: str,
                            previous: dict, verdict: dict) -> ReattestJob:
        with self.session() as s, s.begin():
            job = ReattestJob(
                chain_id=chain_id, contract=contract, content_sha256=content_sha256, prior_digest=prior_digest,
                previous_json=json.dumps(previous, sort_keys=True), state=JobState.SCANNED,
                verdict_json=json.dumps(verdict, sort_keys=True),
            )
            s.add(job)
        return job

    def update_reattest_job(self, job_id: int, session: Session | None = None, **fields) -> ReattestJob:
        """Change a re-attestation job; in its own transaction, or inside the caller's `session`."""
        if session is not None:
            job = session.get(ReattestJob, job_id)
            for key, value in fields.items():
                setattr(job, key, value)
            return job
        with self.session() as s, s.begin():
            job = self.update_reattest_job(job_id, s, **fields)
        return job

    def reattest_jobs(self, states: Sequence[str] | None = None) -> list[ReattestJob]:
        with self.session() as s:
            query = select(ReattestJob).order_by(ReattestJob.id)
            if states:
                query = query.where(ReattestJob.state.in_(states))
            return list(s.scalars(query))

    # ---- certificates -------------------------------------------------
    def upsert_certificate(self, session: Session, **values) -> CertificateRow:
        row = session.scalar(
            select(CertificateRow).where(
                CertificateRow.chain_id == values["chain_id"],
                CertificateRow.contract == values["contract"],
                CertificateRow.content_sha256 == values["content_sha256"],
            )
        )
        if row is None:
            row = CertificateRow(**values)
            session.add(row)
        else:
            for key, value in values.items():
                if value is not None:
                    setattr(row, key, value)
        return row

    def certificate(self, chain_id: int, contract: str, content_sha256: str) -> CertificateRow | None:
        with self.session() as s:
            return s.scalar(
                select(CertificateRow).where(
                    CertificateRow.chain_id == chain_id,
                    CertificateRow.contract == contract,
                    CertificateRow.content_sha256 == content_sha256,
                )
            )

    def certificates(self, chain_id: int | None = None, contract: str | None = None) -> list[CertificateRow]:
        with self.session() as s:
            query = select(CertificateRow).order_by(CertificateRow.block_number, CertificateRow.id)
            if chain_id is not None:
                query = query.where(CertificateRow.chain_id == chain_id, CertificateRow.contract == contract)
            return list(s.scalars(query))

    # ---- events and sync position -------------------------------------
    def next_block(self, session: Session, chain_id: int, contract: str, default: int) -> int:
        state = session.get(SyncState, (chain_id, contract))
        return state.next_block if state else default

    def set_next_block(self, session: Session, chain_id: int, contract: str, block: int) -> None:
        state = session.get(SyncState, (chain_id, contract))
        if state is None:
            session.add(SyncState(chain_id=chain_id, contract=contract, next_block=block))
        else:
            state.next_block = block

    def add_events(self, session: Session, chain_id: int, contract: str, events: Iterable[dict]) -> int:
        added = 0
        for e in events:
            exists = session.scalar(
                select(ChainEvent.id).where(
                    ChainEvent.chain_id == chain_id, ChainEvent.contract == contract,
                    ChainEvent.block_number == e["block_number"], ChainEvent.log_index == e["log_index"],
                )
            )
            if exists is None:
                session.add(ChainEvent(chain_id=chain_id, contract=contract, **e))
                added += 1
        return added
