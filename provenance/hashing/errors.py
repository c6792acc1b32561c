"""Errors raised by the hashing package."""

from __future__ import annotations


class HashingError(Exception):
    """A file could not be hashed, or a hash value is malformed."""


class UnreadableMediaError(HashingError):
    """The input is not an image or video the hashing code can decode."""
