"""Certify: media in, an on-chain certificate out, resumable after a crash at any step.

Each file is a mint job in the ledger that moves hashed -> scanned -> stored ->
submitted -> confirmed, committing at every step. Re-running the same command
picks each job up where it stopped. Because the token id *is* the content
hash, the chain cannot hold two certificates for one file; before every
submission the job asks the chain whether its token already exists, which
covers a crash between sending a transaction and recording it.

Files are hashed first and grouped by content: one job per content, so the
same bytes under two paths (or one path given twice) make one certificate,
and the later path's result is the first one's, marked `duplicate_of` it.
What is added to IPFS is checked to be the bytes that were hashed: a file
replaced after hashing fails with a clear error instead of being certified
with another file's media. Processes sharing a home claim each content
before touching its job (claims.py): a content another `mint` is working on
waits for it, and then is "already certified" (or finished here, if that
process died).

Re-issue (`CertifyOptions.reissue`, `provenance mint --reissue`): a content
whose certificate is revoked can be certified again only when the registry's
admin approved this issuer for it (`approveReissue`). Its job starts over from
`hashed` (new verdict, new signed metadata) and goes on chain with the
registry's `reissue`, which keeps the revoked record in the token's history.
"""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Callable, Sequence

from .chain import ChainError, ChainSession, MintRequest, TransactionFailed, token_id_of
from .claims import ClaimTimeout, ContentClaims
from .content import ContentChanged, cid_of_hashed
from .errors import ProvenanceError
from .failpoints import hit
from .ipfs import ContentStore, IpfsError
from .ipfs.profile import ImportProfile
from .ledger import JobState, Ledger, MintJob
from .media import MediaError, MediaFile, load_media
from .metadata import MetadataInput, build, now_iso
from .perceptual import perceptual_hashes
from .publish import IssuerService
from .records import record_certificate, reopen_lost_mints
from .scanning import Scanner
from .verdicts import chain_verdict

PREPARE_THREADS = 4


@dataclass(frozen=True)
class CertifyOptions:
    name: str | None = None
    description: str = ""
    generator: dict | None = None
    to: str | None = None
    batch: int = 1
    reissue: bool = False  # certify again contents whose revoked certificate an admin approved this issuer to re-issue


@dataclass
class FileResult:
    file: str
    content_sha256: str | None = None
    token_id: str | None = None
    tx_hash: str | None = None
    metadata_cid: str | None = None
    media_cid: str | None = None
    verdict: str | None = None
    already: bool = False
    error: str | None = None
    duplicate_of: str | None = None  # an earlier path of the same run with the same bytes
    reissued: bool = False  # this run re-issued a revoked certificate

    def to_dict(self) -> dict:
        out = asdict(self)
        if self.error is None:
            out.pop("error")
        else:
            out = {"file": self.file, "error": self.error, "content_sha256": self.content_sha256}
        if self.duplicate_of is None:
            out.pop("duplicate_of", None)
        else:
            out["duplicate_of"] = self.duplicate_of
        if not self.reissued:
            out.pop("reissued", None)
        return out


@dataclass
class _Work:
    result: FileResult
    job: MintJob | None = None
    media: MediaFile | None = None  # without its decoded frames once hashed and scanned
    hashes: dict | None = None  # perceptual hashes, computed when the file was loaded
    verdict: dict | None = None  # the detectors' verdict, computed on the frames hashed while they were loaded
    scan_error: ProvenanceError | None = None  # why the detectors could not score them
    reissue: bool = False  # goes on chain with `reissue`: its revoked certificate was approved for this issuer

    @property
    def mint_job(self) -> MintJob:
        """The job; every work that got past `_prepare` without an error has one."""
        if self.job is None:
            raise ProvenanceError(f"{self.result.file}: no mint job (internal error)")
        return self.job

    @property
    def loaded(self) -> MediaFile:
        """The loaded media (without its pixels); every work that loaded without an error has it."""
        if self.media is None:
            raise ProvenanceError(f"{self.result.file}: not loaded (internal error)")
        return self.media


class Certifier(IssuerService):
    def __init__(
        self,
        chain: ChainSession,
        store: ContentStore,
        ledger: Ledger,
        scanner: Scanner,
        claims_dir: Path | None = None,
        renditions: Callable[..., dict] | None = None,
    ):
        """`claims_dir`: where processes sharing the home claim contents (claims.py); None: no other process.
        `renditions`: makes another file the certificate covers (the C2PA copy, provenance/c2pa/writer.py) and
        returns its entry for the signed metadata; called once per new metadata document."""
        super().__init__(chain, store, ledger, scanner, "certifying")
        self._scan_lock = threading.Lock()
        self._verdicts: dict[str, dict] = {}  # by content sha256: verdicts computed in this run
        self._claims = ContentClaims(claims_dir)
        self._renditions = renditions

    def certify(
        self, paths: Sequence[Path], options: CertifyOptions, on_file: Callable[[FileResult], None] | None = None
    ) -> list[FileResult]:
        # Preparing is per-file I/O (fsyncs, SQLite commits) and C code that
        # releases the GIL (decoding, hashing), so a few threads overlap it.
        self._verdicts.clear()
        with ThreadPoolExecutor(max_workers=max(1, min(PREPARE_THREADS, len(paths)))) as pool:
            loaded = list(pool.map(lambda p: self._load(Path(p), options), paths))
            # One job per content: a later path with the same bytes takes the first one's result.
            works, copies = _one_per_content(loaded)
            # A content another process is certifying waits until our own are done and its claim is free;
            # by then it is normally confirmed, and what that process left unfinished we finish.
            mine = [w for w in works if w.result.error is not None or self._claims.try_claim(self._claim_key(w))]
            taken = {id(w) for w in mine}
            theirs = [w for w in works if id(w) not in taken]
            try:
                self._run(pool, mine, options)
            finally:
                self._claims.release_all()
            if theirs:
                try:
                    for work in sorted(theirs, key=self._claim_key):  # one order for every process: no deadlock
                        self._claims.claim(self._claim_key(work))
                    self._run(pool, theirs, options)
                except ClaimTimeout as exc:
                    for work in theirs:
                        work.result.error = work.result.error or str(exc)
                finally:
                    self._claims.release_all()
        for copy, first in copies:
            copy.result = replace(first.result, file=copy.result.file, duplicate_of=first.result.file)
        for work in loaded:
            if on_file:
                on_file(work.result)
        return [w.result for w in loaded]

    def _claim_key(self, work: _Work) -> str:
        return f"{self.chain_id}-{self.contract.lower()}-{work.result.content_sha256}"

    def _run(self, pool: ThreadPoolExecutor, works: list[_Work], options: CertifyOptions) -> None:
        """Prepare, settle against the chain and send these works (one content each, claimed by us)."""
        if not works:
            return
        works = list(pool.map(lambda w: self._prepare(w, options), works))
        if options.reissue:
            self._start_reissues([w for w in works if w.result.error is None and w.job and w.job.state in _FINISHED])
        # "Already certified" only while the chain holds the token with this metadata: a mint lost with
        # its blocks (node killed before saving them, a reorganisation) goes back to be sent again.
        confirmed = [w.job for w in works if w.result.error is None and w.job and w.job.state == JobState.CONFIRMED]
        reopened = reopen_lost_mints(self.chain, self.ledger, confirmed)
        for work in works:
            if work.job is not None and work.job.id in reopened:
                work.job, work.result = reopened[work.job.id], FileResult(file=work.result.file)
                self._fill_result(work)
        pending = [w for w in works if w.result.error is None and w.job and w.job.state != JobState.CONFIRMED]
        self._reconcile(pending, options)
        to_send = [w for w in pending if w.result.error is None and w.mint_job.state != JobState.CONFIRMED]
        self._mint(to_send, options)

    # ---- per-file preparation ----------------------------------------
    def _load(self, path: Path, options: CertifyOptions) -> _Work:
        """Read, decode and hash one file, and score it while its frames are decoded; then let the pixels go.

        The file is read once here (`load_media`): hashing and the detectors use the same
        decoded frames. Scanning happens now, not when the job reaches `hashed`, so that the
        pixels of a whole run are never held at once; a content whose job is past scanning
        is not scored again.
        """
        work = _Work(FileResult(file=str(path)))
        try:
            media = load_media(path)
            work.result.content_sha256 = media.sha256
            work.hashes = perceptual_hashes(media)
            if self._needs_scan(media.sha256, options):
                self._scan_loaded(work, media)
            work.media = media.without_pixels()
        except (MediaError, ProvenanceError) as exc:
            work.result.error = str(exc)
        return work

    def _needs_scan(self, sha256: str, options: CertifyOptions) -> bool:
        job = self.ledger.job_for(self.chain_id, self.contract, sha256)
        return job is None or job.state in (JobState.NEW, JobState.HASHED) or (options.reissue and job.state in _FINISHED)

    def _scan_loaded(self, work: _Work, media: MediaFile) -> None:
        with self._scan_lock:  # detectors keep model state; one file at a time
            known = self._verdicts.get(media.sha256)  # the same bytes under another path of this run
            if known is None:
                try:
                    known = self.scanner.scan(media)
                except ProvenanceError as exc:
                    work.scan_error = exc
                    return
                self._verdicts[media.sha256] = known
        work.verdict = known

    def _prepare(self, work: _Work, options: CertifyOptions) -> _Work:
        if work.result.error is not None:
            return work
        media = work.loaded
        path = media.path
        try:
            job = self.ledger.job_for(self.chain_id, self.contract, media.sha256) or self.ledger.create_job(
                self.chain_id, self.contract, media.sha256, str(path.resolve()), _request(path, options)
            )
            work.job = job
            if options.reissue and job.state in _FINISHED:
                return work  # the chain decides, in `_start_reissues`, whether it starts over
            self._advance(work)
        except (MediaError, IpfsError, ProvenanceError, ChainError) as exc:
            self._failed(work, exc)
        return work

    def _failed(self, work: _Work, exc: Exception) -> None:
        work.result.error = str(exc)
        if work.job is not None and work.job.state not in _FINISHED:
            self.ledger.update_job(work.job.id, error=str(exc))

    def _start_reissues(self, works: list[_Work]) -> None:
        """Finished jobs (confirmed, or failed on another issuer's certificate) whose certificate is now revoked
        and approved for re-issue by this issuer start over from `hashed`; the others end as they would have."""
        registry = self.chain.registry
        for work in works:
            job = work.mint_job
            token = token_id_of(bytes.fromhex(job.content_sha256))
            try:
                cert = registry.certificate(token)
                if cert is None or not cert.revoked:
                    # Nothing to re-issue: a valid certificate (ours is "already"), or one the chain lost
                    # (`reopen_lost_mints` sends it again).
                    if job.state == JobState.CONFIRMED:
                        self._fill_result(work, already=True)
                    else:
                        work.result.error = job.error or "mint job failed"
                    continue
                self._require_reissue_approval(token, reissue=True)
                work.job = self.ledger.update_job(
                    job.id,
                    state=JobState.HASHED,
                    verdict_json=None,
                    media_cid=None,
                    metadata_cid=None,
                    metadata_digest=None,
                    tx_hash=None,
                    error=None,
                )
                self._advance(work)
            except (MediaError, IpfsError, ProvenanceError, ChainError) as exc:
                self._failed(work, exc)

    def _require_reissue_approval(self, token: int, reissue: bool) -> None:
        """Raise unless a re-issue of this revoked certificate by this issuer is approved (and asked for)."""
        approved = self.chain.registry.reissue_approved_for(token)
        mine = approved is not None and approved.lower() == self.issuer.address.lower()
        token_hex = f"0x{token:064x}"
        if mine and reissue:
            return
        if mine:
            raise ProvenanceError(
                f"certificate {token_hex} is revoked and its re-issue by this issuer is approved: "
                f"run `provenance mint --reissue FILE` to certify it again"
            )
        if approved is not None:
            raise ProvenanceError(
                f"certificate {token_hex} is revoked and its re-issue is approved for {approved}, not for this issuer {self.issuer.address}"
            )
        raise ProvenanceError(
            f"certificate {token_hex} is revoked; certifying it again needs the registry admin's approval: "
            f"`provenance approve-reissue {token_hex} --reason TEXT` (admin key), then `provenance mint --reissue FILE`"
        )

    def _advance(self, work: _Work) -> None:
        job, media = work.mint_job, work.loaded
        assert job is not None and media is not None
        if job.state == JobState.CONFIRMED:
            self._fill_result(work, already=True)
            return
        if job.state == JobState.FAILED:
            raise ProvenanceError(job.error or "mint job failed")
        if job.state == JobState.NEW:
            job = self.ledger.update_job(job.id, state=JobState.HASHED, hashes_json=json.dumps(work.hashes))
            hit("hashed")
        if job.state == JobState.HASHED:
            verdict = self._verdict_of(work)
            job = self.ledger.update_job(job.id, state=JobState.SCANNED, verdict_json=json.dumps(verdict))
            hit("scanned")
        if job.state == JobState.SCANNED:
            job = self._store(job, media)
            hit("stored")
        work.job = job
        self._fill_result(work)

    def _verdict_of(self, work: _Work) -> dict:
        """The verdict computed when the file was loaded; or, for a job that came back to `hashed`
        after loading (a re-issue started over), the file read again and checked to be the same bytes."""
        if work.scan_error is not None:
            raise work.scan_error
        if work.verdict is not None:
            return work.verdict
        loaded = work.loaded
        media = load_media(loaded.path)
        if media.sha256 != loaded.sha256:
            raise ContentChanged(
                f"{media.path}: changed since it was hashed (sha256 {loaded.sha256[:16]}... then, {media.sha256[:16]}... now)"
            )
        self._scan_loaded(work, media)
        return self._verdict_of(work)

    def _store(self, job: MintJob, media: MediaFile) -> MintJob:
        request = json.loads(job.request_json)
        # Store the bytes that were hashed: their CID, read in the same pass as a fresh sha256
        # of the file, must be the CID the store reports for what it added.
        profile = ImportProfile.for_version(1)
        expected = cid_of_hashed(media.path, media.sha256, profile)
        added = self.store.add_file(media.path, cid_version=1)
        if added.profile != profile:
            expected = cid_of_hashed(media.path, media.sha256, added.profile)
        if added.cid != expected:
            raise ContentChanged(f"{media.path}: changed since it was hashed (it was replaced while being stored)")
        # Made before the metadata, which records its sha256 (the token id is already known: the content hash).
        renditions = (
            (self._renditions(media, _json(job.hashes_json, "hashes"), request["generator"], added.cid),) if self._renditions else ()
        )
        doc = build(
            MetadataInput(
                name=request["name"],
                description=request["description"],
                media_cid=added.cid,
                import_profile=added.profile.to_dict(),
                media={**media.describe(), "sha256": media.sha256},
                perceptual=_json(job.hashes_json, "hashes"),
                detection=_json(job.verdict_json, "verdict"),
                generator=request["generator"],
                issuer=self.issuer.address,
                chain_id=self.chain_id,
                contract=self.contract,
                issued_at=now_iso(),
                renditions=renditions,
            )
        )
        cid, digest = self.pin(doc)
        return self.ledger.update_job(
            job.id, state=JobState.STORED, media_cid=added.cid, metadata_cid=cid, metadata_digest=digest, error=None
        )

    # ---- chain --------------------------------------------------------
    def _reconcile(self, works: list[_Work], options: CertifyOptions) -> None:
        """Settle jobs whose token may already exist: the chain is the last word."""
        registry = self.chain.registry
        works = [w for w in works if w.job is not None and w.job.metadata_digest is not None]
        tokens = registry.tokens_of_contents([bytes.fromhex(w.mint_job.content_sha256) for w in works])
        for work, token in zip(works, tokens):
            job = work.mint_job
            # A token listed a moment ago can be gone with a reorganisation: it counts as absent.
            cert = registry.certificate(token) if token is not None else None
            if token is None or cert is None:
                if job.state == JobState.SUBMITTED:
                    work.job = self.ledger.update_job(job.id, state=JobState.STORED, tx_hash=None)
                continue
            if cert.metadata_digest.hex() == job.metadata_digest:
                minted = self.chain.registry.mint_of(token, self.chain.deployment.deploy_block)
                tx_hash, block = minted if minted else (job.tx_hash, 0)
                self._confirm(work, cert, tx_hash, block)
            elif cert.revoked:
                # A revoked certificate holds the content until an admin approves a re-issue.
                try:
                    self._require_reissue_approval(token, options.reissue)
                except ProvenanceError as exc:
                    work.result.error = str(exc)
                    work.job = self.ledger.update_job(job.id, error=str(exc))  # kept: `mint --reissue` goes on from here
                    continue
                work.reissue = True
                if job.state == JobState.SUBMITTED:  # a re-issue sent before that never made it
                    work.job = self.ledger.update_job(job.id, state=JobState.STORED, tx_hash=None)
            else:
                message = f"already certified as token 0x{job.content_sha256} with other metadata"
                work.result.error = message
                work.job = self.ledger.update_job(job.id, state=JobState.FAILED, error=message)

    def _mint(self, works: list[_Work], options: CertifyOptions) -> None:
        recipient = options.to or self.issuer.address
        batch = max(1, options.batch)
        sent = []
        minting = [w for w in works if not w.reissue]
        groups = [minting[start : start + batch] for start in range(0, len(minting), batch)]
        groups += [[w] for w in works if w.reissue]  # the registry re-issues one certificate per call
        for group in groups:
            try:
                if group[0].reissue:
                    tx = self.chain.registry.send_reissue(recipient, self._mint_request(group[0].mint_job))
                else:
                    tx = self.chain.registry.send_mint(recipient, [self._mint_request(w.mint_job) for w in group])
            except (TransactionFailed, ChainError) as exc:
                for work in group:
                    work.result.error = str(exc)
                    self.ledger.update_job(work.mint_job.id, error=str(exc))
                continue
            hit("sent")
            for work in group:
                work.job = self.ledger.update_job(work.mint_job.id, state=JobState.SUBMITTED, tx_hash=tx.tx_hash)
            hit("submitted")
            sent.append((tx.tx_hash, group))
        for tx_hash, group in sent:
            try:
                outcome = self.chain.registry.wait(tx_hash)
            except ChainError as exc:
                for work in group:
                    work.result.error = f"transaction {tx_hash} failed: {exc}"
                    self.ledger.update_job(work.mint_job.id, state=JobState.STORED, tx_hash=None, error=str(exc))
                continue
            minted = {cert.token_id: cert for cert in outcome.issued}
            for work in group:
                cert = minted[token_id_of(bytes.fromhex(work.mint_job.content_sha256))]
                self._confirm(work, cert, tx_hash, outcome.block_number)
                work.result.reissued = work.reissue

    def _mint_request(self, job: MintJob) -> MintRequest:
        label, score = chain_verdict(_json(job.verdict_json, "verdict"))
        hashes = _json(job.hashes_json, "hashes")
        return MintRequest(
            content_hash=bytes.fromhex(job.content_sha256),
            metadata_digest=bytes.fromhex(_text(job.metadata_digest, "metadata digest")),
            label=label,
            score_bps=score,
            phash=int(hashes["phash"], 16),
            pdq=bytes.fromhex(hashes["pdq"]),
        )

    def _confirm(self, work: _Work, cert, tx_hash: str | None, block_number: int) -> None:
        job = work.mint_job
        hashes = _json(job.hashes_json, "hashes")
        with self.ledger.session() as session, session.begin():
            record_certificate(
                self.ledger,
                session,
                self.chain_id,
                self.contract,
                cert,
                tx_hash=tx_hash or "",
                block_number=block_number,
                metadata_cid=job.metadata_cid,
                media_cid=job.media_cid,
                phash=hashes["phash"],
                pdq=hashes["pdq"],
            )
            # One transaction: the certificate row and the job's end state land together.
            work.job = self.ledger.update_job(job.id, session, state=JobState.CONFIRMED, tx_hash=tx_hash, error=None)
        hit("confirmed")
        self._fill_result(work)

    def _fill_result(self, work: _Work, already: bool = False) -> None:
        job = work.mint_job
        result = work.result
        result.content_sha256 = job.content_sha256
        result.media_cid = job.media_cid
        result.metadata_cid = job.metadata_cid
        if job.verdict_json:
            result.verdict = json.loads(job.verdict_json)["label"]
        if job.state == JobState.CONFIRMED:
            result.token_id = "0x" + job.content_sha256
            result.tx_hash = job.tx_hash
            result.already = already


# Jobs that end a run as they are, unless a re-issue starts them over.
_FINISHED = (JobState.CONFIRMED, JobState.FAILED)


def _text(value: str | None, what: str) -> str:
    """A column a job has by its state (hashes once hashed, a digest once stored, ...)."""
    if value is None:
        raise ProvenanceError(f"mint job has no {what} at this step (internal error)")
    return value


def _json(value: str | None, what: str) -> Any:
    return json.loads(_text(value, what))


def _request(path: Path, options: CertifyOptions) -> dict:
    return {
        "name": options.name or path.name,
        "description": options.description,
        "generator": options.generator,
        "to": options.to,
    }


def _one_per_content(works: list[_Work]) -> tuple[list[_Work], list[tuple[_Work, _Work]]]:
    """The works to run (the first path of each content, and every failed one) and (copy, first) pairs."""
    first: dict[str, _Work] = {}
    runs, copies = [], []
    for work in works:
        sha = work.result.content_sha256 if work.result.error is None else None
        if sha is not None and sha in first:
            copies.append((work, first[sha]))
        else:
            runs.append(work)
            if sha is not None:
                first[sha] = work
    return runs, copies
