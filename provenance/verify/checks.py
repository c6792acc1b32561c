"""The verification checks: each judges one thing and passes, or fails with a reason and a status.

Two readers first establish what the checks judge: `read_certificate` (the
chain's record of the token) and `read_metadata` (the metadata it names,
fetched and hashed to the on-chain digest). Together they make a `Certified`
value, which no check can change. Every check after them is a policy
(`policy.Policy`): built with what it needs beyond that value (a deployment, an
allowlist, the comparison of the received file), it judges the value.
`integrity_policy` and `standing_policy` compose them; `verifier.py` runs them
in that order.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Callable, Generic, TypeVar

from ..chain import Certificate
from ..chain.registry import TokenRecord
from ..ipfs import BlockMismatch, ContentStore, FetchLimits, IpfsError, NoIntactCopy, raw_cid_from_sha256
from ..metadata import MAX_METADATA_BYTES, MetadataError, parse, recover_signer
from ..times import iso_utc
from ..verdicts import chain_verdict
from .content import Comparison, Exact, NearVideo, Rendition
from .policy import AllOf, EachOf, Policy
from .report import CheckResult, Status

T = TypeVar("T")


@dataclass(frozen=True)
class Certified:
    """What the checks judge: a token, the chain's record of it and the metadata that record names.

    `metadata` is only ever set from bytes that hashed to the on-chain digest and fit the schema.
    """

    token_id: int
    certificate: Certificate
    metadata: dict


@dataclass(frozen=True)
class Read(Generic[T]):
    """A reader's outcome: its check result, and the value it read when that passed."""

    result: CheckResult
    value: T | None = None


def _ok(name: str, reason: str, **details) -> CheckResult:
    return CheckResult(name, True, reason, details)


def _fail(name: str, status: Status, reason: str, **details) -> CheckResult:
    return CheckResult(name, False, reason, details, fails_as=status)


TOKEN_EXISTS = "token_exists"
METADATA_INTEGRITY = "metadata_integrity"

# Metadata is one raw block of at most MAX_METADATA_BYTES; a source may not take longer than this.
METADATA_LIMITS = FetchLimits(max_bytes=MAX_METADATA_BYTES, deadline_s=30.0)


def read_certificate(record: TokenRecord, token_id: int) -> Read[Certificate]:
    """The chain's record of the token (`Registry.record`, read fresh for every verification)."""
    certificate = record.certificate
    if certificate is None:
        return Read(_fail(TOKEN_EXISTS, Status.NOT_FOUND, f"no certificate with token id {token_id:#066x} on this deployment"))
    return Read(_ok(TOKEN_EXISTS, f"certificate found, issued at {iso_utc(certificate.issued_at)} by {certificate.issuer}"), certificate)


def read_metadata(record: TokenRecord, store: ContentStore, certificate: Certificate) -> Read[dict]:
    """The metadata fetched from IPFS, if it hashes to the digest the chain stores and fits the schema.

    `record` is the same read of the chain as `certificate` (its tokenURI came in the same batch).
    """
    name = METADATA_INTEGRITY
    digest = certificate.metadata_digest
    cid = raw_cid_from_sha256(digest)
    uri = record.token_uri
    if uri != f"ipfs://{cid}":
        return Read(_fail(name, Status.TAMPERED, f"tokenURI {uri} does not name the on-chain digest's CID {cid}"))
    try:
        raw = store.cat(cid, limits=METADATA_LIMITS)
    except BlockMismatch as exc:
        return Read(_fail(name, Status.TAMPERED, f"metadata bytes in the store do not match the on-chain digest: {exc}", cid=cid))
    except NoIntactCopy as exc:
        # Garbled bytes from a gateway are not the metadata: they say nothing about the
        # certificate, so the outcome is 'could not be fetched', naming who lied.
        liars = f" (sent altered bytes: {', '.join(exc.mismatched)})" if exc.mismatched else ""
        return Read(_fail(name, Status.ERROR, f"metadata {cid} could not be fetched intact{liars}: {exc}", cid=cid))
    except IpfsError as exc:
        return Read(_fail(name, Status.ERROR, f"metadata {cid} could not be fetched: {exc}", cid=cid))
    if hashlib.sha256(raw).digest() != digest:
        return Read(_fail(name, Status.TAMPERED, "metadata bytes do not hash to the on-chain digest", cid=cid))
    try:
        metadata = parse(raw)
    except MetadataError as exc:
        return Read(_fail(name, Status.TAMPERED, str(exc), cid=cid))
    return Read(_ok(name, f"metadata {cid} hashes to the on-chain digest and fits the schema", cid=cid), metadata)


# ---- integrity: the metadata is the issuer's word about this content, for this deployment ----


class IssuerSignature:
    name = "issuer_signature"

    def __init__(self, chain_id: int, contract: str):
        self.chain_id = chain_id
        self.contract = contract

    def check(self, subject: Certified) -> CheckResult:
        try:
            signer = recover_signer(subject.metadata)
        except MetadataError as exc:
            return _fail(self.name, Status.TAMPERED, str(exc))
        domain = subject.metadata["provenance"]["signature"]["domain"]
        if int(domain["chainId"]) != self.chain_id or domain["verifyingContract"].lower() != self.contract.lower():
            return _fail(self.name, Status.TAMPERED, "the signature is bound to another chain or contract", domain=domain)
        issuer = subject.certificate.issuer
        if signer.lower() != issuer.lower():
            return _fail(self.name, Status.TAMPERED, f"metadata signed by {signer}, but the chain names issuer {issuer}")
        return _ok(self.name, f"EIP-712 signature by the issuer {signer} is valid")


class MetadataContentHash:
    name = "metadata_content_hash"

    def check(self, subject: Certified) -> CheckResult:
        declared = subject.metadata["provenance"]["content"]["sha256"]
        on_chain = subject.certificate.content_hash.hex()
        if declared != on_chain:
            return _fail(self.name, Status.TAMPERED, f"metadata names content {declared[:16]}..., the chain {on_chain[:16]}...")
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

    def check(self, subject: Certified) -> CheckResult:
        detection = subject.metadata["provenance"]["detection"]
        cert = subject.certificate
        on_chain = {"label": cert.label.text, "score_bps": cert.score_bps}
        try:
            label, score_bps = chain_verdict(detection)
        except (KeyError, TypeError, ValueError) as exc:  # the schema allows neither; a bad document still must not pass
            return _fail(self.name, Status.TAMPERED, f"the metadata's verdict cannot be read: {exc}", chain=on_chain)
        signed = {"label": detection["label"], "score": detection["score"], "score_bps": score_bps}
        details = {"chain": on_chain, "metadata": signed}
        if (label, score_bps) != (cert.label, cert.score_bps):
            return _fail(
                self.name,
                Status.TAMPERED,
                f"the chain records the verdict {cert.label.text} ({cert.score_bps / 10_000:.4f}), but the issuer's signed metadata"
                f" says {detection['label']} ({score_bps / 10_000:.4f}): the on-chain verdict was changed without new metadata",
                **details,
            )
        return _ok(self.name, f"the on-chain verdict {cert.label.text} ({cert.score_bps / 10_000:.4f}) is the signed one", **details)


# ---- standing: independent questions about a sound certificate ----


class NotRevoked:
    name = "not_revoked"

    def __init__(self, revoke_reason: str | None = None):
        self.revoke_reason = revoke_reason  # from the ledger's event index, when synced

    def check(self, subject: Certified) -> CheckResult:
        if subject.certificate.revoked:
            why = f": {self.revoke_reason}" if self.revoke_reason else ""
            return _fail(self.name, Status.REVOKED, "the certificate was revoked" + why)
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

    def __init__(self, holds_role: Callable[[str], bool], trusted_issuers: tuple[str, ...]):
        self.holds_role = holds_role  # the registry's ISSUER_ROLE, asked now
        self.trusted_issuers = trusted_issuers

    def check(self, subject: Certified) -> CheckResult:
        issuer = subject.certificate.issuer
        allowlist = self.trusted_issuers
        if not allowlist:
            if self.holds_role(issuer):
                return _ok(self.name, f"issuer {issuer} holds ISSUER_ROLE on the registry (no trusted_issuers list is set)")
            return _fail(
                self.name,
                Status.UNTRUSTED_ISSUER,
                f"issuer {issuer} no longer holds ISSUER_ROLE on the registry (no trusted_issuers list is set)",
            )
        if issuer.lower() not in {a.lower() for a in allowlist}:
            return _fail(
                self.name,
                Status.UNTRUSTED_ISSUER,
                f"issuer {issuer} is not in your trusted_issuers ({len(allowlist)} address(es));"
                " with a list set, holding ISSUER_ROLE on the registry is not enough",
            )
        role = "" if self.holds_role(issuer) else "; it no longer holds ISSUER_ROLE on the registry, your list decides"
        return _ok(self.name, f"issuer {issuer} is in your trusted_issuers{role}")


class ContentMatch:
    """The file is the certified content: its exact bytes or a signed rendition; a perceptual match is never `verified`."""

    name = "content_match"

    def __init__(self, comparison: Comparison):
        self.comparison = comparison

    def check(self, subject: Certified) -> CheckResult:
        found = self.comparison
        if isinstance(found, Exact):
            return _ok(self.name, "the file's sha256 equals the certified content hash (exact copy)")
        if isinstance(found, Rendition):  # e.g. the C2PA copy made at mint: its sha256 is in the signed metadata
            return _ok(
                self.name,
                f"the file's sha256 is a rendition the issuer signed for this content ({found.entry.get('type', 'unnamed')} copy)",
            )
        if isinstance(found, NearVideo):
            details = found.section()
            if found.within_threshold:
                return _fail(
                    self.name,
                    Status.MODIFIED,
                    f"not an exact copy; frame pHash distance {found.distance:g} <= {found.threshold}",
                    **details,
                )
            return _fail(
                self.name, Status.NOT_FOUND, f"the video is not the certified content (frame distance {found.distance:g})", **details
            )
        match = found.match
        if match.within_threshold:
            return _fail(
                self.name,
                Status.MODIFIED,
                f"not an exact copy; {match.hash_kind} distance {match.distance} <= {match.threshold}"
                f" ({match.transform}): a modified copy of the certified content",
                **match.to_dict(),
            )
        return _fail(
            self.name,
            Status.NOT_FOUND,
            f"the file is not the certified content ({match.hash_kind} distance {match.distance} > {match.threshold})",
            **match.to_dict(),
        )


class Rescan:
    """The detectors' verdict now, beside the recorded one; a disagreement is reported, never a status."""

    name = "rescan"

    def __init__(self, scan: Callable[[], dict]):
        self.scan = scan

    def check(self, subject: Certified) -> CheckResult:
        recorded = subject.metadata["provenance"]["detection"]
        fresh = self.scan()
        details = {
            "recorded": {"label": recorded["label"], "score": recorded["score"]},
            # The whole fresh verdict (detectors, faces and their boxes): the page and --html draw it.
            "now": dict(fresh),
        }
        if recorded["label"] == "unscanned":
            return _ok(self.name, f"no recorded verdict; the detectors now say {fresh['label']} ({fresh['score']:.3f})", **details)
        if fresh["label"] == recorded["label"]:
            return _ok(self.name, f"detectors agree with the recorded verdict {recorded['label']}", **details)
        return CheckResult(
            self.name,
            False,
            f"detectors now say {fresh['label']} ({fresh['score']:.3f}), the certificate says {recorded['label']}",
            details,
        )


def integrity_policy(chain_id: int, contract: str) -> AllOf[Certified]:
    """Signed by the chain's issuer for this deployment, about the chain's content, with the chain's verdict.

    In order, stopping at the first failure: after one, the metadata is not the issuer's sound word.
    """
    return AllOf(IssuerSignature(chain_id, contract), MetadataContentHash(), VerdictBinding())


def standing_policy(
    revoke_reason: str | None,
    holds_role: Callable[[str], bool],
    trusted_issuers: tuple[str, ...],
    comparison: Comparison,
    scan: Callable[[], dict] | None = None,
) -> EachOf[Certified]:
    """Not revoked, issued by someone you trust, about this file (and, asked for, the detectors now): each reported."""
    policies: list[Policy[Certified]] = [NotRevoked(revoke_reason), IssuerTrusted(holds_role, trusted_issuers), ContentMatch(comparison)]
    if scan is not None:
        policies.append(Rescan(scan))
    return EachOf(*policies)


# A report is `verified` (or `modified`) only if each of these ran and passed (see policy.outcome).
# Listing them, rather than trusting whatever checks happened to run, makes a composition that
# leaves one out, or checks nothing, fail instead of pass.
REQUIRED_CHECKS = (
    TOKEN_EXISTS,
    METADATA_INTEGRITY,
    IssuerSignature.name,
    MetadataContentHash.name,
    VerdictBinding.name,
    NotRevoked.name,
    IssuerTrusted.name,
    ContentMatch.name,
)

__all__ = [
    "Certified",
    "ContentMatch",
    "IssuerSignature",
    "IssuerTrusted",
    "MetadataContentHash",
    "NotRevoked",
    "REQUIRED_CHECKS",
    "Read",
    "Rescan",
    "VerdictBinding",
    "integrity_policy",
    "read_certificate",
    "read_metadata",
    "standing_policy",
]
