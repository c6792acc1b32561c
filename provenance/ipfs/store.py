"""The interface every content store backend implements, and what `add` returns."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from provenance.ipfs.limits import FetchLimits
from provenance.ipfs.profile import ImportProfile


@dataclass(frozen=True)
class AddResult:
    cid: str
    size: int  # bytes of content
    profile: ImportProfile

    def to_dict(self) -> dict:
        return {"cid": self.cid, "size": self.size, "profile": self.profile.to_dict()}


@runtime_checkable
class ContentStore(Protocol):
    def add_bytes(self, data: bytes, *, cid_version: int = 1) -> AddResult: ...

    def add_file(self, path: Path, *, cid_version: int = 1, progress: Callable[[int], None] | None = None) -> AddResult: ...

    def add_json(self, obj: Any) -> AddResult: ...

    # Reads take optional `FetchLimits` (bounded defaults); every store here also has
    # `iter_cat(cid, *, limits=None)`, which streams instead of returning one bytes object.
    def cat(self, cid: str, *, limits: FetchLimits | None = None) -> bytes: ...

    def has(self, cid: str) -> bool: ...

    def verify(self, cid: str, *, limits: FetchLimits | None = None) -> None: ...

    def pin(self, cid: str) -> None: ...

    def unpin(self, cid: str) -> None: ...

    def pins(self) -> list[str]: ...


def canonical_json(obj: Any) -> bytes:
    """The one byte form of a JSON document that the project hashes and stores."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
