"""Crash injection for the crash-resume tests and the reliability bench.

`PROVENANCE_FAILPOINT=<name>` makes the process kill itself with SIGKILL when it
reaches that point: a real, uncatchable crash at a known place, so the tests
can prove a re-run finishes the job. `<name>@<n>` kills at the n-th time the
process reaches it (files go through most points one by one, so this picks
the file, or the batch, that the crash interrupts). Unset, `hit()` does nothing.

With `PROVENANCE_FAILPOINT_PAUSE=<file>` as well, the process does not die at
that point: it creates `<file>` and waits (at most 120 s) until the file is
removed, so a test can break something else (kill the IPFS node, the chain) at
an exact moment of the run instead of after a guessed delay.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

ENV = "PROVENANCE_FAILPOINT"
PAUSE_ENV = "PROVENANCE_FAILPOINT_PAUSE"
PAUSE_LIMIT_S = 120.0
_counts: dict[str, int] = {}
_lock = threading.Lock()


def hit(name: str) -> None:
    spec = os.environ.get(ENV)
    if not spec:
        return
    wanted, _, nth = spec.partition("@")
    if wanted != name:
        return
    if nth:
        with _lock:
            _counts[name] = _counts.get(name, 0) + 1
            if _counts[name] < int(nth):
                return
    marker = os.environ.get(PAUSE_ENV)
    if marker:
        _pause(Path(marker))
        return
    os.kill(os.getpid(), signal.SIGKILL)


def _pause(marker: Path) -> None:
    marker.touch()
    deadline = time.monotonic() + PAUSE_LIMIT_S
    while marker.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
