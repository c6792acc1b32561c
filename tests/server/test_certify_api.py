"""POST /v1/certify with API keys, the job queue and its worker, on a local chain."""

from __future__ import annotations

import time
from datetime import timedelta

import httpx

from provenance.ledger.models import utcnow
from provenance.server import jobs
from provenance.server.keys import create_key, revoke_key
from provenance.server.worker import Worker

from .conftest import LiveServer
from .test_api import post_file


def wait_for_job(c: httpx.Client, job_id: int, key: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        body = c.get(f"/v1/jobs/{job_id}", headers={"Authorization": f"Bearer {key}"}).json()
        if body["state"] in ("done", "failed") or time.monotonic() > deadline:
            return body
        time.sleep(0.2)


def test_certify_needs_a_valid_key(server: LiveServer, photo):
    _, key = create_key(server.parts.ledger, "newsroom")
    revoked, old = create_key(server.parts.ledger, "former partner")
    revoke_key(server.parts.ledger, revoked.id)
    with server.client() as c:
        none = post_file(c, photo, url="/v1/certify")
        wrong = post_file(c, photo, url="/v1/certify", headers={"Authorization": "Bearer prov_not-a-key"})
        basic = post_file(c, photo, url="/v1/certify", headers={"Authorization": f"Basic {key}"})
        gone = post_file(c, photo, url="/v1/certify", headers={"Authorization": f"Bearer {old}"})
    assert none.status_code == 401 and "API key" in none.json()["error"]
    assert wrong.status_code == 403 and wrong.json() == {"error": "unknown or revoked API key"}
    assert basic.status_code == 401
    assert gone.status_code == 403
    assert jobs.claim_next(server.parts.ledger) is None  # nothing was queued


def test_certify_queues_a_job_the_worker_mints(server: LiveServer, photo, tmp_path):
    _, key = create_key(server.parts.ledger, "newsroom")
    _, other_key = create_key(server.parts.ledger, "someone else")
    auth = {"Authorization": f"Bearer {key}"}
    with server.client() as c:
        r = c.post(
            "/v1/certify", headers=auth, files={"file": ("photo.png", photo.read_bytes())}, data={"name": "Harbour", "detect": "false"}
        )
        assert r.status_code == 202, r.text
        job_id = r.json()["job_id"]
        assert r.json()["status_url"] == f"/v1/jobs/{job_id}"
        job = wait_for_job(c, job_id, key)
        assert job["state"] == "done", job
        result = job["result"]
        assert result["file"] == "photo.png" and result["verdict"] == "unscanned" and result["token_id"].startswith("0x")
        # The certificate is on chain: verifying the same bytes through the API says so.
        verified = post_file(c, photo).json()
        assert verified["status"] == "verified" and verified["token_id"] == result["token_id"]
        assert c.get(f"/v1/jobs/{job_id}", headers={"Authorization": f"Bearer {other_key}"}).status_code == 404
        text = tmp_path / "notes.txt"
        text.write_text("hello")
        refused = post_file(c, text, url="/v1/certify", headers=auth)
        assert refused.status_code == 415 and refused.json() == {"error": "notes.txt: not a supported image or video"}
    assert sorted((server.home / "uploads").iterdir()) == []


def test_a_job_left_running_by_a_dead_worker_is_finished(parts, home, photo):
    """A worker killed mid-job leaves it `running` with a lease; once the lease runs out another worker finishes it."""
    import shutil

    from provenance.server.uploads import upload_dir

    ledger = parts.ledger
    info, _ = create_key(ledger, "k")
    upload = upload_dir(home) / "upload-dead"
    shutil.copy(photo, upload)
    queued = jobs.enqueue(ledger, info.id, str(upload), "photo.png", {"detect": False})
    claimed = jobs.claim_next(ledger)  # the worker that then died
    assert claimed is not None and claimed.id == queued.id
    worker = Worker(parts.settings)
    assert worker.run_once() is False  # its lease still holds: nobody else takes it
    jobs.requeue_expired(ledger, now=utcnow() + jobs.LEASE + timedelta(seconds=1))
    assert worker.run_once() is True
    done = jobs.get(ledger, queued.id)
    assert done is not None and done.state == "done" and done.attempts == 2, done
    assert (
        done.result is not None
        and done.result["content_sha256"] == parts.chain.registry.certificate(int(done.result["token_id"], 16)).content_hash.hex()
    )
    assert not upload.exists()


def test_a_job_whose_worker_keeps_dying_fails_after_max_attempts(parts, home, photo):
    ledger = parts.ledger
    info, _ = create_key(ledger, "k")
    queued = jobs.enqueue(ledger, info.id, str(photo), "photo.png", {"detect": False})
    for _ in range(jobs.MAX_ATTEMPTS):
        assert jobs.claim_next(ledger) is not None
        jobs.requeue_expired(ledger, now=utcnow() + jobs.LEASE + timedelta(seconds=1))
    failed = jobs.get(ledger, queued.id)
    assert failed is not None and failed.state == "failed" and "gave up after 3 attempts" in (failed.error or "")
