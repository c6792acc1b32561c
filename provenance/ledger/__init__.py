"""The ledger database: mint and re-attestation jobs, certificates and the index of chain events."""

from .models import CertificateRow, ChainEvent, JobState, MintJob, ReattestJob
from .store import Ledger, LedgerError

__all__ = ["CertificateRow", "ChainEvent", "JobState", "Ledger", "LedgerError", "MintJob", "ReattestJob"]
