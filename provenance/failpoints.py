"""Crash injection for the crash-resume tests and the reliability bench.

`PROVENANCE_FAILPOINT=<name>` makes the process kill itself with SIGKILL when it
reaches that point: a real, uncatchable crash at a known place, so the tests
can prove a re-run finishes the job. `<name>@<n>` kills at the n-th time the
process reaches it (files go through most points one by one, so this picks
the file, or the batch, that the crash interrupts). Unset, `hit()` does nothing.
"""

from __future__ import annotations

import os
import signal
import threading

ENV = "PROVENANCE_FAILPOINT"
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
    os.kill(os.getpid(), signal.SIGKILL)
