"""The default content store: blocks and pins on local disk under `$PROVENANCE_HOME/ipfs`.

Writers take an exclusive lock on the store so that garbage collection never
runs while an add or an import is half done.
"""

from __future__ import annotations

import fcntl
import io
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from provenance.atomic_write import temp_then_replace
from provenance.ipfs.blockstore import Blockstore, storage_errors
from provenance.ipfs.car import iter_sections, read_header, write_car
from provenance.ipfs.cid import Cid, parse_cid
from provenance.ipfs.dag import child_cids, iter_dag, iter_file, walk
from provenance.ipfs.errors import BlockMismatch, CorruptCar, InvalidBlock, IpfsError, NotFound
from provenance.ipfs.importer import import_stream
from provenance.ipfs.limits import DEFAULT_LIMITS, Deadline, FetchLimits
from provenance.ipfs.pinset import PinSet
from provenance.ipfs.profile import ImportProfile
from provenance.ipfs.store import AddResult, canonical_json


@dataclass(frozen=True)
class GcResult:
    removed: int
    freed_bytes: int
    kept: int

    def to_dict(self) -> dict:
        return {"removed": self.removed, "freed_bytes": self.freed_bytes, "kept": self.kept}


@dataclass(frozen=True)
class CarImport:
    roots: list[str]
    blocks: int

    def to_dict(self) -> dict:
        return {"roots": self.roots, "blocks": self.blocks}


class EmbeddedStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.blocks = Blockstore(self.root)
        self._pins = PinSet(self.root / "pins", self.blocks.tmp_dir, legacy_file=self.root / "pins.json")

    def __repr__(self) -> str:
        return f"EmbeddedStore({self.root})"

    @contextmanager
    def _locked(self):
        self.blocks.ensure_writable()
        with storage_errors(self.root):
            lock = open(self.root / "lock", "a+b")
        with lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    # -- adding -------------------------------------------------------------

    def add_stream(self, stream, profile: ImportProfile, *, pin: bool = True, progress=None) -> AddResult:
        with self._locked():
            imported = import_stream(stream, profile, self.blocks, progress)
            cid = str(imported.cid)
            if pin:
                self._pins.add([cid])
        return AddResult(cid, imported.size, profile)

    def add_bytes(self, data: bytes, *, cid_version: int = 1, pin: bool = True) -> AddResult:
        return self.add_stream(io.BytesIO(data), ImportProfile.for_version(cid_version), pin=pin)

    def add_file(self, path: Path, *, cid_version: int = 1, progress: Callable[[int], None] | None = None, pin: bool = True) -> AddResult:
        try:
            stream = open(path, "rb")
        except OSError as exc:
            raise IpfsError(f"cannot read {path}: {exc.strerror}") from None
        with stream:
            return self.add_stream(stream, ImportProfile.for_version(cid_version), pin=pin, progress=progress)

    def add_json(self, obj: Any, *, pin: bool = True) -> AddResult:
        return self.add_bytes(canonical_json(obj), cid_version=1, pin=pin)

    # -- reading ------------------------------------------------------------

    def get_block(self, cid: Cid) -> bytes:
        return self.blocks.get(cid)

    def iter_cat(self, cid: str, *, limits: FetchLimits | None = None) -> Iterator[bytes]:
        """The file's bytes block by block, within `limits` (bounded defaults: see `FetchLimits`)."""
        limits = limits or DEFAULT_LIMITS
        return iter_file(parse_cid(cid), self.blocks.get, limits, Deadline.after(limits.deadline_s, f"reading {cid}"))

    def cat(self, cid: str, *, limits: FetchLimits | None = None) -> bytes:
        return b"".join(self.iter_cat(cid, limits=limits))

    def has(self, cid: str) -> bool:
        """Whether the root block is stored (`verify` checks the whole DAG)."""
        return self.blocks.has(parse_cid(cid))

    def verify(self, cid: str, *, limits: FetchLimits | None = None) -> None:
        """Read every block under `cid` and check it; raise `NotFound` or `BlockMismatch`.

        Each distinct block is read once, so repeated links cost nothing; `limits`
        is accepted for the common interface (a local walk needs no deadline).
        """
        for _ in iter_dag(parse_cid(cid), self.blocks.get):
            pass

    # -- pins and garbage collection ----------------------------------------

    def pins(self) -> list[str]:
        return sorted(self._pins.load())

    def pin(self, cid: str) -> None:
        text = str(parse_cid(cid))
        with self._locked():
            self.verify(text)  # a pin promises the whole DAG is here and intact
            self._pins.add([text])

    def unpin(self, cid: str) -> None:
        text = str(parse_cid(cid))
        with self._locked():
            if not self._pins.remove(text):
                raise NotFound(text, "the pin set")

    def gc(self) -> GcResult:
        """Delete every block not reachable from a pin."""
        with self._locked():
            live: set[bytes] = set()
            for pin in self._pins.load():
                for cid in self._reachable(parse_cid(pin)):
                    live.add(cid.multihash)
            removed = freed = kept = 0
            for multihash, path in list(self.blocks.iter_multihashes()):
                if multihash in live:
                    kept += 1
                else:
                    freed += self.blocks.delete(path)
                    removed += 1
            self.blocks.clean_tmp()
        return GcResult(removed, freed, kept)

    def _reachable(self, root: Cid) -> Iterator[Cid]:
        """CIDs under `root` that are present; damaged or missing parts are kept, not raised."""

        def children(cid: Cid) -> list[Cid]:
            try:
                return child_cids(cid, self.blocks.get(cid))
            except (NotFound, BlockMismatch, InvalidBlock):
                return []

        return walk([root], children)

    # -- CAR ------------------------------------------------------------------

    def export_car(self, cid: str, out_path: Path) -> int:
        """Write the whole DAG under `cid` to a CAR v1 file; return the block count."""
        root = parse_cid(cid)
        self.verify(cid)  # fail before creating the file if anything is missing
        out_path = Path(out_path)
        with storage_errors(out_path.parent):
            return _write_car_atomically(out_path, root, self.blocks.get)

    def import_car(self, car_path: Path, *, pin: bool = True) -> CarImport:
        """Import a CAR: verify it completely first, then store its blocks and pin its roots."""
        roots, count = self._check_car(car_path)
        with self._locked():
            with _open_car(car_path) as stream:
                read_header(stream)
                for cid, block in iter_sections(stream, str(car_path)):
                    self.blocks.put_parts(cid, [block])
            root_texts = [str(r) for r in roots]
            if pin:
                self._pins.add(root_texts)
        return CarImport(root_texts, count)

    def _check_car(self, car_path: Path) -> tuple[list[Cid], int]:
        """Parse and verify a whole CAR without storing anything; return its roots and block count."""
        children: dict[bytes, list[Cid]] = {}
        with _open_car(car_path) as stream:
            roots = read_header(stream)
            try:
                for cid, block in iter_sections(stream, str(car_path)):
                    children[cid.to_bytes()] = child_cids(cid, block)
            except (BlockMismatch, InvalidBlock, IpfsError) as exc:
                raise CorruptCar(f"{car_path}: {exc}") from None
        if not roots:
            raise CorruptCar(f"{car_path}: the CAR names no root")
        self._check_complete(car_path, roots, children)
        return roots, len(children)

    def _check_complete(self, car_path: Path, roots: list[Cid], children: dict[bytes, list[Cid]]) -> None:
        """Every block under every root must be in the CAR or already in this store."""

        def children_of(cid: Cid) -> list[Cid]:
            if cid.to_bytes() in children:
                return children[cid.to_bytes()]
            if self.blocks.has(cid):
                return child_cids(cid, self.blocks.get(cid))
            raise CorruptCar(f"{car_path} is incomplete: block {cid} under its root is missing")

        for _ in walk(roots, children_of):
            pass


@contextmanager
def _open_car(path: Path):
    try:
        stream = open(path, "rb")
    except OSError as exc:
        raise CorruptCar(f"cannot read CAR {path}: {exc.strerror}") from None
    with stream:
        yield stream


def _write_car_atomically(out_path: Path, root: Cid, get_block) -> int:
    with temp_then_replace(out_path, "partial") as tmp, open(tmp, "wb") as fh:
        return write_car(fh, [root], iter_dag(root, get_block))
