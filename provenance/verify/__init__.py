"""Verification of received media: checks, statuses and the report.

`Verifier` lives in `provenance.verify.verifier`; this package root stays light
so the CLI can show statuses and exit codes without loading the hashing stack.
"""

from .report import EXIT_CODES, CheckResult, Status, VerificationReport

__all__ = ["EXIT_CODES", "CheckResult", "Status", "VerificationReport"]
