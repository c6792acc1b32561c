"""The detector verdict as the chain holds it: one mapping for whoever sends it and whoever checks it.

certify and reattest send (label, score in basis points) beside the metadata
digest, and verify's `verdict_binding` demands that the chain's pair equals the
signed metadata's `detection` mapped through here: two copies of this rule
drifting apart would turn honest certificates `tampered`.
"""

from __future__ import annotations

from .chain import OnChainLabel


def score_bps(score: float) -> int:
    """A detector score in [0, 1] as basis points (Python's `round`, half to even)."""
    return round(float(score) * 10_000)


def chain_verdict(detection: dict) -> tuple[OnChainLabel, int]:
    """The (label, score in basis points) the chain must hold for this metadata `detection`."""
    return OnChainLabel.from_text(detection["label"]), score_bps(detection["score"])
