"""The durable set of recursively pinned roots: one empty file per pin.

A pin is a file named by its CID under `pins/`, created by write-then-rename
and made durable with a directory fsync, so adding a pin costs the same with
ten pins or a million (the earlier single `pins.json` was rewritten whole on
every add). A `pins.json` left by an older version is folded in on first use.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from provenance.ipfs.blockstore import fsync_dir, storage_errors, write_atomically
from provenance.ipfs.errors import StoreUnavailable
from provenance.paths import private_dir


class PinSet:
    def __init__(self, directory: Path, tmp_dir: Path, legacy_file: Path | None = None) -> None:
        self.dir = directory
        self.tmp_dir = tmp_dir
        self._legacy = legacy_file

    def load(self) -> list[str]:
        self._migrate()
        try:
            return sorted(entry.name for entry in os.scandir(self.dir) if entry.is_file())
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise StoreUnavailable(f"pin folder {self.dir} cannot be read: {exc.strerror}") from None

    def add(self, cids: list[str]) -> None:
        self._migrate()
        missing = [cid for cid in dict.fromkeys(cids) if not (self.dir / cid).is_file()]
        if not missing:
            return
        with storage_errors(self.dir.parent):
            private_dir(self.dir)
            private_dir(self.tmp_dir)
            for cid in missing:
                write_atomically(self.dir / cid, [b""], self.tmp_dir)
            fsync_dir(self.dir)

    def remove(self, cid: str) -> bool:
        """Drop a pin; False if it was not pinned."""
        self._migrate()
        path = self.dir / cid
        with storage_errors(self.dir.parent):
            try:
                path.unlink()
            except FileNotFoundError:
                return False
            fsync_dir(self.dir)
        return True

    def _migrate(self) -> None:
        """Fold an older `pins.json` into the folder; safe to interrupt and repeat."""
        legacy = self._legacy
        if legacy is None or not legacy.exists():
            return
        try:
            doc = json.loads(legacy.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise StoreUnavailable(f"pin file {legacy} cannot be read: {exc}") from None
        pins = doc.get("pins") if isinstance(doc, dict) else None
        if not isinstance(pins, list) or not all(isinstance(p, str) for p in pins):
            raise StoreUnavailable(f"pin file {legacy} is malformed")
        self._legacy = None  # add() below must not recurse into the migration
        self.add(pins)
        with storage_errors(legacy.parent):
            legacy.unlink()
            fsync_dir(legacy.parent)
