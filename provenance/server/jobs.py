"""The queue of certify requests from the HTTP API, in the ledger (table `api_jobs`).

A worker claims a job by moving it from `queued` to `running` in one UPDATE
that names the state it expects, so two workers (the server's and a
`provenance worker`) never run one job twice at once. A running job carries a
lease the worker renews; a job whose lease ran out belonged to a worker that
died, and goes back to `queued`. Running it again is safe: minting is
resumable and the token id is the content hash.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import CursorResult, select, update

from ..ledger import Ledger
from ..ledger.models import ApiJob, utcnow

QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
LEASE = timedelta(seconds=120)
MAX_ATTEMPTS = 3


@dataclass(frozen=True)
class JobView:
    id: int
    api_key_id: int
    state: str
    file_name: str
    request: dict
    result: dict | None
    error: str | None
    attempts: int
    created_at: datetime
    updated_at: datetime

    def to_dict(self) -> dict:
        out = {
            "id": self.id,
            "state": self.state,
            "file": self.file_name,
            "request": self.request,
            "attempts": self.attempts,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }
        if self.result is not None:
            out["result"] = self.result
        if self.error is not None:
            out["error"] = self.error
        return out


@dataclass(frozen=True)
class ClaimedJob:
    id: int
    upload_path: str
    file_name: str
    request: dict


def _view(row: ApiJob) -> JobView:
    return JobView(
        row.id,
        row.api_key_id,
        row.state,
        row.file_name,
        json.loads(row.request_json),
        json.loads(row.result_json) if row.result_json else None,
        row.error,
        row.attempts,
        row.created_at,
        row.updated_at,
    )


def enqueue(ledger: Ledger, api_key_id: int, upload_path: str, file_name: str, request: dict) -> JobView:
    with ledger.session() as s, s.begin():
        now = utcnow()
        row = ApiJob(
            api_key_id=api_key_id,
            state=QUEUED,
            upload_path=upload_path,
            file_name=file_name,
            request_json=json.dumps(request, sort_keys=True),
            attempts=0,
            created_at=now,
            updated_at=now,
        )
        s.add(row)
        s.flush()
        return _view(row)


def get(ledger: Ledger, job_id: int) -> JobView | None:
    with ledger.session() as s:
        row = s.get(ApiJob, job_id)
        return _view(row) if row is not None else None


def requeue_expired(ledger: Ledger, now: datetime | None = None) -> int:
    """Jobs whose worker stopped renewing their lease go back to the queue (or fail after MAX_ATTEMPTS)."""
    now = now or utcnow()
    with ledger.session() as s, s.begin():
        rows = list(s.scalars(select(ApiJob).where(ApiJob.state == RUNNING)))
        count = 0
        for row in rows:
            if row.lease_until is not None and _aware(row.lease_until) >= now:
                continue
            if row.attempts >= MAX_ATTEMPTS:
                row.state, row.error = FAILED, f"gave up after {row.attempts} attempts (the worker stopped each time)"
            else:
                row.state = QUEUED
            row.lease_until = None
            count += 1
        return count


def claim_next(ledger: Ledger) -> ClaimedJob | None:
    """The oldest queued job, now running under this caller's lease; None when the queue is empty."""
    with ledger.session() as s:
        ids = list(s.scalars(select(ApiJob.id).where(ApiJob.state == QUEUED).order_by(ApiJob.id).limit(5)))
    for job_id in ids:
        with ledger.session() as s, s.begin():
            taken = cast(
                CursorResult,
                s.execute(
                    update(ApiJob)
                    .where(ApiJob.id == job_id, ApiJob.state == QUEUED)
                    .values(state=RUNNING, lease_until=utcnow() + LEASE, attempts=ApiJob.attempts + 1, updated_at=utcnow())
                ),
            ).rowcount
            if taken:
                row = s.get(ApiJob, job_id)
                assert row is not None
                return ClaimedJob(row.id, row.upload_path, row.file_name, json.loads(row.request_json))
    return None


def renew(ledger: Ledger, job_id: int) -> None:
    with ledger.session() as s, s.begin():
        s.execute(update(ApiJob).where(ApiJob.id == job_id, ApiJob.state == RUNNING).values(lease_until=utcnow() + LEASE))


def finish(ledger: Ledger, job_id: int, *, result: dict | None = None, error: str | None = None) -> None:
    with ledger.session() as s, s.begin():
        s.execute(
            update(ApiJob)
            .where(ApiJob.id == job_id)
            .values(
                state=FAILED if error else DONE,
                result_json=json.dumps(result, sort_keys=True) if result is not None else None,
                error=error,
                lease_until=None,
                updated_at=utcnow(),
            )
        )


def _aware(value: datetime) -> datetime:
    """SQLite gives back naive datetimes for timezone-aware columns; they were written in UTC."""
    from datetime import timezone

    return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)
