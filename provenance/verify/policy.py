"""Composing checks, and the one status their results come to.

A policy judges one subject and returns a `CheckResult`: passed, or failed with
a reason and the status that failure means. Policies are composed explicitly,
as sigstore-python composes its verification policies:

- `AllOf`: each in order, stopping at the first failure (the later ones judge
  what an earlier one vouched for, so after a failure they have nothing sound
  to judge);
- `EachOf`: every one, whatever the others found (independent questions, each
  worth reporting).

Either one, empty, fails: a policy that checks nothing vouches for nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, Protocol, Sequence, TypeVar

from .report import CheckResult, Status

S = TypeVar("S", contravariant=True)
T = TypeVar("T")


class Policy(Protocol[S]):
    """One check: built with what it needs beyond the subject, it judges the subject."""

    name: str

    def check(self, subject: S) -> CheckResult: ...


@dataclass(frozen=True)
class Judgement:
    """The results of a composed policy, in the order they ran."""

    results: tuple[CheckResult, ...]

    @property
    def passed(self) -> bool:
        return bool(self.results) and all(r.passed for r in self.results)


EMPTY_POLICY = "policy"


def _empty(kind: str) -> Judgement:
    reason = f"an empty {kind} checks nothing, so it vouches for nothing"
    return Judgement((CheckResult(EMPTY_POLICY, False, reason, fails_as=Status.ERROR),))


class AllOf(Generic[T]):
    """Every policy must pass; judged in order, stopping at the first failure."""

    def __init__(self, *policies: Policy[T]):
        self.policies = policies

    def judge(self, subject: T) -> Judgement:
        if not self.policies:
            return _empty("AllOf")
        results: list[CheckResult] = []
        for policy in self.policies:
            results.append(policy.check(subject))
            if not results[-1].passed:
                break
        return Judgement(tuple(results))


class EachOf(Generic[T]):
    """Every policy must pass; each is judged and reported, whatever the others found."""

    def __init__(self, *policies: Policy[T]):
        self.policies = policies

    def judge(self, subject: T) -> Judgement:
        if not self.policies:
            return _empty("EachOf")
        return Judgement(tuple(policy.check(subject) for policy in self.policies))


# Which failure decides the status when several checks fail: the gravest first.
PRECEDENCE = (Status.ERROR, Status.TAMPERED, Status.NOT_FOUND, Status.REVOKED, Status.UNTRUSTED_ISSUER, Status.MODIFIED)

SUMMARIES = {
    Status.VERIFIED: "exact copy of certified content; chain, metadata and signature agree",
    Status.MODIFIED: "a modified copy of certified content (perceptual match, not proof of identity)",
    Status.NOT_FOUND: "no certificate covers this file",
    Status.REVOKED: "the certificate for this content was revoked",
    Status.TAMPERED: "chain, metadata and content disagree: do not trust this certificate",
    Status.UNTRUSTED_ISSUER: "certified by an issuer you do not trust",
    Status.ERROR: "could not be verified",
}


def outcome(results: Sequence[CheckResult], required: Sequence[str]) -> tuple[Status, str]:
    """The status and its summary: the gravest failure, else a favourable one only if every required check ran.

    A favourable outcome (`verified`, `modified`) needs the whole policy behind it, not just the
    absence of failures, so a composition that leaves a required check out cannot pass. A
    required check counts if it passed, or failed as no worse than `modified` (a modified copy
    fails the content comparison by design).
    """
    status = status_of(results)
    if status not in (Status.VERIFIED, Status.MODIFIED):
        return status, SUMMARIES[status]
    covered = {r.name for r in results if r.passed or r.fails_as is Status.MODIFIED}
    missing = [name for name in required if name not in covered]
    if missing:
        return Status.ERROR, f"{SUMMARIES[Status.ERROR]}: required checks did not run or pass: {', '.join(missing)}"
    return status, SUMMARIES[status]


def status_of(results: Sequence[CheckResult]) -> Status:
    """The gravest status any failed result stands for (see PRECEDENCE); `verified` if none."""
    failed = {r.fails_as for r in results if not r.passed and r.fails_as is not None}
    return next((status for status in PRECEDENCE if status in failed), Status.VERIFIED)
