"""The ledger database: mint jobs, certificates and the index of chain events."""

from .models import CertificateRow, ChainEvent, JobState, MintJob
from .store import Ledger, LedgerError

__all__ = ["CertificateRow", "ChainEvent", "JobState", "Ledger", "LedgerError", "MintJob"]
