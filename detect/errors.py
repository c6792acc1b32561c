"""The root of the detectors' errors.

`DetectError` derives from `provenance.errors.ProvenanceError`, the project's one
error root, so the CLI renders a detector failure (missing weights, an
undecodable clip, an unusable device) like any other: one line, no traceback.
`provenance.errors` imports nothing, so detect still knows nothing of chains,
IPFS or the ledger; the arrow to it is to a leaf, not back up into the service.
"""

from __future__ import annotations

from provenance.errors import ProvenanceError


class DetectError(ProvenanceError):
    """Base of every error the detect package raises for a user to read."""
