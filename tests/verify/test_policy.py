"""Verification checks as policies: composition, the status their results come to, and each check's judgement.

These are the pure parts of verify (no chain, no store): each check is given a typed subject and its own
inputs and returns passed or failed with a reason. The whole flow against real parts is
tests/pipeline/test_status_matrix.py.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from provenance.chain import Certificate, OnChainLabel
from provenance.hashing import PerceptualMatch
from provenance.verify.checks import (
    REQUIRED_CHECKS,
    Certified,
    ContentMatch,
    IssuerTrusted,
    MetadataContentHash,
    NotRevoked,
    Rescan,
    VerdictBinding,
    integrity_policy,
    standing_policy,
)
from provenance.verify.content import Exact, NearImage, NearVideo, Rendition
from provenance.verify.policy import AllOf, EachOf, outcome, status_of
from provenance.verify.report import CheckResult, Status

ISSUER = "0x8ba1f109551bD432803012645Ac136ddd64DBA72"
OTHER = "0x000000000000000000000000000000000000dEaD"
CONTENT = hashlib.sha256(b"certified content").digest()


def certified(*, revoked=False, label=OnChainLabel.LIKELY_AUTHENTIC, score_bps=1234, content=CONTENT, detection=None) -> Certified:
    cert = Certificate(
        token_id=int.from_bytes(CONTENT, "big"),
        content_hash=content,
        metadata_digest=b"\1" * 32,
        issuer=ISSUER,
        issued_at=1_796_425_881,
        label=label,
        score_bps=score_bps,
        revoked=revoked,
        owner=OTHER,
    )
    metadata = {
        "provenance": {
            "content": {"sha256": CONTENT.hex()},
            "detection": detection or {"label": "likely_authentic", "score": 0.1234},
        }
    }
    return Certified(cert.token_id, cert, metadata)


class Fixed:
    """A policy with a set outcome, counting its calls (to see what a composition ran)."""

    def __init__(self, name: str, status: Status | None = None):
        self.name, self.status, self.calls = name, status, 0

    def check(self, subject) -> CheckResult:
        self.calls += 1
        if self.status is None:
            return CheckResult(self.name, True, "fine")
        return CheckResult(self.name, False, "not fine", fails_as=self.status)


def passing(*names: str) -> list[CheckResult]:
    return [CheckResult(n, True, "fine") for n in names]


# ---- composition ----


@pytest.mark.parametrize("composite", [AllOf, EachOf])
def test_an_empty_composition_fails(composite):
    judged = composite().judge(certified())
    assert not judged.passed
    (result,) = judged.results
    assert not result.passed and result.fails_as is Status.ERROR and "vouches for nothing" in result.reason


def test_all_of_stops_at_the_first_failure():
    first, second, third = Fixed("a"), Fixed("b", Status.TAMPERED), Fixed("c")
    judged = AllOf(first, second, third).judge(certified())
    assert [r.name for r in judged.results] == ["a", "b"] and not judged.passed
    assert (first.calls, second.calls, third.calls) == (1, 1, 0)


def test_each_of_reports_every_policy_whatever_the_others_found():
    policies = [Fixed("a", Status.REVOKED), Fixed("b", Status.UNTRUSTED_ISSUER), Fixed("c")]
    judged = EachOf(*policies).judge(certified())
    assert [r.name for r in judged.results] == ["a", "b", "c"] and not judged.passed
    assert all(p.calls == 1 for p in policies)


def test_a_composition_passes_only_if_each_member_passed():
    assert AllOf(Fixed("a"), Fixed("b")).judge(certified()).passed
    assert EachOf(Fixed("a"), Fixed("b")).judge(certified()).passed


def test_integrity_policy_stops_after_a_tampered_content_hash():
    other = hashlib.sha256(b"something else").digest()
    judged = integrity_policy(31337, OTHER).judge(certified(content=other))
    # The signature fails first here (the metadata carries none): nothing after it is judged.
    assert [r.name for r in judged.results] == ["issuer_signature"]
    assert judged.results[0].fails_as is Status.TAMPERED


# ---- the status the results come to ----


@pytest.mark.parametrize(
    "failures, expected",
    [
        ([Status.REVOKED, Status.UNTRUSTED_ISSUER], Status.REVOKED),
        ([Status.MODIFIED, Status.REVOKED], Status.REVOKED),
        ([Status.NOT_FOUND, Status.TAMPERED], Status.TAMPERED),
        ([Status.TAMPERED, Status.ERROR], Status.ERROR),
        ([Status.MODIFIED, Status.UNTRUSTED_ISSUER], Status.UNTRUSTED_ISSUER),
        ([Status.MODIFIED], Status.MODIFIED),
        ([], Status.VERIFIED),
    ],
)
def test_the_gravest_failure_decides_whatever_the_order(failures, expected):
    results = [CheckResult(f"c{i}", False, "x", fails_as=s) for i, s in enumerate(failures)]
    assert status_of(results) is expected
    assert status_of(list(reversed(results))) is expected


def test_every_required_check_passing_is_verified():
    status, summary = outcome(passing(*REQUIRED_CHECKS), REQUIRED_CHECKS)
    assert status is Status.VERIFIED and "exact copy" in summary


def test_a_required_check_that_did_not_run_makes_it_an_error():
    results = passing(*(n for n in REQUIRED_CHECKS if n != "issuer_trusted"))
    status, summary = outcome(results, REQUIRED_CHECKS)
    assert status is Status.ERROR and "issuer_trusted" in summary


def test_no_results_at_all_are_an_error():
    assert outcome([], REQUIRED_CHECKS)[0] is Status.ERROR


def test_a_modified_copy_needs_every_other_check_passed():
    near = CheckResult("content_match", False, "near", fails_as=Status.MODIFIED)
    others = [n for n in REQUIRED_CHECKS if n != "content_match"]
    assert outcome([*passing(*others), near], REQUIRED_CHECKS)[0] is Status.MODIFIED
    assert outcome([*passing(*others[1:]), near], REQUIRED_CHECKS)[0] is Status.ERROR


def test_an_informational_failure_never_changes_the_status():
    disagree = CheckResult("rescan", False, "detectors now say otherwise")  # no status of its own
    assert outcome([*passing(*REQUIRED_CHECKS), disagree], REQUIRED_CHECKS)[0] is Status.VERIFIED


# ---- each check, given what it needs ----


def test_not_revoked_names_the_reason_when_known():
    assert NotRevoked().check(certified()).passed
    result = NotRevoked("issued in error").check(certified(revoked=True))
    assert result.fails_as is Status.REVOKED and result.reason.endswith(": issued in error")
    assert NotRevoked().check(certified(revoked=True)).reason == "the certificate was revoked"


def test_issuer_trusted_by_role_when_no_list_is_set():
    assert IssuerTrusted(lambda a: a == ISSUER, ()).check(certified()).passed
    assert IssuerTrusted(lambda a: False, ()).check(certified()).fails_as is Status.UNTRUSTED_ISSUER


def test_a_trusted_issuers_list_is_the_whole_policy():
    # In the list (any case), trusted without the role; outside it, untrusted with the role.
    in_list = IssuerTrusted(lambda a: False, (ISSUER.lower(),)).check(certified())
    assert in_list.passed and "your list decides" in in_list.reason
    outside = IssuerTrusted(lambda a: True, (OTHER,)).check(certified())
    assert outside.fails_as is Status.UNTRUSTED_ISSUER and "not enough" in outside.reason


def test_metadata_content_hash_must_name_the_chains_content():
    assert MetadataContentHash().check(certified()).passed
    other = hashlib.sha256(b"x").digest()
    assert MetadataContentHash().check(certified(content=other)).fails_as is Status.TAMPERED


def test_verdict_binding_fails_when_the_chain_says_more_than_the_signature():
    assert VerdictBinding().check(certified()).passed
    changed = VerdictBinding().check(certified(label=OnChainLabel.LIKELY_MANIPULATED, score_bps=9000))
    assert changed.fails_as is Status.TAMPERED and changed.details["chain"]["label"] == "likely_manipulated"
    unreadable = VerdictBinding().check(certified(detection={"label": "likely_authentic"}))
    assert unreadable.fails_as is Status.TAMPERED and "cannot be read" in unreadable.reason


@pytest.mark.parametrize(
    "comparison, status",
    [
        (Exact(), None),
        (Rendition({"kind": "c2pa", "sha256": "ab" * 32}), None),
        (NearImage(PerceptualMatch("phash", "identity", 4, 10)), Status.MODIFIED),
        (NearImage(PerceptualMatch("pdq", "rot90", 60, 31)), Status.NOT_FOUND),
        (NearVideo(3.5, 10), Status.MODIFIED),
        (NearVideo(20.0, 10), Status.NOT_FOUND),
    ],
)
def test_content_match_judges_the_comparison(comparison, status):
    result = ContentMatch(comparison).check(certified())
    assert result.passed is (status is None) and result.fails_as is status


def test_a_perceptual_match_reports_its_distance_and_section():
    near = NearImage(PerceptualMatch("phash", "mirror", 4, 10))
    result = ContentMatch(near).check(certified())
    assert result.details == {"hash_kind": "phash", "transform": "mirror", "distance": 4, "threshold": 10, "within_threshold": True}
    assert near.section()["kind"] == "perceptual" and Exact().section() == {"kind": "exact"}


def test_rescan_reports_a_disagreement_without_a_status():
    agree = Rescan(lambda: {"label": "likely_authentic", "score": 0.2}).check(certified())
    assert agree.passed
    disagree = Rescan(lambda: {"label": "likely_manipulated", "score": 0.9}).check(certified())
    assert not disagree.passed and disagree.fails_as is None
    assert disagree.details["now"] == {"label": "likely_manipulated", "score": 0.9}


def test_standing_policy_runs_rescan_only_when_asked():
    names = [r.name for r in standing_policy(None, lambda a: True, (), Exact()).judge(certified()).results]
    assert names == ["not_revoked", "issuer_trusted", "content_match"]
    scan = standing_policy(None, lambda a: True, (), Exact(), scan=lambda: {"label": "likely_authentic", "score": 0.1})
    assert [r.name for r in scan.judge(certified()).results][-1] == "rescan"


def test_no_check_is_special_cased_by_its_name_outside_the_checks():
    """Only provenance/verify/checks.py spells a check's name; the verifier, report, CLI and web page go by results and statuses."""
    root = Path(__file__).resolve().parents[2]
    sources = [
        *sorted((root / "provenance" / "verify").rglob("*.py")),
        *sorted((root / "cli").rglob("*.py")),
        *sorted((root / "provenance" / "server").rglob("*.py")),
        *sorted((root / "provenance" / "server" / "templates").rglob("*.html")),
        *sorted((root / "provenance" / "server" / "static").rglob("*.js")),
    ]
    named = {}
    for path in sources:
        if path.name == "checks.py" and path.parent.name == "verify":
            continue
        text = path.read_text()
        for name in REQUIRED_CHECKS:
            if re.search(rf"""["']{name}["']""", text):
                named.setdefault(name, []).append(str(path.relative_to(root)))
    assert named == {}
