"""Crash injection for the crash-resume tests.

`PROVENANCE_FAILPOINT=<name>` makes the process kill itself with SIGKILL when it
reaches that point: a real, uncatchable crash at a known place, so the tests
can prove a re-run finishes the job. Unset, `hit()` does nothing.
"""

from __future__ import annotations

import os
import signal

ENV = "PROVENANCE_FAILPOINT"


def hit(name: str) -> None:
    if os.environ.get(ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
