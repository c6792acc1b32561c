"""Verification of received media: checks, statuses and the report."""

from .report import EXIT_CODES, CheckResult, Status, VerificationReport
from .verifier import Verifier, parse_token

__all__ = ["EXIT_CODES", "CheckResult", "Status", "VerificationReport", "Verifier", "parse_token"]
