"""One sender per signing key at a time, across processes: an OS file lock in the home.

Two `provenance mint` processes on one home share the issuer key. Each asks the
node for the next nonce and signs with it; without a lock both get the same
nonce and one transaction is refused ("nonce too low"). The lock is held from
the nonce fetch until the node has the signed transaction (broadcast), so the
next holder's nonce fetch counts it. `fcntl.flock` is released by the kernel
when a process dies, so a crash never leaves the key locked.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from pathlib import Path

from ..paths import private_dir
from .errors import ChainError

WAIT_S = 300.0
_locks: dict[Path, "SignerLock"] = {}
_locks_guard = threading.Lock()


class SignerLock:
    """Re-entrant within a thread, exclusive across threads (RLock) and processes (flock)."""

    def __init__(self, path: Path):
        self.path = path
        self._thread_lock = threading.RLock()
        self._fd: int | None = None
        self._depth = 0

    @classmethod
    def for_signer(cls, lock_dir: Path, address: str) -> "SignerLock":
        path = (lock_dir / f"{address.lower()}.lock").resolve()
        with _locks_guard:
            lock = _locks.get(path)
            if lock is None:
                lock = _locks[path] = cls(path)
            return lock

    def acquire(self, timeout: float = WAIT_S) -> None:
        if not self._thread_lock.acquire(timeout=timeout):
            raise ChainError(f"another thread has held the signing lock {self.path} for over {timeout:.0f} s")
        try:
            if self._depth == 0:
                self._fd = self._lock_file(timeout)
            self._depth += 1
        except BaseException:
            self._thread_lock.release()
            raise

    def release(self) -> None:
        self._depth -= 1
        if self._depth == 0 and self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
        self._thread_lock.release()

    def __enter__(self) -> "SignerLock":
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def _lock_file(self, timeout: float) -> int:
        private_dir(self.path.parent)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return fd
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    raise ChainError(f"another process has held the signing lock {self.path} for over {timeout:.0f} s") from None
                time.sleep(0.005)


class NoLock:
    """For a registry opened without a home (tests, benchmarks): nothing to share."""

    def acquire(self, timeout: float = WAIT_S) -> None:
        pass

    def release(self) -> None:
        pass

    def __enter__(self) -> "NoLock":
        return self

    def __exit__(self, *exc: object) -> None:
        pass
