"""The worker that runs queued certify jobs (jobs.py) with the same Certifier as `provenance mint`.

It runs as a thread in `provenance serve` and as `provenance worker`. Each job
is one mint of one uploaded file: crash-safe because the mint is (its ledger
job resumes), and the job's lease sends it back to the queue if this process
dies mid-way.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from ..config import Settings, redact_secrets
from ..errors import ProvenanceError
from . import jobs

log = logging.getLogger("provenance.server.worker")
POLL_S = 1.0


class Worker:
    def __init__(self, settings: Settings, poll_s: float = POLL_S):
        self.settings = settings
        self.poll_s = poll_s
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._parts = None
        self._scanners: dict[bool, object] = {}

    # ---- lifecycle -----------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self.run_forever, name="provenance-worker", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """A job was queued: look now rather than at the next poll."""
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def run_forever(self) -> None:
        while not self._stop.is_set():
            try:
                worked = self.run_once()
            except Exception as exc:  # noqa: BLE001 - the loop must outlive a failing chain or ledger; the job's lease covers it
                log.error("worker: %s", redact_secrets(f"{type(exc).__name__}: {exc}"))
                worked = False
            if not worked:
                self._wake.wait(self.poll_s)
                self._wake.clear()

    # ---- one job -------------------------------------------------------
    def run_once(self) -> bool:
        """Run the next queued job, if any. True when one was run."""
        ledger = self._ledger()
        jobs.requeue_expired(ledger)
        job = jobs.claim_next(ledger)
        if job is None:
            return False
        renewing = threading.Event()
        ticker = threading.Thread(target=self._renew, args=(job.id, renewing), daemon=True)
        ticker.start()
        try:
            result, error = self._certify(job)
        finally:
            renewing.set()
            ticker.join()
        jobs.finish(ledger, job.id, result=result, error=error)
        Path(job.upload_path).unlink(missing_ok=True)
        return True

    def _renew(self, job_id: int, done: threading.Event) -> None:
        while not done.wait(jobs.LEASE.total_seconds() / 4):
            try:
                jobs.renew(self._ledger(), job_id)
            except Exception as exc:  # noqa: BLE001 - a missed renewal only risks a second (idempotent) run
                log.warning("worker: lease renewal failed: %s", redact_secrets(str(exc)))

    def _certify(self, job: jobs.ClaimedJob) -> tuple[dict | None, str | None]:
        from ..certify import Certifier, CertifyOptions

        request = job.request
        try:
            parts = self._open()
            certifier = Certifier(
                parts.chain,
                parts.store,
                parts.ledger,
                self._scanner(bool(request.get("detect", True))),
                claims_dir=parts.settings.home / "locks" / "contents",
            )
            options = CertifyOptions(name=request.get("name") or job.file_name, description=request.get("description") or "")
            (result,) = certifier.certify([Path(job.upload_path)], options)
        except ProvenanceError as exc:
            return None, redact_secrets(exc.user_message).replace(job.upload_path, job.file_name)
        except Exception as exc:  # noqa: BLE001 - a bug fails this job with its type named; the server goes on
            log.exception("worker: job %s", job.id)
            return None, f"internal error while certifying ({type(exc).__name__})"
        out = result.to_dict()
        out["file"] = job.file_name
        if result.error:
            return None, redact_secrets(result.error).replace(job.upload_path, job.file_name)
        return out, None

    def _open(self):
        if self._parts is None:
            from ..context import open_parts

            self._parts = open_parts(self.settings, signer=True)
        return self._parts

    def _ledger(self):
        if self._parts is not None:
            return self._parts.ledger
        from ..ledger import Ledger

        if not hasattr(self, "_plain_ledger"):
            self._plain_ledger = Ledger.open(self.settings.ledger_url)
        return self._plain_ledger

    def _scanner(self, detect: bool):
        if detect not in self._scanners:
            from ..scanning import DetectorScanner, NoScanner

            self._scanners[detect] = DetectorScanner() if detect else NoScanner()
        return self._scanners[detect]
