"""The durable set of recursively pinned roots: one JSON file, replaced atomically."""

from __future__ import annotations

import json
from pathlib import Path

from provenance.ipfs.blockstore import fsync_dir, storage_errors, write_atomically
from provenance.ipfs.errors import StoreUnavailable


class PinSet:
    def __init__(self, path: Path, tmp_dir: Path) -> None:
        self.path = path
        self.tmp_dir = tmp_dir

    def load(self) -> list[str]:
        try:
            doc = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return []
        except (OSError, ValueError) as exc:
            raise StoreUnavailable(f"pin file {self.path} cannot be read: {exc}") from None
        pins = doc.get("pins") if isinstance(doc, dict) else None
        if not isinstance(pins, list) or not all(isinstance(p, str) for p in pins):
            raise StoreUnavailable(f"pin file {self.path} is malformed")
        return pins

    def save(self, pins: list[str]) -> None:
        body = json.dumps({"version": 1, "pins": sorted(set(pins))}, indent=1).encode("utf-8")
        with storage_errors(self.path.parent):
            write_atomically(self.path, [body], self.tmp_dir)
            fsync_dir(self.path.parent)
