"""The ledger under concurrency and a full disk.

Found by bench/bench_reliability.py: four `provenance mint` started at once on a
new home failed with "cannot open ledger ...: table certificates already
exists" (each process ran the schema migrations at the same moment), and a
full disk at the ledger ended `mint` in a sqlite3.OperationalError traceback.
"""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from .harness import REPO

_OPEN_AT = """
import sys, time
from pathlib import Path
from provenance.ledger import Ledger
go = Path(sys.argv[2])
while not go.exists():
    time.sleep(0.001)
Ledger.open(sys.argv[1]).engine.dispose()
"""


@pytest.mark.parametrize("round_", range(3))
def test_processes_opening_a_new_ledger_at_once_all_succeed(tmp_path, round_):
    db = tmp_path / "ledger.db"
    go = tmp_path / "go"
    procs = [
        subprocess.Popen([sys.executable, "-c", _OPEN_AT, f"sqlite:///{db}", str(go)], cwd=REPO,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    time.sleep(3)  # every process has imported the ledger and waits
    go.touch()
    outcomes = [(p.wait(timeout=120), p.stderr.read()) for p in procs]
    assert [code for code, _ in outcomes] == [0] * 4, "\n".join(err.strip().splitlines()[-1] for code, err in outcomes if code)
