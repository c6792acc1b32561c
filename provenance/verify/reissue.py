"""The revoked certificates a certificate replaced: an informational line of the report, never a status."""

from __future__ import annotations

from ..chain import Certificate, Registry
from ..times import iso_utc
from .report import CheckResult

REISSUE_HISTORY = "reissue_history"


def reissue_history(registry: Registry, token_id: int, deploy_block: int, past: list[Certificate] | None = None) -> list[dict]:
    """The revoked certificates this one replaced (the registry's `history`), oldest first, each with
    why it was revoked and why its re-issue was approved (from the token's events).

    Empty for a certificate never re-issued: one call (none when `past`, the registry's history
    read with the certificate, is given). The chain's views, not the ledger, say it, so a verifier
    that never synced sees it too.
    """
    if past is None:
        past = registry.history(token_id)
    if not past:
        return []
    try:
        notes = registry.record_notes(token_id, deploy_block)
    except Exception:  # noqa: BLE001 - a node refusing the log query loses the reasons, not the history
        notes = None
    revocations = [n for n in notes or [] if n.kind == "revoked"]
    approvals = [n for n in notes or [] if n.kind == "reissue_approved"]
    out = []
    for i, record in enumerate(past):
        entry = record.record_fields()
        # Record i was revoked by the i-th revocation, and re-issued on the last approval that came
        # after it and before the next revocation.
        revoked = revocations[i] if i < len(revocations) else None
        if revoked is not None:
            entry["revoked_by"], entry["revoke_reason"] = revoked.by, revoked.reason
        low = revoked.block_number if revoked is not None else 0
        high = revocations[i + 1].block_number if i + 1 < len(revocations) else float("inf")
        used = [a for a in approvals if low <= a.block_number <= high]
        if used:
            entry["reissue_approved_by"], entry["reissue_reason"] = used[-1].by, used[-1].reason
        out.append(entry)
    return out


def reissue_note(reissued: list[dict]) -> CheckResult:
    """An informational line (it never changes the status): this certificate replaced revoked ones."""
    last = reissued[-1]
    why = f": revoked ({last['revoke_reason']})" if last.get("revoke_reason") else ""
    approved = f", re-issue approved by {last['reissue_approved_by']} ({last['reissue_reason']})" if last.get("reissue_approved_by") else ""
    return CheckResult(
        REISSUE_HISTORY,
        True,
        f"re-issued: replaces {len(reissued)} revoked certificate(s) for this content; the last one was issued by "
        f"{last['issuer']} at {iso_utc(last['issued_at'])}{why}{approved}",
        {"reissued_from": reissued},
    )
