"""What verification returns: one status per file and the checks behind it."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from ..config import redact_secrets


class Status(str, Enum):
    VERIFIED = "verified"  # exact copy of certified content, every check passed
    MODIFIED = "modified"  # perceptual match of certified content
    NOT_FOUND = "not_found"  # no certificate covers this file
    REVOKED = "revoked"
    TAMPERED = "tampered"  # chain, metadata and content disagree
    UNTRUSTED_ISSUER = "untrusted_issuer"
    ERROR = "error"  # the file or a needed service could not be read

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self]


EXIT_CODES = {
    Status.VERIFIED: 0,
    Status.ERROR: 1,
    Status.MODIFIED: 3,
    Status.NOT_FOUND: 4,
    Status.REVOKED: 5,
    Status.UNTRUSTED_ISSUER: 6,
    Status.TAMPERED: 7,
}


@dataclass(frozen=True)
class CheckResult:
    """One check's outcome: passed, or failed with a human reason."""

    name: str
    passed: bool
    reason: str
    details: dict = field(default_factory=dict)
    # A failure of this check means the status below (e.g. tampered, revoked).
    fails_as: Status | None = None

    def __post_init__(self) -> None:
        # Reasons quote client errors, which name the endpoint they failed on, and a
        # configured endpoint may carry a password (http://user:pass@host): mask it
        # here, so no output path (JSON, the table, a log) can show it.
        object.__setattr__(self, "reason", redact_secrets(self.reason))
        object.__setattr__(self, "details", _scrubbed(self.details))

    def to_dict(self) -> dict:
        out = {"check": self.name, "passed": self.passed, "reason": self.reason}
        if self.details:
            out["details"] = self.details
        if self.fails_as is not None:  # what its failure means, so a reader (the web page) needs no check names
            out["fails_as"] = self.fails_as.value
        return out


@dataclass
class Candidate:
    token_id: str
    found_by: str  # "token", "content_hash" or "perceptual"
    distance: int | None = None
    hash_kind: str | None = None

    def to_dict(self) -> dict:
        return {k: v for k, v in vars(self).items() if v is not None}


@dataclass
class VerificationReport:
    file: str
    status: Status
    summary: str
    content_sha256: str | None = None
    token_id: str | None = None
    checks: list[CheckResult] = field(default_factory=list)
    candidates: list[Candidate] = field(default_factory=list)
    match: dict | None = None
    caveat: str | None = None
    certificate: dict | None = None
    # The file's C2PA manifest, reported beside the status and never changing it (provenance/c2pa).
    c2pa: dict | None = None

    def __post_init__(self) -> None:
        self.summary = redact_secrets(self.summary)  # e.g. "lookup failed: <client error>"

    def to_dict(self) -> dict:
        out = {
            "file": self.file,
            "status": self.status.value,
            "summary": self.summary,
            "content_sha256": self.content_sha256,
            "token_id": self.token_id,
            "checks": [c.to_dict() for c in self.checks],
            "candidates": [c.to_dict() for c in self.candidates],
        }
        for key in ("match", "caveat", "certificate", "c2pa"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        return out


def _scrubbed(value):
    """`value` with the credentials of every URL in its strings masked, at any depth."""
    if isinstance(value, str):
        return redact_secrets(value)
    if isinstance(value, dict):
        return {k: _scrubbed(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_scrubbed(v) for v in value)
    return value
