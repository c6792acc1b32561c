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

from .harness import REPO, Home, SmallDisk, audit, photos, sha256_of

_OPEN_AT = """
import sys, time
from pathlib import Path
from provenance.ledger import Ledger
go = Path(sys.argv[2])
while not go.exists():
    time.sleep(0.001)
Ledger.open(sys.argv[1]).engine.dispose()
"""


@pytest.mark.parametrize("round_", range(2))
def test_processes_opening_a_new_ledger_at_once_all_succeed(tmp_path, round_):
    db = tmp_path / "ledger.db"
    go = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _OPEN_AT, f"sqlite:///{db}", str(go)],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    time.sleep(3)  # every process has imported the ledger and waits
    go.touch()
    outcomes = [(p.wait(timeout=120), p.stderr.read()) for p in procs]
    assert [code for code, _ in outcomes] == [0] * 4, "\n".join(err.strip().splitlines()[-1] for code, err in outcomes if code)


@pytest.mark.slow
def test_a_full_disk_fails_files_with_one_line_each_and_a_rerun_with_space_finishes(tmp_path):
    """$PROVENANCE_HOME on a 3 MiB tmpfs (or, where mounting is not allowed, a 3 MiB file size limit);
    the chain lives in another home. Eight 0.6 MB files fill it part-way through the run."""
    chain = Home(tmp_path / "chain")
    try:
        up = chain.up()
        assert up.code == 0, up.stderr
        files = photos(tmp_path / "media", 8, 7_000, size=(640, 480))
        contents = [sha256_of(p) for p in files]
        with SmallDisk(tmp_path / "small", 3) as disk:
            home = Home(disk.path / "home", rpc_url=chain.node_url, fsize=disk.fsize)
            trusted = home.trust(up.json()["contract"])
            assert trusted.code == 0, trusted.stderr
            full = home.cli("mint", "--no-detect", "--json", *files)
            assert not full.traceback, full.stderr
            assert full.code == 1
            assert full.error_lines() and all(line.startswith("error: ") for line in full.error_lines()), full.stderr
            assert any("full" in line for line in full.error_lines()), full.stderr
            assert audit(home, contents).phantom == []

            disk.grow(256)
            home.fsize = disk.fsize
            done = home.cli("mint", "--no-detect", "--json", *files)
            assert done.code == 0, done.stderr
            result = audit(home, contents)
            assert result.ok, result.summary()
    finally:
        chain.down()
