"""What the HTTP server does, over the same parts and Verifier as the CLI; no web framework here.

One `VerificationService` per server process holds the opened parts (chain
session, content store, ledger). Handlers call it from worker threads: the
chain client and the store are safe to share, the ledger opens a session per
call, and the detectors (only for `rescan`) are used one at a time.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..config import Settings, redact_secrets
from ..context import Parts, open_parts
from ..errors import ProvenanceError
from ..ipfs import FetchLimits, IpfsError, raw_cid_from_sha256
from ..metadata import MAX_METADATA_BYTES, MetadataError, parse
from ..verify import Status, VerificationReport
from .uploads import upload_dir

METADATA_LIMITS = FetchLimits(max_bytes=MAX_METADATA_BYTES, deadline_s=15.0)


class NotFound(ProvenanceError):
    """The thing asked for does not exist (HTTP 404)."""


class _LockedScanner:
    """The detector ensemble, one file at a time (its models are not shared between threads)."""

    def __init__(self) -> None:
        from ..scanning import DetectorScanner

        self._scanner = DetectorScanner()
        self._lock = threading.Lock()

    def scan(self, media: Any) -> dict:  # whatever the Scanner protocol takes: a path or loaded media
        with self._lock:
            return self._scanner.scan(media)


@dataclass(frozen=True)
class CertifiedMetadata:
    """A certificate's metadata document, read only after it hashed to the on-chain digest."""

    cid: str
    document: dict

    @property
    def media_cid(self) -> str | None:
        return self.document.get("provenance", {}).get("content", {}).get("cid")

    @property
    def detection(self) -> dict | None:
        return self.document.get("provenance", {}).get("detection")


class VerificationService:
    def __init__(self, settings: Settings, parts: Parts | None = None):
        self.settings = settings
        self.parts = parts or open_parts(settings)
        self._scanner: _LockedScanner | None = None
        self._scanner_lock = threading.Lock()

    # ---- verify ----------------------------------------------------------
    def verify_file(self, path: Path, name: str, token: int | None = None, rescan: bool = False) -> VerificationReport:
        """The report `provenance verify` gives, about the file at `path`, shown under the name `name`."""
        from ..verify.verifier import Verifier

        report = Verifier(self.parts, self._rescanner() if rescan else None).verify(path, token)
        # The upload's temp path means nothing to the client: messages name the file as it was sent.
        return replace(report, file=name, summary=report.summary.replace(str(path), name))

    def verify_certified(self, token: int, rescan: bool = False) -> VerificationReport:
        """Verify the certified content itself, fetched from the store by the CID its metadata names.

        For a client that has only a hash or a token id: the answer says whether the
        certificate, its metadata and the stored media still agree.
        """
        name = f"0x{token:064x}"
        cert = self.parts.chain.registry.certificate(token)
        if cert is None:
            from ..verify.report import CheckResult

            return VerificationReport(
                file=name,
                status=Status.NOT_FOUND,
                summary="no certificate covers this content",
                content_sha256=name[2:],
                checks=[
                    CheckResult(
                        "certificate_exists", False, f"no certificate with token id {name} on this deployment", fails_as=Status.NOT_FOUND
                    )
                ],
            )
        meta = self.metadata(cert.metadata_digest)
        if meta is None or not meta.media_cid:
            return VerificationReport(
                name,
                Status.ERROR,
                "the certified media cannot be located: its metadata could not be read intact",
                content_sha256=name[2:],
                token_id=name,
            )
        try:
            data = self.parts.store.cat(meta.media_cid, limits=FetchLimits(max_bytes=self.settings.max_upload_bytes, deadline_s=60.0))
        except IpfsError as exc:
            return VerificationReport(
                name,
                Status.ERROR,
                f"the certified media {meta.media_cid} could not be fetched: {exc}",
                content_sha256=name[2:],
                token_id=name,
            )
        fd, tmp = tempfile.mkstemp(dir=upload_dir(self.settings.home), prefix="certified-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            return self.verify_file(Path(tmp), name, token, rescan)
        finally:
            Path(tmp).unlink(missing_ok=True)

    def _rescanner(self) -> _LockedScanner:
        with self._scanner_lock:
            if self._scanner is None:
                self._scanner = _LockedScanner()
            return self._scanner

    # ---- certificates and metadata ----------------------------------------
    def metadata(self, digest: bytes) -> CertifiedMetadata | None:
        """The metadata whose sha256 is `digest`, or None when it cannot be fetched intact or parsed."""
        cid = raw_cid_from_sha256(digest)
        try:
            raw = self.parts.store.cat(cid, limits=METADATA_LIMITS)
            if hashlib.sha256(raw).digest() != digest:
                return None
            return CertifiedMetadata(cid, parse(raw))
        except (IpfsError, MetadataError):
            return None

    def certificate(self, token: int) -> dict:
        """The certificate as the chain records it, with its metadata when that hashes to the on-chain digest."""
        registry = self.parts.chain.registry
        cert = registry.certificate(token)
        if cert is None:
            raise NotFound(f"no certificate with token id 0x{token:064x}")
        meta = self.metadata(cert.metadata_digest)
        data: dict = {
            "token_id": cert.token_hex,
            "content_sha256": cert.content_hash.hex(),
            "token_uri": registry.token_uri(token),
            **cert.record_fields(),
            "chain_id": self.parts.chain.deployment.chain_id,
            "contract": self.parts.chain.deployment.address,
            "metadata_cid": raw_cid_from_sha256(cert.metadata_digest),
            "metadata_intact": meta is not None,
        }
        row = self.parts.ledger.certificate(data["chain_id"], data["contract"], cert.content_hash.hex())
        if row is not None and row.revoke_reason:
            data["revoke_reason"] = row.revoke_reason
        history = registry.history(token)
        if history:
            data["history"] = [h.record_fields() for h in history]
        if meta is not None:
            data["media_cid"] = meta.media_cid
            data["metadata"] = meta.document
        return data

    def certified_media(self, media_cid: str, max_bytes: int) -> bytes | None:
        """The certified media's bytes from the store (for the page's side-by-side view), or None."""
        try:
            return self.parts.store.cat(media_cid, limits=FetchLimits(max_bytes=max_bytes, deadline_s=10.0))
        except IpfsError:
            return None

    # ---- health --------------------------------------------------------------
    def health(self) -> dict:
        """Whether the chain node, the content store and the database answer now."""
        from sqlalchemy import text

        checks: dict[str, dict] = {}
        try:
            block = self.parts.chain.w3.eth.block_number
            checks["chain"] = {
                "ok": True,
                "block": block,
                "chain_id": self.parts.chain.deployment.chain_id,
                "registry": self.parts.chain.deployment.address,
            }
        except Exception as exc:  # noqa: BLE001 - any failure of the node is "not reachable", said in one line
            checks["chain"] = {"ok": False, "error": _one_line(exc)}
        try:
            probe = self.parts.store.add_bytes(b"provenance healthz\n")
            self.parts.store.cat(probe.cid, limits=FetchLimits(max_bytes=1024, deadline_s=5.0))
            checks["ipfs"] = {"ok": True, "backend": self.settings.ipfs_backend}
        except Exception as exc:  # noqa: BLE001
            checks["ipfs"] = {"ok": False, "backend": self.settings.ipfs_backend, "error": _one_line(exc)}
        try:
            with self.parts.ledger.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            checks["database"] = {"ok": True, "dialect": self.parts.ledger.engine.dialect.name}
        except Exception as exc:  # noqa: BLE001
            checks["database"] = {"ok": False, "error": _one_line(exc)}
        return {"ok": all(c["ok"] for c in checks.values()), "checks": checks}


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return redact_secrets(text[0] if text else type(exc).__name__)


def report_json(report: VerificationReport) -> str:
    return json.dumps(report.to_dict(), sort_keys=True, default=str)
