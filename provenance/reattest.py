"""Re-attest: score certified media with the current detectors and record a changed verdict on chain.

When the shipped detectors change, an issuer re-scores what it certified. For
each certificate the media (the file given, or the bytes its metadata names on
IPFS, checked against the token id) goes through the detector ensemble. When
the verdict differs from the one on chain and in the metadata, the next
metadata document (the same document with the new verdict, the old one moved to
`provenance.history`) is signed, pinned, and recorded with the registry's
`reattest`, which announces it with an ERC-4906 `MetadataUpdate` event. An
unchanged verdict sends nothing.

Crash safety follows certify.py: each re-attestation is a job in the ledger,
keyed by the on-chain metadata digest it replaces, that moves scanned ->
stored -> submitted -> confirmed and commits at every step; re-running the
same command finishes it. The chain is the last word: a job whose digest is on
chain is done, whatever the ledger says. Unlike a second mint, a second
`reattest` would not revert, so the transaction is signed and recorded before
it is sent: a re-run sends those same bytes again or waits for them, and signs
a new transaction only when the recorded one can never be mined (its nonce was
spent by another transaction).
"""

from __future__ import annotations

import functools
import hashlib
import json
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Sequence

from sqlalchemy import select

from .chain import Certificate, ChainError, ChainSession, TransactionFailed
from .chain.registry import SignedTx
from .errors import ProvenanceError
from .failpoints import hit
from .indexer import sync
from .ipfs import ContentStore, FetchLimits, IpfsError, NotFound, raw_cid_from_sha256
from .ledger import CertificateRow, JobState, Ledger, ReattestJob
from .media import IMAGE_MIME, VIDEO_MIME, MediaError, load_media
from .metadata import MetadataError, now_iso, parse, reattested, recover_signer
from .publish import IssuerService
from .scanning import Scanner
from .verdicts import chain_verdict, score_bps

REATTESTED, UNCHANGED, NOT_FOUND, SKIPPED, ERROR = "reattested", "unchanged", "not_found", "skipped", "error"
# The command's exit code is the highest over its results (not_found as in `verify`).
EXIT_CODES = {REATTESTED: 0, UNCHANGED: 0, SKIPPED: 0, ERROR: 1, NOT_FOUND: 4}
_SUFFIX = {mime: "." + fmt.lower() for fmt, mime in IMAGE_MIME.items()} | {mime: "." + kind for kind, mime in VIDEO_MIME.items()}


class Unavailable(ProvenanceError):
    """The certificate cannot be re-scored here (revoked, its media or metadata not in the store).

    An error for a file asked for by name; with --all, the certificate is skipped.
    """


@dataclass
class ReattestResult:
    file: str
    token_id: str | None = None
    status: str = ERROR
    label: str | None = None
    score: float | None = None
    metadata_cid: str | None = None
    tx_hash: str | None = None
    previous: dict | None = None  # the verdict replaced: label, score, metadata_cid
    error: str | None = None  # status error
    reason: str | None = None  # status not_found or skipped

    def to_dict(self) -> dict:
        out = asdict(self)
        for key in ("error", "reason"):
            if out[key] is None:
                out.pop(key)
        return out


_ERRORS = (MediaError, IpfsError, ProvenanceError, ChainError)


class Reattester(IssuerService):
    def __init__(self, chain: ChainSession, store: ContentStore, ledger: Ledger, scanner: Scanner):
        super().__init__(chain, store, ledger, scanner, "re-attesting")

    # ---- the two ways in ------------------------------------------------
    def reattest_files(self, paths: Sequence[Path], on_result: Callable[[ReattestResult], None] | None = None) -> list[ReattestResult]:
        """Each file: its sha256 names the certificate; the file itself is scanned."""
        results = []
        for path in paths:
            result = ReattestResult(file=str(path))
            try:
                media = load_media(Path(path))
                if self.chain.registry.token_of_content(bytes.fromhex(media.sha256)) is None:
                    result.status = NOT_FOUND
                    result.reason = f"no certificate for this content (sha256 {media.sha256}) on registry {self.contract}"
                else:
                    self._reattest(result, media.sha256, functools.partial(_given_path, media.path))
            except _ERRORS as exc:
                result.status, result.error = ERROR, str(exc).removeprefix(f"{path}: ")
            results.append(result)
            if on_result:
                on_result(result)
        return results

    def reattest_all(self, on_result: Callable[[ReattestResult], None] | None = None) -> list[ReattestResult]:
        """Every certificate of this issuer in the ledger (synced first), its media fetched from IPFS."""
        sync(self.chain, self.ledger)
        me = self.issuer.address.lower()
        rows = [r for r in self.ledger.certificates(self.chain_id, self.contract) if r.issuer.lower() == me]
        results = []
        with tempfile.TemporaryDirectory(prefix="provenance-reattest-") as tmp:
            for row in rows:
                result = ReattestResult(file=f"ipfs://{row.media_cid}" if row.media_cid else f"0x{row.content_sha256}")
                try:
                    fetch = functools.partial(self._fetch_media, result, content=row.content_sha256, tmp=Path(tmp))
                    self._reattest(result, row.content_sha256, fetch)
                except Unavailable as exc:
                    result.status, result.reason = SKIPPED, str(exc)
                except _ERRORS as exc:
                    result.status, result.error = ERROR, str(exc)
                results.append(result)
                if on_result:
                    on_result(result)
        return results

    # ---- one certificate ---------------------------------------------
    def _reattest(self, result: ReattestResult, content: str, media_path: Callable[[dict], Path]) -> None:
        registry = self.chain.registry
        token = int(content, 16)
        result.token_id = f"0x{content}"
        cert = registry.certificate(token)
        if cert is None:
            result.status, result.reason = NOT_FOUND, f"no certificate with token id 0x{content} on registry {self.contract}"
            return
        self._check_may_reattest(cert, content)
        on_chain = cert.metadata_digest.hex()
        # A job whose metadata is already on chain: its transaction was mined, the run stopped before recording it.
        landed = self.ledger.reattest_job(self.chain_id, self.contract, content, new=on_chain)
        if landed is not None and landed.state != JobState.CONFIRMED:
            self._confirm(result, landed, landed.tx_hash)
            return
        job = self.ledger.reattest_job(self.chain_id, self.contract, content, prior=on_chain)
        doc = None
        if job is None:
            doc, cid = self._current_metadata(cert)
            verdict = self.scanner.scan(media_path(doc))
            if self._unchanged(verdict, cert, doc):
                recorded = doc["provenance"]["detection"]
                result.status, result.label, result.score, result.metadata_cid = UNCHANGED, recorded["label"], recorded["score"], cid
                return
            old = doc["provenance"]["detection"]
            previous = {"label": old["label"], "score": old["score"], "metadata_cid": cid}
            job = self.ledger.create_reattest_job(self.chain_id, self.contract, content, on_chain, previous, verdict)
            hit("reattest_scanned")
        elif job.state == JobState.CONFIRMED:
            # Recorded as done, yet the chain shows the digest it replaced (a reorganised chain): send it again.
            job = self.ledger.update_reattest_job(job.id, state=JobState.SUBMITTED)
        if job.state == JobState.SCANNED:
            if doc is None:
                doc, _ = self._current_metadata(cert)
            job = self._store(job, doc)
            hit("reattest_stored")
        if job.state == JobState.STORED:
            job = self._sign(job, token)
            hit("reattest_signed")
        self._confirm(result, job, self._send(job))

    def _check_may_reattest(self, cert: Certificate, content: str) -> None:
        if cert.revoked:
            row = self.ledger.certificate(self.chain_id, self.contract, content)
            reason = f" ({row.revoke_reason})" if row is not None and row.revoke_reason else ""
            raise Unavailable(f"certificate 0x{content} is revoked{reason}: a revoked certificate cannot be re-attested")
        if cert.issuer.lower() != self.issuer.address.lower():
            raise ProvenanceError(
                f"certificate 0x{content} was issued by {cert.issuer}; only its issuer can re-attest it (this key is {self.issuer.address})"
            )

    def _current_metadata(self, cert: Certificate) -> tuple[dict, str]:
        """The metadata on chain now, from the store, checked against the digest and the issuer's signature."""
        cid = raw_cid_from_sha256(cert.metadata_digest)
        try:
            raw = self.store.cat(cid)
        except NotFound:
            raise Unavailable(
                f"metadata ipfs://{cid} of certificate {cert.token_hex} is not in the IPFS store; it is needed to re-attest"
            ) from None
        if hashlib.sha256(raw).digest() != cert.metadata_digest:
            raise ProvenanceError(f"metadata ipfs://{cid} does not hash to the on-chain digest of {cert.token_hex}")
        try:
            doc = parse(raw)
            signer = recover_signer(doc)
        except MetadataError as exc:
            raise ProvenanceError(f"metadata ipfs://{cid} of {cert.token_hex}: {exc}") from None
        if doc["provenance"]["content"]["sha256"] != cert.content_hash.hex() or signer.lower() != cert.issuer.lower():
            raise ProvenanceError(f"metadata ipfs://{cid} does not belong to {cert.token_hex} or is not signed by its issuer")
        return doc, cid

    def _fetch_media(self, result: ReattestResult, doc: dict, content: str, tmp: Path) -> Path:
        """The certified media from the store by the CID its metadata names, trusted only if it hashes to the token id."""
        described = doc["provenance"]["content"]
        cid = described["cid"]
        result.file = f"ipfs://{cid}"
        path = tmp / f"{content}{_SUFFIX.get(described['mime'], '')}"
        digest = hashlib.sha256()
        try:
            with open(path, "wb") as out:
                # The signed metadata says how big the file is: no source may send more.
                for chunk in _chunks(self.store, cid, FetchLimits(max_bytes=int(described["size"]))):
                    digest.update(chunk)
                    out.write(chunk)
        except NotFound:
            path.unlink(missing_ok=True)
            raise Unavailable(f"media ipfs://{cid} is not in the IPFS store") from None
        if digest.hexdigest() != content:
            path.unlink(missing_ok=True)
            raise ProvenanceError(f"media ipfs://{cid} hashes to {digest.hexdigest()}, not the token id 0x{content}: not re-scored")
        return path

    @staticmethod
    def _unchanged(verdict: dict, cert: Certificate, doc: dict) -> bool:
        """The chain records this verdict and the metadata records it from the same detectors."""
        recorded = doc["provenance"]["detection"]
        on_chain = (cert.label.text, cert.score_bps)
        return _verdict_key(verdict)[:2] == on_chain and _verdict_key(verdict) == _verdict_key(recorded)

    # ---- steps ---------------------------------------------------------
    def _store(self, job: ReattestJob, doc: dict) -> ReattestJob:
        previous = json.loads(job.previous_json)
        unsigned = reattested(doc, json.loads(job.verdict_json), previous["metadata_cid"], now_iso())
        cid, digest = self.pin(unsigned)
        return self.ledger.update_reattest_job(job.id, state=JobState.STORED, metadata_cid=cid, metadata_digest=digest, error=None)

    def _sign(self, job: ReattestJob, token: int) -> ReattestJob:
        """Sign the reattest and record it before anything is sent.

        A job signed before keeps its nonce while that nonce is unspent, so of
        its transactions at most one can ever be mined.
        """
        verdict = json.loads(job.verdict_json)
        registry = self.chain.registry
        nonce = job.tx_nonce if job.tx_nonce is not None and registry.mined_nonce() <= job.tx_nonce else None
        signed = registry.sign_reattest(token, bytes.fromhex(_stored_digest(job)), *chain_verdict(verdict), nonce)
        return self.ledger.update_reattest_job(
            job.id, state=JobState.SUBMITTED, tx_hash=signed.tx_hash, tx_nonce=signed.nonce, raw_tx=signed.raw.hex(), error=None
        )

    def _send(self, job: ReattestJob) -> str:
        """Send the recorded transaction unless the node has it, and wait for it; returns its hash."""
        registry = self.chain.registry
        signed = _recorded_tx(job)
        if not registry.transaction_known(signed.tx_hash):
            try:
                registry.broadcast(signed, "reattest")
            except TransactionFailed as exc:
                if registry.mined_nonce() <= signed.nonce:
                    self.ledger.update_reattest_job(job.id, error=str(exc))
                    raise
                # Its nonce went to another transaction, so it can never be mined: sign a new one.
                job = self._sign(job, int(job.content_sha256, 16))
                signed = _recorded_tx(job)
                registry.broadcast(signed, "reattest")
            hit("reattest_sent")
        try:
            return registry.wait(signed.tx_hash).tx_hash
        except TransactionFailed:
            # Mined and reverted: its nonce is spent; the next run signs again.
            message = f"reattest transaction {signed.tx_hash} reverted"
            self.ledger.update_reattest_job(job.id, state=JobState.STORED, tx_hash=None, raw_tx=None, error=message)
            raise ProvenanceError(message) from None
        except ChainError as exc:
            self.ledger.update_reattest_job(job.id, error=str(exc))
            raise

    def _confirm(self, result: ReattestResult, job: ReattestJob, tx_hash: str | None) -> None:
        verdict = json.loads(job.verdict_json)
        with self.ledger.session() as s, s.begin():
            # The row of the deployment in use: a redeploy at the same address keeps retired rows.
            row = s.scalar(
                select(CertificateRow).where(
                    CertificateRow.deployment_id == self.ledger.deployment_id(s, self.chain_id, self.contract),
                    CertificateRow.content_sha256 == job.content_sha256,
                )
            )
            if row is not None:  # as `sync` will record it from the CertificateReattested event
                row.metadata_digest, row.metadata_cid = _stored_digest(job), job.metadata_cid
                row.label, row.score_bps = verdict["label"], score_bps(verdict["score"])
            self.ledger.update_reattest_job(job.id, s, state=JobState.CONFIRMED, tx_hash=tx_hash, error=None)
        hit("reattest_confirmed")
        result.status, result.label, result.score = REATTESTED, verdict["label"], verdict["score"]
        result.metadata_cid, result.tx_hash, result.previous = job.metadata_cid, tx_hash, json.loads(job.previous_json)


def _chunks(store: ContentStore, cid: str, limits: FetchLimits):
    """The file's bytes in pieces where the backend streams them (a video need not fit in memory)."""
    if hasattr(store, "iter_cat"):
        yield from store.iter_cat(cid, limits=limits)
    else:
        yield store.cat(cid, limits=limits)


def _verdict_key(detection: dict) -> tuple:
    """What makes two verdicts the same: label, score as the chain holds it, and which detectors gave it."""
    members = tuple(
        (d.get("name"), d.get("version"), d.get("weights_sha256"), bool(d.get("skipped"))) for d in detection.get("detectors", [])
    )
    return detection["label"], score_bps(detection["score"]), members


def _recorded_tx(job: ReattestJob) -> SignedTx:
    """The signed transaction a submitted job holds (`_sign` records all three fields together)."""
    if job.tx_hash is None or job.tx_nonce is None or job.raw_tx is None:
        raise ProvenanceError(f"re-attestation job {job.id} has no signed transaction recorded")
    return SignedTx(job.tx_hash, job.tx_nonce, bytes.fromhex(job.raw_tx))


def _stored_digest(job: ReattestJob) -> str:
    """The digest of the pinned metadata, which a job has from `stored` on."""
    if job.metadata_digest is None:
        raise ProvenanceError(f"re-attestation job {job.id} has no pinned metadata recorded")
    return job.metadata_digest


def _given_path(path: Path, _doc: dict) -> Path:
    """A local file re-attests from the file itself, whatever its metadata names."""
    return path
