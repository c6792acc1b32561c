"""Errors raised by the hashing package."""

from __future__ import annotations


class HashingError(Exception):
    """A file could not be hashed, or a hash value is malformed."""
