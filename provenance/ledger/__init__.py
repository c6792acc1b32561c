"""The ledger database: mint and re-attestation jobs, certificates and the index of chain events."""

from .models import CertificateRow, ChainEvent, DeploymentRow, JobState, MintJob, ReattestJob, SyncState
from .store import Ledger, LedgerError

__all__ = [
    "CertificateRow",
    "ChainEvent",
    "DeploymentRow",
    "JobState",
    "Ledger",
    "LedgerError",
    "MintJob",
    "ReattestJob",
    "SyncState",
]
