"""The ledger: a SQLAlchemy database (SQLite by default) of jobs, certificates and events.

Every state change of a mint job is its own committed transaction, so a crash
loses at most the step in progress, which the next run redoes.

Rows belong to a registry deployment (models.DeploymentRow). The methods that
take a chain id and a contract address see the rows of the deployment in use
there, the one the last check of the chain activated (`activate`).
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Iterable, Sequence, TypeVar

from sqlalchemy import Engine, create_engine, delete, event, func, make_url, select
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from ..errors import ProvenanceError
from .migrate import upgrade
from .models import CertificateRow, ChainEvent, DeploymentRow, JobState, MintJob, ReattestJob, SyncState, utcnow

if TYPE_CHECKING:
    from ..chain.deployments import Deployment


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
    event.listen(engine, "handle_error", _operational_errors(url))
    return engine


def _operational_errors(url: str):
    """The database failing as a service (a full disk, an I/O error, a read-only file, a lock held too
    long, a server gone) is a `LedgerError` naming the ledger: one line from every command, never a
    traceback. A full disk used to end `mint` in a sqlite3.OperationalError traceback."""

    def translate(context) -> Exception | None:
        if isinstance(context.sqlalchemy_exception, OperationalError):
            text = str(context.original_exception).strip()
            reason = text.splitlines()[0] if text else type(context.original_exception).__name__
            return LedgerError(f"ledger {_safe(url)}: {reason}")
        return None

    return translate


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

    # ---- deployments --------------------------------------------------
    def activate(self, deployment: "Deployment") -> int:
        """Make `deployment` (checked against its chain) the one in use at its chain id and address.

        Rows from before migration 0005 there (a placeholder deployment) become its rows.
        Another deployment in use there is retired: its rows stay, out of every lookup by chain
        id and address, and its hashes leave the near-duplicate index. A retired deployment
        activated again (its chain restored from a backup) gets its hashes back. Returns its id.
        """
        for attempt in range(2):
            try:
                with self.session() as s, s.begin():
                    return self._activate(s, deployment)
            except IntegrityError:  # another process recorded it at the same moment
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def _activate(self, s: Session, deployment: "Deployment") -> int:
        address = deployment.address.lower()
        rows = list(
            s.scalars(
                select(DeploymentRow)
                .where(DeploymentRow.chain_id == deployment.chain_id, DeploymentRow.address == address)
                .order_by(DeploymentRow.id)
            )
        )
        target = next((r for r in rows if _identity(r) == deployment.identity), None)
        if target is None:
            target = next((r for r in rows if r.genesis_hash is None and r.retired_at is None), None)
            if target is None:
                target = DeploymentRow(chain_id=deployment.chain_id, address=address)
                s.add(target)
                rows.append(target)
            target.genesis_hash = deployment.genesis_hash
            target.deploy_block = deployment.deploy_block
            target.deploy_block_hash = deployment.deploy_block_hash
            s.flush()
        changed = target.retired_at is not None
        for row in rows:
            if row is not target and row.retired_at is None:
                row.retired_at = utcnow()
                changed = True
        target.retired_at = None
        if changed:
            self._reindex(s, deployment.chain_id, deployment.address, target.id)
        s.info.setdefault("deployment_ids", {})[(deployment.chain_id, address)] = target.id
        return target.id

    def _reindex(self, s: Session, chain_id: int, contract: str, deployment_id: int) -> None:
        """The near-duplicate index at this chain id and address: only the hashes of `deployment_id`'s rows."""
        from ..hashing.index import pdq_table, phash_table
        from ..records import index_hashes, index_key

        prefix = index_key(chain_id, contract, "")
        for table in (phash_table, pdq_table):
            s.execute(delete(table).where(table.c.key.startswith(prefix, autoescape=True)))
        for row in s.scalars(select(CertificateRow).where(CertificateRow.deployment_id == deployment_id)):
            index_hashes(s, index_key(chain_id, contract, row.content_sha256), row.phash, row.pdq)

    def deployment_id(self, s: Session, chain_id: int, contract: str, *, create: bool = False) -> int | None:
        """The id of the deployment in use at (chain id, address); with `create`, a placeholder when none is."""
        key = (chain_id, contract.lower())
        cache = s.info.setdefault("deployment_ids", {})
        if key in cache:
            return cache[key]
        found = s.scalar(
            select(DeploymentRow.id)
            .where(DeploymentRow.chain_id == chain_id, DeploymentRow.address == key[1], DeploymentRow.retired_at.is_(None))
            .order_by(DeploymentRow.id.desc())
            .limit(1)
        )
        if found is None and create:
            row = DeploymentRow(chain_id=chain_id, address=key[1])
            s.add(row)
            s.flush()
            found = row.id
        if found is not None:
            cache[key] = found
        return found

    def deployment_rows(self) -> list[DeploymentRow]:
        with self.session() as s:
            return list(s.scalars(select(DeploymentRow).order_by(DeploymentRow.id)))

    def certificate_count(self, deployment: "Deployment") -> int:
        """How many certificates the ledger holds for `deployment` (rows from before 0005 at its address count)."""
        with self.session() as s:
            rows = list(
                s.scalars(
                    select(DeploymentRow).where(
                        DeploymentRow.chain_id == deployment.chain_id, DeploymentRow.address == deployment.address.lower()
                    )
                )
            )
            ids = [r.id for r in rows if _identity(r) == deployment.identity or (r.genesis_hash is None and r.retired_at is None)]
            if not ids:
                return 0
            return s.scalar(select(func.count()).select_from(CertificateRow).where(CertificateRow.deployment_id.in_(ids))) or 0

    # ---- mint jobs ----------------------------------------------------
    def job_for(self, chain_id: int, contract: str, content_sha256: str) -> MintJob | None:
        with self.session() as s:
            did = self.deployment_id(s, chain_id, contract)
            if did is None:
                return None
            return s.scalar(select(MintJob).where(MintJob.deployment_id == did, MintJob.content_sha256 == content_sha256))

    def create_job(self, chain_id: int, contract: str, content_sha256: str, path: str, request: dict) -> MintJob:
        """A new job for this content, or the one another process created since the caller looked."""
        try:
            with self.session() as s, s.begin():
                job = MintJob(
                    deployment_id=self.deployment_id(s, chain_id, contract, create=True),
                    chain_id=chain_id,
                    contract=contract,
                    content_sha256=content_sha256,
                    path=path,
                    state=JobState.NEW,
                    request_json=json.dumps(request, sort_keys=True),
                )
                s.add(job)
            return job
        except IntegrityError:
            # Two `mint` runs on one ledger reached the same content at once; one job is the point
            # (the chain refuses a second token anyway), so this run carries on with theirs.
            existing = self.job_for(chain_id, contract, content_sha256)
            if existing is None:
                raise
            return existing

    def reopen_job(self, job_id: int, error: str | None = None) -> MintJob:
        """A confirmed mint the chain does not hold (lost with blocks, a reset chain): back to be sent again.

        The job goes back to `stored` (its pinned metadata stays good: same chain id and address), and the
        certificate row it wrote leaves the ledger and the near-duplicate index, in one transaction.
        """
        with self.session() as s, s.begin():
            job = _row(s, MintJob, job_id)
            self._drop_certificate(s, job.deployment_id, job.chain_id, job.contract, job.content_sha256)
            job.state, job.tx_hash, job.error = JobState.STORED, None, error
        return job

    def _drop_certificate(self, s: Session, deployment_id: int, chain_id: int, contract: str, content_sha256: str) -> bool:
        from ..hashing.index import pdq_table, phash_table
        from ..records import index_key

        row = s.scalar(
            select(CertificateRow).where(CertificateRow.deployment_id == deployment_id, CertificateRow.content_sha256 == content_sha256)
        )
        if row is None:
            return False
        s.delete(row)
        key = index_key(chain_id, contract, content_sha256)
        for table in (phash_table, pdq_table):
            s.execute(delete(table).where(table.c.key == key))
        return True

    def update_job(self, job_id: int, session: Session | None = None, **fields) -> MintJob:
        """Change a job; in its own transaction, or inside the caller's `session`."""
        if session is not None:
            job = _row(session, MintJob, job_id)
            for key, value in fields.items():
                setattr(job, key, value)
            return job
        with self.session() as s, s.begin():
            job = self.update_job(job_id, s, **fields)
        return job

    def jobs(self, states: Sequence[str] | None = None, chain_id: int | None = None, contract: str | None = None) -> list[MintJob]:
        """Mint jobs, of every deployment, or with `chain_id` and `contract` of the one in use there."""
        with self.session() as s:
            query = select(MintJob).order_by(MintJob.id)
            if states:
                query = query.where(MintJob.state.in_(states))
            if chain_id is not None:
                did = self.deployment_id(s, chain_id, contract or "")
                if did is None:
                    return []
                query = query.where(MintJob.deployment_id == did)
            return list(s.scalars(query))

    # ---- re-attestation jobs ------------------------------------------
    def reattest_job(
        self, chain_id: int, contract: str, content_sha256: str, *, prior: str | None = None, new: str | None = None
    ) -> ReattestJob | None:
        """The job that replaces the metadata digest `prior`, or the one that put the digest `new` on chain."""
        with self.session() as s:
            did = self.deployment_id(s, chain_id, contract)
            if did is None:
                return None
            query = select(ReattestJob).where(ReattestJob.deployment_id == did, ReattestJob.content_sha256 == content_sha256)
            if prior is not None:
                query = query.where(ReattestJob.prior_digest == prior)
            if new is not None:
                query = query.where(ReattestJob.metadata_digest == new)
            return s.scalar(query.order_by(ReattestJob.id.desc()).limit(1))

    def create_reattest_job(
        self, chain_id: int, contract: str, content_sha256: str, prior_digest: str, previous: dict, verdict: dict
    ) -> ReattestJob:
        with self.session() as s, s.begin():
            job = ReattestJob(
                deployment_id=self.deployment_id(s, chain_id, contract, create=True),
                chain_id=chain_id,
                contract=contract,
                content_sha256=content_sha256,
                prior_digest=prior_digest,
                previous_json=json.dumps(previous, sort_keys=True),
                state=JobState.SCANNED,
                verdict_json=json.dumps(verdict, sort_keys=True),
            )
            s.add(job)
        return job

    def update_reattest_job(self, job_id: int, session: Session | None = None, **fields) -> ReattestJob:
        """Change a re-attestation job; in its own transaction, or inside the caller's `session`."""
        if session is not None:
            job = _row(session, ReattestJob, job_id)
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
        did = self.deployment_id(session, values["chain_id"], values["contract"], create=True)
        row = session.scalar(
            select(CertificateRow).where(CertificateRow.deployment_id == did, CertificateRow.content_sha256 == values["content_sha256"])
        )
        if row is None:
            row = CertificateRow(deployment_id=did, **values)
            session.add(row)
        else:
            for key, value in values.items():
                if value is not None:
                    setattr(row, key, value)
        return row

    def certificate(self, chain_id: int, contract: str, content_sha256: str) -> CertificateRow | None:
        """The row of `content_sha256` in the deployment in use at (chain id, address): one query (every verification asks)."""
        in_use = (
            select(DeploymentRow.id)
            .where(DeploymentRow.chain_id == chain_id, DeploymentRow.address == contract.lower(), DeploymentRow.retired_at.is_(None))
            .order_by(DeploymentRow.id.desc())
            .limit(1)
            .scalar_subquery()
        )
        with self.session() as s:
            return s.scalar(
                select(CertificateRow).where(CertificateRow.deployment_id == in_use, CertificateRow.content_sha256 == content_sha256)
            )

    def certificates(self, chain_id: int | None = None, contract: str | None = None) -> list[CertificateRow]:
        """Every certificate row, or with `chain_id` and `contract` those of the deployment in use there."""
        with self.session() as s:
            query = select(CertificateRow).order_by(CertificateRow.block_number, CertificateRow.id)
            if chain_id is not None:
                did = self.deployment_id(s, chain_id, contract or "")
                if did is None:
                    return []
                query = query.where(CertificateRow.deployment_id == did)
            return list(s.scalars(query))

    def drop_certificate(self, session: Session, chain_id: int, contract: str, content_sha256: str) -> bool:
        """A certificate the chain no longer holds leaves the ledger; its confirmed mint job goes back to `stored`."""
        did = self.deployment_id(session, chain_id, contract)
        if did is None or not self._drop_certificate(session, did, chain_id, contract, content_sha256):
            return False
        job = session.scalar(select(MintJob).where(MintJob.deployment_id == did, MintJob.content_sha256 == content_sha256))
        if job is not None and job.state == JobState.CONFIRMED:
            job.state, job.tx_hash = JobState.STORED, None
            job.error = "the chain no longer holds this certificate (its blocks were replaced): run mint again"
        return True

    # ---- events and sync position -------------------------------------
    def sync_position(self, session: Session, chain_id: int, contract: str, default: int) -> tuple[int, str | None]:
        """(first block not yet indexed, hash of the last indexed block or None)."""
        did = self.deployment_id(session, chain_id, contract, create=True)
        state = session.get(SyncState, did)
        return (state.next_block, state.last_block_hash) if state else (default, None)

    def set_sync_position(self, session: Session, chain_id: int, contract: str, next_block: int, last_block_hash: str | None) -> None:
        did = self.deployment_id(session, chain_id, contract, create=True)
        state = session.get(SyncState, did)
        if state is None:
            session.add(
                SyncState(deployment_id=did, chain_id=chain_id, contract=contract, next_block=next_block, last_block_hash=last_block_hash)
            )
        else:
            state.next_block, state.last_block_hash = next_block, last_block_hash

    def synced_blocks(self, session: Session, chain_id: int, contract: str, below: int) -> list[tuple[int, str]]:
        """(number, hash) of the blocks below `below` that indexed events came from, ascending."""
        did = self.deployment_id(session, chain_id, contract)
        if did is None:
            return []
        rows = session.execute(
            select(ChainEvent.block_number, ChainEvent.block_hash)
            .where(ChainEvent.deployment_id == did, ChainEvent.block_hash.is_not(None), ChainEvent.block_number < below)
            .distinct()
            .order_by(ChainEvent.block_number)
        )
        return [(n, h) for n, h in rows]

    def rewind(self, session: Session, chain_id: int, contract: str, fork: int) -> set[str]:
        """Forget what was indexed from block `fork` on (the chain replaced those blocks).

        Deletes those events and moves the sync position back; returns the content hashes whose
        certificate rows may now be wrong (touched by a deleted event, or minted at `fork` or later),
        for the caller to settle against the chain.
        """
        did = self.deployment_id(session, chain_id, contract, create=True)
        touched: set[str] = set()
        gone = list(session.scalars(select(ChainEvent).where(ChainEvent.deployment_id == did, ChainEvent.block_number >= fork)))
        for e in gone:
            token = json.loads(e.args_json).get("tokenId")
            if token is not None:
                touched.add(f"{int(token, 16) if isinstance(token, str) else int(token):064x}")
            session.delete(e)
        touched.update(
            session.scalars(
                select(CertificateRow.content_sha256).where(CertificateRow.deployment_id == did, CertificateRow.block_number >= fork)
            )
        )
        state = session.get(SyncState, did)
        if state is not None and state.next_block > fork:
            state.next_block, state.last_block_hash = fork, None
        return touched

    def certificates_from(self, session: Session, chain_id: int, contract: str, block: int) -> list[CertificateRow]:
        """The deployment's certificate rows recorded at `block` or later."""
        did = self.deployment_id(session, chain_id, contract)
        if did is None:
            return []
        return list(
            session.scalars(select(CertificateRow).where(CertificateRow.deployment_id == did, CertificateRow.block_number >= block))
        )

    def add_events(self, session: Session, chain_id: int, contract: str, events: Iterable[dict]) -> int:
        did = self.deployment_id(session, chain_id, contract, create=True)
        added = 0
        for e in events:
            exists = session.scalar(
                select(ChainEvent).where(
                    ChainEvent.deployment_id == did,
                    ChainEvent.block_number == e["block_number"],
                    ChainEvent.log_index == e["log_index"],
                )
            )
            if exists is None:
                session.add(ChainEvent(deployment_id=did, chain_id=chain_id, contract=contract, **e))
                added += 1
            elif exists.block_hash != e.get("block_hash") or exists.tx_hash != e["tx_hash"]:
                for key, value in e.items():  # indexed before block hashes were kept, or a replaced block
                    setattr(exists, key, value)
        return added


def _identity(row: DeploymentRow) -> tuple:
    return (row.chain_id, row.genesis_hash, row.address.lower(), row.deploy_block_hash)


_Row = TypeVar("_Row")


def _row(session: Session, model: type[_Row], row_id: int) -> _Row:
    """The row with this id; a missing one means the ledger changed under us, which the caller cannot fix."""
    row = session.get(model, row_id)
    if row is None:
        raise LedgerError(f"{getattr(model, '__tablename__', model.__name__)} {row_id} is not in the ledger")
    return row
