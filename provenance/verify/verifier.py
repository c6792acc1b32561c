"""Verifying a received file against chain, metadata and content.

The order is the whole design: find the certificate (`lookup.py`), read it and
its metadata (`checks.read_certificate`, `checks.read_metadata`), judge the
metadata's integrity (`checks.integrity_policy`), compare the file with the
content (`content.py`), then judge the certificate's standing
(`checks.standing_policy`). `policy.outcome` turns the results into one status.
Sections that are not checks (the certificate, the match, the C2PA manifest)
are filled beside them and never change the status.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from ..chain import Certificate
from ..chain.registry import Registry, TokenRecord
from ..context import Parts
from ..errors import ProvenanceError
from ..hashing import PERCEPTUAL_MATCH_CAVEAT
from ..ipfs import IpfsError
from ..media import MediaError, MediaFile, load_media, probe_media
from ..scanning import Scanner
from .checks import REQUIRED_CHECKS, Certified, integrity_policy, read_certificate, read_metadata, standing_policy
from .content import Comparison, NearImage, NearVideo, QueryHashes, compare_content
from .lookup import find_candidates
from .policy import SUMMARIES, outcome
from .reissue import reissue_history, reissue_note
from .report import Candidate, CheckResult, Status, VerificationReport


class Verifier:
    def __init__(self, parts: Parts, scanner: Scanner | None = None):
        self.parts = parts
        self.scanner = scanner

    def verify(self, path: Path, token: int | None = None) -> VerificationReport:
        """The report of one file, with its C2PA section (read first: its Provenance assertion can name the token)."""
        from ..c2pa.service import c2pa_for_verify

        manifest, hint = c2pa_for_verify(path, self.parts)
        report = self._verify(path, token, hint)
        report.c2pa = manifest.to_dict()
        return report

    def _verify(self, path: Path, token: int | None, hint: int | None = None) -> VerificationReport:
        try:
            # The header and the sha256 first: an exact copy is settled by its hash, without a decode.
            media = probe_media(path)
        except MediaError as exc:
            return VerificationReport(file=str(path), status=Status.ERROR, summary=str(exc))
        record: TokenRecord | None = None
        exact: int | None = None
        try:
            if not token:
                # The content hash's token and, speculatively, that token's record: one round trip.
                registry = self.parts.chain.registry
                guess = _last_issuer.get(registry.address)
                exact, record = registry.record_of_content(bytes.fromhex(media.sha256), guess)
        except (ProvenanceError, IpfsError) as exc:
            return VerificationReport(str(path), Status.ERROR, f"lookup failed: {exc}", media.sha256)
        if token or exact is None or self.scanner is not None:
            # The pixels are needed (a perceptual lookup, a comparison with a named token, a rescan), and
            # only now is the file held to every check of a full decode.
            try:
                media = _load_same(path, media.sha256)
            except MediaError as exc:
                return VerificationReport(file=str(path), status=Status.ERROR, summary=str(exc))
        query = QueryHashes(media)
        try:
            candidates = [Candidate(f"0x{token:064x}", "token")] if token else self._lookup(media, query, hint, exact)
        except (ProvenanceError, IpfsError) as exc:
            return VerificationReport(str(path), Status.ERROR, f"lookup failed: {exc}", media.sha256)
        if not candidates:
            return VerificationReport(
                file=str(path),
                status=Status.NOT_FOUND,
                summary=SUMMARIES[Status.NOT_FOUND],
                content_sha256=media.sha256,
                checks=[
                    CheckResult(
                        "lookup",
                        False,
                        "no certificate by content hash on chain, nor by perceptual hash in the index",
                        fails_as=Status.NOT_FOUND,
                    )
                ],
            )
        return self._check(path, media, query, candidates, record)

    def _lookup(self, media, query, hint: int | None, exact: int | None) -> list[Candidate]:
        p = self.parts
        return find_candidates(p.chain, p.ledger, p.settings, media, query, hint, exact_read=True, exact=exact)

    def _check(
        self, path: Path, media: MediaFile, query: QueryHashes, candidates: list[Candidate], record: TokenRecord | None = None
    ) -> VerificationReport:
        chosen = candidates[0]
        p = self.parts
        deployment = p.chain.deployment
        token_id = int(chosen.token_id, 16)
        # open_parts checked the node and the registry against the recorded deployment before this.
        results = [
            CheckResult(
                "chain", True, f"chain {deployment.chain_id} reachable; registry {deployment.address} matches the recorded deployment"
            )
        ]
        comparison: Comparison | None = None
        certificate: dict | None = None
        # The certificate, its tokenURI and its history in one round trip (or read with the lookup, when it
        # found this token by content hash); read fresh for every verification, never cached: revocation
        # and re-issue change them.
        if record is None or record.token_id != token_id:
            record = p.chain.registry.record(token_id)
        cert = read_certificate(record, token_id)
        results.append(cert.result)
        if cert.value is not None:
            _last_issuer[p.chain.registry.address] = cert.value.issuer  # the next lookup's guess (_role_reader)
        if cert.value is not None:
            metadata = read_metadata(record, p.store, cert.value)
            results.append(metadata.result)
            if metadata.value is not None:
                judged, comparison = self._judge(media, query, Certified(token_id, cert.value, metadata.value), record)
                results.extend(judged)
            reissued = reissue_history(p.chain.registry, token_id, deployment.deploy_block, record.history)
            if reissued:
                results.append(reissue_note(reissued))
            certificate = _certificate_section(cert.value, metadata.value, reissued)
        status, summary = outcome(results, REQUIRED_CHECKS)
        perceptual = isinstance(comparison, (NearImage, NearVideo))
        return VerificationReport(
            file=str(path),
            status=status,
            summary=summary,
            content_sha256=media.sha256,
            token_id=chosen.token_id,
            checks=results,
            candidates=candidates,
            match=comparison.section() if comparison is not None else None,
            caveat=PERCEPTUAL_MATCH_CAVEAT if perceptual else None,
            certificate=certificate,
        )

    def _judge(
        self, media: MediaFile, query: QueryHashes, subject: Certified, record: TokenRecord
    ) -> tuple[list[CheckResult], Comparison | None]:
        """The policies over a certificate whose metadata was read intact, and the comparison of the file (if it got that far)."""
        p = self.parts
        deployment = p.chain.deployment
        integrity = integrity_policy(deployment.chain_id, deployment.address).judge(subject)
        if not integrity.passed:
            return list(integrity.results), None  # the metadata is not the issuer's sound word: nothing below could rely on it
        comparison = compare_content(media, query, subject.certificate.content_hash.hex(), subject.metadata, p.settings.thresholds)
        row = p.ledger.certificate(deployment.chain_id, deployment.address, f"{subject.token_id:064x}")
        scanner = self.scanner
        standing = standing_policy(
            revoke_reason=row.revoke_reason if row is not None else None,
            holds_role=_role_reader(p.chain.registry, record),
            trusted_issuers=p.settings.trusted_issuers,
            comparison=comparison,
            scan=(lambda: scanner.scan(media)) if scanner is not None else None,  # the frames already decoded
        )
        return [*integrity.results, *standing.judge(subject).results], comparison


def _load_same(path: Path, sha256: str) -> MediaFile:
    """The file decoded in full; it must still be the bytes whose hash was looked up."""
    media = load_media(path)
    if media.sha256 != sha256:
        raise MediaError(f"{path}: the file changed while it was being verified")
    return media


# Per registry, the issuer of the last certificate read: the next lookup's batch also asks whether that
# account holds ISSUER_ROLE, which saves a round trip when the next certificate has the same issuer (the
# usual case: a server verifying one issuer's media). Only a guess, never an answer: the role is read
# from the chain in every verification, and a guess that misses costs the call it would have saved.
_last_issuer: dict[str, str] = {}


def _role_reader(registry: Registry, record: TokenRecord) -> Callable[[str], bool]:
    """`registry.is_issuer`, except for the account whose role was read with the record (same batch, same freshness)."""
    read = record.issuer_role

    def holds_role(account: str) -> bool:
        if read is not None and read[0].lower() == account.lower():
            return read[1]
        return registry.is_issuer(account)

    return holds_role


def _certificate_section(cert: Certificate, metadata: dict | None, reissued: list[dict]) -> dict:
    out = {
        "token_id": cert.token_hex,
        **cert.record_fields(),
        # Whether the metadata was fetched and hashed to that digest: readers (the web page) fetch it again only then.
        "metadata_intact": metadata is not None,
    }
    if metadata is not None:  # read only once it hashed to the on-chain digest
        # Earlier verdicts, oldest first, each replaced by a re-attestation (`provenance reattest`).
        out["history"] = metadata["provenance"].get("history", [])
    if reissued:
        out["reissued_from"] = reissued
    return out
