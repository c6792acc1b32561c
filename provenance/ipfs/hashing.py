"""Only-hash CID computation: what `ipfs add --only-hash` prints, without storing anything."""

from __future__ import annotations

import io
from pathlib import Path

from provenance.ipfs.errors import IpfsError
from provenance.ipfs.importer import import_stream
from provenance.ipfs.profile import ImportProfile


def cid_of_bytes(data: bytes, cid_version: int = 1) -> str:
    return str(import_stream(io.BytesIO(data), ImportProfile.for_version(cid_version)).cid)


def cid_of_file(path: Path, cid_version: int = 1, progress=None, profile: ImportProfile | None = None) -> str:
    profile = profile or ImportProfile.for_version(cid_version)
    try:
        stream = open(path, "rb", buffering=0)
    except OSError as exc:
        raise IpfsError(f"cannot read {path}: {exc.strerror}") from None
    with stream:
        return str(import_stream(stream, profile, progress=progress).cid)
