"""Verifying a received file against chain, metadata and content."""

from __future__ import annotations

from pathlib import Path

from ..context import Parts
from ..errors import ProvenanceError
from ..hashing import PERCEPTUAL_MATCH_CAVEAT
from ..ipfs import IpfsError
from ..media import MediaError, load_media
from ..scanning import Scanner
from .checks import REQUIRED_CHECKS, Evidence, QueryHashes, default_checks
from .lookup import find_candidates
from .report import Candidate, CheckResult, Status, VerificationReport

# Which failure decides the status when several checks fail.
PRECEDENCE = [Status.ERROR, Status.TAMPERED, Status.NOT_FOUND, Status.REVOKED, Status.UNTRUSTED_ISSUER, Status.MODIFIED]
# After these, later checks have nothing trustworthy to work on.
STOPPING = {Status.ERROR, Status.TAMPERED, Status.NOT_FOUND}

SUMMARIES = {
    Status.VERIFIED: "exact copy of certified content; chain, metadata and signature agree",
    Status.MODIFIED: "a modified copy of certified content (perceptual match, not proof of identity)",
    Status.NOT_FOUND: "no certificate covers this file",
    Status.REVOKED: "the certificate for this content was revoked",
    Status.TAMPERED: "chain, metadata and content disagree: do not trust this certificate",
    Status.UNTRUSTED_ISSUER: "certified by an issuer you do not trust",
    Status.ERROR: "could not be verified",
}


def parse_token(text: str) -> int:
    """A token id as decimal or 0x-hex (the content sha256)."""
    try:
        value = int(text, 16) if text.lower().startswith("0x") else int(text)
    except ValueError:
        raise ProvenanceError(f"token id {text!r} is neither decimal nor 0x-hex") from None
    if not 0 < value < 2**256:
        raise ProvenanceError(f"token id {text!r} is out of range")
    return value


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
            media = load_media(path)
        except MediaError as exc:
            return VerificationReport(file=str(path), status=Status.ERROR, summary=str(exc))
        query = QueryHashes(media)
        try:
            candidates = [Candidate(f"0x{token:064x}", "token")] if token else self._lookup(media, query, hint)
        except (ProvenanceError, IpfsError) as exc:
            return VerificationReport(str(path), Status.ERROR, f"lookup failed: {exc}", media.sha256)
        if not candidates:
            return VerificationReport(
                file=str(path), status=Status.NOT_FOUND, summary=SUMMARIES[Status.NOT_FOUND], content_sha256=media.sha256,
                checks=[CheckResult("lookup", False, "no certificate by content hash on chain, nor by perceptual hash in the index", fails_as=Status.NOT_FOUND)],
            )
        return self._check(path, media, query, candidates)

    def _lookup(self, media, query, hint: int | None = None) -> list[Candidate]:
        p = self.parts
        return find_candidates(p.chain, p.ledger, p.settings, media, query, hint)

    def _check(self, path, media, query, candidates) -> VerificationReport:
        chosen = candidates[0]
        p = self.parts
        ev = Evidence(
            media=media, query=query, token_id=int(chosen.token_id, 16),
            registry=p.chain.registry, store=p.store, settings=p.settings,
            chain_id=p.chain.deployment.chain_id, contract=p.chain.deployment.address,
            rescan=(lambda: self.scanner.scan(media.path)) if self.scanner else None,
        )
        row = p.ledger.certificate(ev.chain_id, ev.contract, chosen.token_id[2:])
        if row is not None and row.revoke_reason:
            ev.revoke_reason = row.revoke_reason
        results: list[CheckResult] = [CheckResult("chain", True, f"chain {ev.chain_id} reachable; registry {ev.contract} matches the recorded deployment")]
        for check in default_checks(rescan=self.scanner is not None):
            result = check.run(ev)
            results.append(result)
            if not result.passed and result.fails_as in STOPPING and check.name != "content_match":
                break
        reissued = _reissue_history(ev, p.chain.deployment.deploy_block) if ev.certificate is not None else []
        if reissued:
            results.append(_reissue_note(reissued))
        status, summary = _outcome(results)
        certificate = _certificate_dict(ev)
        if certificate is not None and reissued:
            certificate["reissued_from"] = reissued
        return VerificationReport(
            file=str(path), status=status, summary=summary, content_sha256=media.sha256,
            token_id=chosen.token_id, checks=results, candidates=candidates, match=ev.match,
            caveat=PERCEPTUAL_MATCH_CAVEAT if ev.match and ev.match.get("kind") == "perceptual" else None,
            certificate=certificate,
        )


def _outcome(results: list[CheckResult]) -> tuple[Status, str]:
    """The status and its summary: the gravest failure, else `verified` only if every required check passed."""
    status = _status(results)
    if status not in (Status.VERIFIED, Status.MODIFIED):
        return status, SUMMARIES[status]
    # A favourable outcome needs the whole policy behind it, not just the absence of failures:
    # an empty or partial set of checks must not pass (a modified copy fails content_match by design).
    passed = {r.name for r in results if r.passed}
    needed = [n for n in REQUIRED_CHECKS if not (n == "content_match" and status is Status.MODIFIED)]
    missing = [n for n in needed if n not in passed]
    if missing:
        return Status.ERROR, f"{SUMMARIES[Status.ERROR]}: required checks did not run or pass: {', '.join(missing)}"
    return status, SUMMARIES[status]


def _status(results: list[CheckResult]) -> Status:
    failed = {r.fails_as for r in results if not r.passed and r.fails_as is not None}
    for status in PRECEDENCE:
        if status in failed:
            return status
    return Status.VERIFIED


def _reissue_history(ev: Evidence, deploy_block: int) -> list[dict]:
    """The revoked certificates this one replaced (the registry's `history`), oldest first, each with
    why it was revoked and why its re-issue was approved (from the token's events).

    Empty for a certificate never re-issued: one call. The chain's views, not the ledger, say it,
    so a verifier that never synced sees it too.
    """
    past = ev.registry.history(ev.token_id)
    if not past:
        return []
    try:
        notes = ev.registry.record_notes(ev.token_id, deploy_block)
    except Exception:  # noqa: BLE001 - a node refusing the log query loses the reasons, not the history
        notes = None
    revocations = [n for n in notes or [] if n.kind == "revoked"]
    approvals = [n for n in notes or [] if n.kind == "reissue_approved"]
    out = []
    for i, record in enumerate(past):
        entry = {
            "issuer": record.issuer, "owner": record.owner, "issued_at": record.issued_at,
            "label": record.label.text, "score": record.score_bps / 10_000, "revoked": record.revoked,
            "metadata_digest": record.metadata_digest.hex(),
        }
        # Record i was revoked by the i-th revocation, and re-issued on the last approval that came
        # after it and before the next revocation.
        revoked = revocations[i] if i < len(revocations) else None
        if revoked is not None:
            entry["revoked_by"], entry["revoke_reason"] = revoked.by, revoked.reason
        low = revoked.block_number if revoked is not None else 0
        high = revocations[i + 1].block_number if i + 1 < len(revocations) else float("inf")
        used = [a for a in approvals if low <= a.block_number <= high]
        if used:
            entry["reissue_approved_by"], entry["reissue_reason"] = used[-1].by, used[-1].reason
        out.append(entry)
    return out


def _reissue_note(reissued: list[dict]) -> CheckResult:
    """An informational line (it never changes the status): this certificate replaced revoked ones."""
    last = reissued[-1]
    why = f": revoked ({last['revoke_reason']})" if last.get("revoke_reason") else ""
    approved = f", re-issue approved by {last['reissue_approved_by']} ({last['reissue_reason']})" if last.get("reissue_approved_by") else ""
    return CheckResult(
        "reissue_history", True,
        f"re-issued: replaces {len(reissued)} revoked certificate(s) for this content; the last one was issued by "
        f"{last['issuer']} at {last['issued_at']}{why}{approved}",
        {"reissued_from": reissued},
    )


def _certificate_dict(ev: Evidence) -> dict | None:
    cert = ev.certificate
    if cert is None:
        return None
    out = {
        "token_id": cert.token_hex, "issuer": cert.issuer, "owner": cert.owner, "issued_at": cert.issued_at,
        "label": cert.label.text, "score": cert.score_bps / 10_000, "revoked": cert.revoked,
        "metadata_digest": cert.metadata_digest.hex(),
    }
    if ev.metadata is not None:  # read only once it hashed to the on-chain digest
        # Earlier verdicts, oldest first, each replaced by a re-attestation (`provenance reattest`).
        out["history"] = ev.metadata["provenance"].get("history", [])
    return out
