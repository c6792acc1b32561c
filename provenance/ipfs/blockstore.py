"""Blocks on disk, one file per block, keyed by multihash and written atomically.

A block is first written to `tmp/`, flushed to disk, then renamed into place,
so a crash or a full disk can leave a stray temporary file but never a partial
block under a real name.
"""

from __future__ import annotations

import errno
import os
import secrets
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from provenance.ipfs.cid import Cid
from provenance.ipfs.errors import NotFound, StoreUnavailable
from provenance.ipfs.multiformats import b32_decode, b32_encode
from provenance.paths import private_dir

_FULL = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
_READ_ONLY = {errno.EROFS, errno.EACCES, errno.EPERM}


@contextmanager
def storage_errors(path: Path):
    """Turn OS errors into `StoreUnavailable` with a message a user can act on."""
    try:
        yield
    except OSError as exc:
        if exc.errno in _FULL:
            reason = "is full (no space or file size limit reached)"
        elif exc.errno in _READ_ONLY:
            reason = "is read-only or not writable"
        else:
            reason = f"cannot be used ({exc.strerror or exc})"
        raise StoreUnavailable(f"store directory {path} {reason}") from None


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomically(target: Path, parts: Sequence[bytes | memoryview], tmp_dir: Path) -> None:
    tmp = tmp_dir / f"{target.name}.{os.getpid()}.{secrets.token_hex(4)}"
    try:
        with open(tmp, "xb") as fh:
            for part in parts:
                fh.write(part)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


class Blockstore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.blocks_dir = root / "blocks"
        self.tmp_dir = root / "tmp"

    def _path(self, multihash: bytes) -> Path:
        name = b32_encode(multihash)
        return self.blocks_dir / name[-3:-1] / name

    def ensure_writable(self) -> None:
        with storage_errors(self.root):
            private_dir(self.blocks_dir)
            private_dir(self.tmp_dir)

    def has(self, cid: Cid) -> bool:
        return self._path(cid.multihash).is_file()

    def put_parts(self, cid: Cid, parts: Sequence[bytes | memoryview]) -> None:
        """Store a block whose CID the caller computed from exactly these bytes."""
        target = self._path(cid.multihash)
        if target.exists():
            return  # content-addressed: the same name always holds the same bytes
        with storage_errors(self.root):
            private_dir(target.parent)
            write_atomically(target, parts, self.tmp_dir)

    def put_verified(self, cid: Cid, block: bytes) -> None:
        cid.verify(block)
        self.put_parts(cid, [block])

    def get(self, cid: Cid) -> bytes:
        """The block's bytes, checked against its CID."""
        try:
            block = self._path(cid.multihash).read_bytes()
        except FileNotFoundError:
            raise NotFound(str(cid), f"the embedded store at {self.root}") from None
        except OSError as exc:
            raise StoreUnavailable(f"cannot read block {cid} in {self.root}: {exc.strerror}") from None
        cid.verify(block, f"the embedded store at {self.root}")
        return block

    def iter_multihashes(self) -> Iterator[tuple[bytes, Path]]:
        if not self.blocks_dir.is_dir():
            return
        for shard in sorted(self.blocks_dir.iterdir()):
            for path in sorted(shard.iterdir()):
                try:
                    yield b32_decode(path.name), path
                except Exception:
                    continue  # not a block file; left alone

    def delete(self, path: Path) -> int:
        size = path.stat().st_size
        with storage_errors(self.root):
            path.unlink()
        return size

    def clean_tmp(self) -> int:
        removed = 0
        if self.tmp_dir.is_dir():
            for path in self.tmp_dir.iterdir():
                with storage_errors(self.root):
                    path.unlink(missing_ok=True)
                removed += 1
        return removed
