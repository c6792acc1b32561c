"""One process at a time per content: claims on mint jobs, across the processes sharing a home.

Two `provenance mint` on one home given the same file would both work its one
job: scan it, sign and pin their own metadata, send it. One send reverted
(CertificateExists) and, when each had written its own metadata into the job,
the job was left naming metadata the chain does not hold: `failed` on every
later run. So a process claims each content before it touches the job, with an
OS lock (flock) on a file under `<home>/locks/contents/`; a content another
process holds is done after the process's own work, once that claim can be
had, and by then it is normally confirmed ("already certified"). The kernel
releases a claim when its process dies, so a crash never leaves one behind;
the file of a released claim is removed (the claimer checks it still holds
the file at the path, so a waiter that got a removed one tries again).

Scope: processes on one machine sharing a home (the same as the signing lock,
chain/locks.py). Processes on several machines writing one PostgreSQL ledger
are not coordinated by this.
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

from .errors import ProvenanceError
from .paths import private_dir

WAIT_S = 6 * 3600.0


class ClaimTimeout(ProvenanceError):
    """Another process held a content for longer than we wait."""


class ContentClaims:
    """Claims under `directory`, or none at all (every claim granted) when it is None."""

    def __init__(self, directory: Path | None):
        self.directory = directory
        self._held: dict[str, int] = {}

    def _path(self, key: str) -> Path:
        assert self.directory is not None
        return self.directory / f"{key}.claim"

    def try_claim(self, key: str) -> bool:
        """Claim `key` if no other process holds it; True when we hold it now."""
        if self.directory is None or key in self._held:
            return True
        return self._take(key)

    def claim(self, key: str, timeout: float = WAIT_S) -> None:
        """Claim `key`, waiting for the process that holds it."""
        if self.directory is None or key in self._held:
            return
        deadline = time.monotonic() + timeout
        while not self._take(key):
            if time.monotonic() >= deadline:
                raise ClaimTimeout(
                    f"another provenance process has been working on content {key.rsplit('-', 1)[-1]} for over {timeout:.0f} s"
                )
            time.sleep(0.05)

    def release(self, key: str) -> None:
        fd = self._held.pop(key, None)
        if fd is None:
            return
        try:
            self._path(key).unlink(missing_ok=True)  # before unlocking: a waiter then finds it gone and tries again
        finally:
            os.close(fd)

    def release_all(self) -> None:
        for key in list(self._held):
            self.release(key)

    def _take(self, key: str) -> bool:
        private_dir(self._path(key).parent)
        path = self._path(key)
        while True:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                return False
            try:
                same = os.fstat(fd).st_ino == os.stat(path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                self._held[key] = fd
                return True
            os.close(fd)  # the holder removed it as we waited: take the new one
