"""Verification checks, each a small policy that passes or fails with a reason.

The checks run in order over one `Evidence` value; each reads what earlier
ones established. A check that cannot run because an earlier one failed is not
run at all, and a report is never `verified` unless every one of
`REQUIRED_CHECKS` ran and passed (an empty policy fails).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property
from typing import Callable, Protocol

from ..chain import Certificate, OnChainLabel, Registry
from ..config import Settings
from ..hashing import PERCEPTUAL_MATCH_CAVEAT, ImageHashes, best_match, image_hashes
from ..hashing.frames import FrameHash, VideoHashes, video_distance
from ..ipfs import BlockMismatch, ContentStore, FetchLimits, IpfsError, NoIntactCopy, raw_cid_from_sha256
from ..media import MediaFile
from ..metadata import MAX_METADATA_BYTES, MetadataError, parse, recover_signer, signed_rendition
from ..verdicts import chain_verdict
from .report import CheckResult, Status


class QueryHashes:
    """Perceptual hashes of the received file, computed only if a check needs them."""

    def __init__(self, media: MediaFile):
        self._media = media

    @cached_property
    def image(self) -> ImageHashes:  # first frame for video
        return image_hashes(self._media.first_frame)

    @cached_property
    def frames(self) -> list[ImageHashes]:
        return [image_hashes(f) for f in self._media.frames] if self._media.kind == "video" else []


@dataclass
class Evidence:
    media: MediaFile
    query: QueryHashes
    token_id: int
    registry: Registry
    store: ContentStore
    settings: Settings
    chain_id: int
    contract: str
    rescan: Callable[[], dict] | None = None
    certificate: Certificate | None = None
    metadata: dict | None = None
    match: dict | None = None
    revoke_reason: str | None = None  # from the ledger's event index, when synced


class Check(Protocol):
    name: str

    def run(self, ev: Evidence) -> CheckResult: ...


def _ok(name: str, reason: str, **details) -> CheckResult:
    return CheckResult(name, True, reason, details)


def _fail(name: str, status: Status, reason: str, **details) -> CheckResult:
    return CheckResult(name, False, reason, details, fails_as=status)


class TokenExists:
    name = "token_exists"

    def run(self, ev: Evidence) -> CheckResult:
        ev.certificate = ev.registry.certificate(ev.token_id)
        if ev.certificate is None:
            return _fail(self.name, Status.NOT_FOUND, f"no certificate with token id {ev.token_id:#066x} on this deployment")
        return _ok(self.name, f"certificate found, issued at {ev.certificate.issued_at} by {ev.certificate.issuer}")


# Metadata is one raw block of at most MAX_METADATA_BYTES; a source may not take longer than this.
METADATA_LIMITS = FetchLimits(max_bytes=MAX_METADATA_BYTES, deadline_s=30.0)


class MetadataIntegrity:
    """The metadata fetched from IPFS hashes to the digest the chain stores."""

    name = "metadata_integrity"

    def run(self, ev: Evidence) -> CheckResult:
        digest = ev.certificate.metadata_digest
        cid = raw_cid_from_sha256(digest)
        uri = ev.registry.token_uri(ev.token_id)
        if uri != f"ipfs://{cid}":
            return _fail(self.name, Status.TAMPERED, f"tokenURI {uri} does not name the on-chain digest's CID {cid}")
        try:
            raw = ev.store.cat(cid, limits=METADATA_LIMITS)
        except BlockMismatch as exc:
            return _fail(self.name, Status.TAMPERED, f"metadata bytes in the store do not match the on-chain digest: {exc}", cid=cid)
        except NoIntactCopy as exc:
            # Garbled bytes from a gateway are not the metadata: they say nothing about the
            # certificate, so the outcome is 'could not be fetched', naming who lied.
            liars = f" (sent altered bytes: {', '.join(exc.mismatched)})" if exc.mismatched else ""
            return _fail(self.name, Status.ERROR, f"metadata {cid} could not be fetched intact{liars}: {exc}", cid=cid)
        except IpfsError as exc:
            return _fail(self.name, Status.ERROR, f"metadata {cid} could not be fetched: {exc}", cid=cid)
        if hashlib.sha256(raw).digest() != digest:
            return _fail(self.name, Status.TAMPERED, "metadata bytes do not hash to the on-chain digest", cid=cid)
        try:
            ev.metadata = parse(raw)
        except MetadataError as exc:
            return _fail(self.name, Status.TAMPERED, str(exc), cid=cid)
        return _ok(self.name, f"metadata {cid} hashes to the on-chain digest and fits the schema", cid=cid)


class IssuerSignature:
    name = "issuer_signature"

    def run(self, ev: Evidence) -> CheckResult:
        try:
            signer = recover_signer(ev.metadata)
        except MetadataError as exc:
            return _fail(self.name, Status.TAMPERED, str(exc))
        declared = ev.metadata["provenance"]["signature"]
        domain = declared["domain"]
        if int(domain["chainId"]) != ev.chain_id or domain["verifyingContract"].lower() != ev.contract.lower():
            return _fail(self.name, Status.TAMPERED, "the signature is bound to another chain or contract", domain=domain)
        if signer.lower() != ev.certificate.issuer.lower():
            return _fail(self.name, Status.TAMPERED, f"metadata signed by {signer}, but the chain names issuer {ev.certificate.issuer}")
        return _ok(self.name, f"EIP-712 signature by the issuer {signer} is valid")


class MetadataContentHash:
    name = "metadata_content_hash"

    def run(self, ev: Evidence) -> CheckResult:
        declared = ev.metadata["provenance"]["content"]["sha256"]
        if declared != ev.certificate.content_hash.hex():
            return _fail(self.name, Status.TAMPERED, f"metadata names content {declared[:16]}..., the chain {ev.certificate.content_hash.hex()[:16]}...")
        return _ok(self.name, "metadata and chain name the same content hash")


class VerdictBinding:
    """The verdict on chain is the one the issuer signed in the metadata.

    The registry's `reattest` takes the label and score as separate arguments
    from the metadata digest, so an issuer or an admin can change the on-chain
    verdict while the digest, and so the signed document, stays the same. The
    chain's copy is what indexers and wallets show; it must not say more than
    the signature covers.
    """

    name = "verdict_binding"

    def run(self, ev: Evidence) -> CheckResult:
        detection = ev.metadata["provenance"]["detection"]
        cert = ev.certificate
        on_chain = {"label": cert.label.text, "score_bps": cert.score_bps}
        try:
            label, score_bps = chain_verdict(detection)
        except (KeyError, TypeError, ValueError) as exc:  # the schema allows neither; a bad document still must not pass
            return _fail(self.name, Status.TAMPERED, f"the metadata's verdict cannot be read: {exc}", chain=on_chain)
        signed = {"label": detection["label"], "score": detection["score"], "score_bps": score_bps}
        details = {"chain": on_chain, "metadata": signed}
        if (label, score_bps) != (cert.label, cert.score_bps):
            return _fail(
                self.name, Status.TAMPERED,
                f"the chain records the verdict {cert.label.text} ({cert.score_bps / 10_000:.4f}), but the issuer's signed metadata"
                f" says {detection['label']} ({score_bps / 10_000:.4f}): the on-chain verdict was changed without new metadata",
                **details,
            )
        return _ok(self.name, f"the on-chain verdict {cert.label.text} ({cert.score_bps / 10_000:.4f}) is the signed one", **details)


class NotRevoked:
    name = "not_revoked"

    def run(self, ev: Evidence) -> CheckResult:
        if ev.certificate.revoked:
            reason = ev.revoke_reason
            return _fail(self.name, Status.REVOKED, "the certificate was revoked" + (f": {reason}" if reason else ""))
        return _ok(self.name, "the certificate is not revoked")


class IssuerTrusted:
    """Whose certificates you accept.

    With `trusted_issuers` set, that list is the whole policy: an issuer in it
    is trusted whether or not the registry's admin still grants it
    ISSUER_ROLE, and one outside it is not, whatever role it holds. The list is
    your trust root; the admin's grants are someone else's. Without a list,
    the registry's ISSUER_ROLE decides, as it stands now.
    """

    name = "issuer_trusted"

    def run(self, ev: Evidence) -> CheckResult:
        issuer = ev.certificate.issuer
        if ev.settings.trusted_issuers:
            return self._allowlist(ev, issuer, ev.settings.trusted_issuers)
        if ev.registry.is_issuer(issuer):
            return _ok(self.name, f"issuer {issuer} holds ISSUER_ROLE on the registry (no trusted_issuers list is set)")
        return _fail(
            self.name, Status.UNTRUSTED_ISSUER, f"issuer {issuer} no longer holds ISSUER_ROLE on the registry (no trusted_issuers list is set)"
        )

    def _allowlist(self, ev: Evidence, issuer: str, allowlist: tuple[str, ...]) -> CheckResult:
        if issuer.lower() not in {a.lower() for a in allowlist}:
            return _fail(
                self.name, Status.UNTRUSTED_ISSUER,
                f"issuer {issuer} is not in your trusted_issuers ({len(allowlist)} address(es));"
                " with a list set, holding ISSUER_ROLE on the registry is not enough",
            )
        role = "" if ev.registry.is_issuer(issuer) else "; it no longer holds ISSUER_ROLE on the registry, your list decides"
        return _ok(self.name, f"issuer {issuer} is in your trusted_issuers{role}")


class ContentMatch:
    """Exact sha256 match, else a perceptual match within the thresholds (never `verified`)."""

    name = "content_match"

    def run(self, ev: Evidence) -> CheckResult:
        if ev.media.sha256 == ev.certificate.content_hash.hex():
            ev.match = {"kind": "exact"}
            return _ok(self.name, "the file's sha256 equals the certified content hash (exact copy)")
        rendition = signed_rendition(ev.metadata, ev.media.sha256)
        if rendition is not None:  # e.g. the C2PA copy made at mint: its sha256 is in the signed metadata
            ev.match = {"kind": "rendition", **rendition}
            return _ok(self.name, f"the file's sha256 is a rendition the issuer signed for this content ({rendition.get('type', 'copy')})")
        perceptual = ev.metadata["provenance"]["perceptual"]
        thresholds = ev.settings.thresholds
        if ev.media.kind == "video" and perceptual.get("frames"):
            return self._video(ev, perceptual["frames"], thresholds.phash)
        reference = ImageHashes(perceptual["phash"], perceptual["pdq"], perceptual.get("pdq_quality", 0), (), ())
        match = best_match(ev.query.image, reference, thresholds.phash, thresholds.pdq)
        ev.match = {"kind": "perceptual", **match.to_dict()}
        if match.within_threshold:
            return _fail(
                self.name, Status.MODIFIED,
                f"not an exact copy; {match.hash_kind} distance {match.distance} <= {match.threshold}"
                f" ({match.transform}): a modified copy of the certified content",
                **match.to_dict(),
            )
        return _fail(
            self.name, Status.NOT_FOUND,
            f"the file is not the certified content ({match.hash_kind} distance {match.distance} > {match.threshold})",
            **match.to_dict(),
        )

    def _video(self, ev: Evidence, frames: list[dict], threshold: int) -> CheckResult:
        distance = video_distance(_as_video(ev.query.frames), _as_video(frames))
        ev.match = {"kind": "perceptual", "hash_kind": "phash_frames", "distance": distance, "threshold": threshold}
        if distance <= threshold:
            return _fail(self.name, Status.MODIFIED, f"not an exact copy; frame pHash distance {distance:g} <= {threshold}", **ev.match)
        return _fail(self.name, Status.NOT_FOUND, f"the video is not the certified content (frame distance {distance:g})", **ev.match)


def _as_video(frames) -> VideoHashes:
    """Sampled frame hashes as the hashing package's video value (times are not compared)."""
    rows = [f if isinstance(f, dict) else f.to_dict() for f in frames]
    return VideoHashes(0.0, tuple(FrameHash(0.0, r["phash"], r["pdq"], int(r.get("pdq_quality", 0))) for r in rows))


class Rescan:
    name = "rescan"

    def run(self, ev: Evidence) -> CheckResult:
        recorded = ev.metadata["provenance"]["detection"]
        fresh = ev.rescan()
        details = {"recorded": {"label": recorded["label"], "score": recorded["score"]}, "now": {"label": fresh["label"], "score": fresh["score"]}}
        if recorded["label"] == "unscanned":
            return _ok(self.name, f"no recorded verdict; the detectors now say {fresh['label']} ({fresh['score']:.3f})", **details)
        if fresh["label"] == recorded["label"]:
            return _ok(self.name, f"detectors agree with the recorded verdict {recorded['label']}", **details)
        return CheckResult(self.name, False, f"detectors now say {fresh['label']} ({fresh['score']:.3f}), the certificate says {recorded['label']}", details)


def default_checks(rescan: bool) -> list[Check]:
    checks: list[Check] = [
        TokenExists(), MetadataIntegrity(), IssuerSignature(), MetadataContentHash(), VerdictBinding(),
        NotRevoked(), IssuerTrusted(), ContentMatch(),
    ]
    if rescan:
        checks.append(Rescan())
    return checks


# A report is `verified` (or `modified`) only if each of these ran and passed
# (`content_match` aside for `modified`). Listing them, rather than trusting
# whatever checks happened to run, makes a policy that skips one, or runs
# none, fail instead of pass.
REQUIRED_CHECKS = (
    "token_exists", "metadata_integrity", "issuer_signature", "metadata_content_hash", "verdict_binding",
    "not_revoked", "issuer_trusted", "content_match",
)


__all__ = ["Check", "Evidence", "REQUIRED_CHECKS", "chain_verdict", "default_checks", "PERCEPTUAL_MATCH_CAVEAT"]
