"""Errors raised by the hashing package."""

from __future__ import annotations

from ..errors import ProvenanceError


class HashingError(ProvenanceError):
    """A file could not be hashed, or a hash value is malformed."""
