"""The IPFS CID of exactly the bytes that were hashed.

A file is read more than once between being hashed and being stored (decoded
and hashed, scanned, added to IPFS), and it can change in between. Reading it
once more, computing its sha256 and its CID in the same pass, ties the two
together: if that sha256 is the one certified, that CID names the certified
bytes, and a store's `add` returning any other CID stored something else.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import BinaryIO, cast

from .ipfs.importer import import_stream
from .ipfs.profile import ImportProfile
from .media import MediaError


class ContentChanged(MediaError):
    """The file's bytes are no longer the bytes that were hashed."""


class _HashingReader(io.RawIOBase):
    """A raw reader that feeds every byte it hands out to a sha256."""

    def __init__(self, raw):
        self._raw = raw
        self.digest = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        n = self._raw.readinto(buffer)
        if n:
            self.digest.update(memoryview(buffer)[:n])
        return n or 0


def cid_of_hashed(path: Path, sha256: str, profile: ImportProfile | None = None) -> str:
    """The CID `path` gets under `profile`, read while checking its bytes still have `sha256`.

    Raises `ContentChanged` when they do not.
    """
    profile = profile or ImportProfile.for_version(1)
    try:
        with open(path, "rb", buffering=0) as raw:
            reader = _HashingReader(raw)
            cid = str(import_stream(cast(BinaryIO, reader), profile, parallel=False).cid)  # a raw reader reads like a file
    except OSError as exc:
        raise ContentChanged(f"{path}: cannot be read again ({exc.strerror or exc})") from None
    now = reader.digest.hexdigest()
    if now != sha256:
        raise ContentChanged(f"{path}: changed since it was hashed (sha256 {sha256[:16]}... then, {now[:16]}... now)")
    return cid
