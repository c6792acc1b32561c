"""The home folder and the ledger are private to their owner (issue 16): 0700 and 0600."""

from __future__ import annotations

import os
import stat

import pytest
from sqlalchemy import text

from provenance.context import prepare_home
from provenance.ledger import Ledger


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def usual_umask():
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_a_new_home_is_private(tmp_path, usual_umask):
    home = tmp_path / "a" / "home"
    prepare_home(home)
    assert home.is_dir() and _mode(home) == 0o700
    prepare_home(home)  # idempotent
    assert _mode(home) == 0o700


def test_an_existing_home_is_left_as_the_user_made_it(tmp_path, usual_umask):
    home = tmp_path / "shared"
    home.mkdir(mode=0o750)
    os.chmod(home, 0o750)
    prepare_home(home)
    assert _mode(home) == 0o750


def test_a_new_ledger_and_its_journal_are_private(tmp_path, usual_umask):
    db = tmp_path / "fresh" / "ledger.db"
    ledger = Ledger.open(f"sqlite:///{db}")
    with ledger.session() as s, s.begin():
        s.execute(text("CREATE TABLE IF NOT EXISTS probe (x INTEGER)"))
        s.execute(text("INSERT INTO probe VALUES (1)"))
    assert _mode(db.parent) == 0o700
    assert _mode(db) == 0o600
    journals = [p for p in db.parent.iterdir() if p.name != db.name]
    assert journals  # WAL mode: -wal and -shm
    for journal in journals:
        assert _mode(journal) == 0o600, journal.name
    ledger.engine.dispose()


@pytest.mark.slow
def test_mint_leaves_a_private_ledger(parts, photo):
    from .cli_helpers import run_cli

    db = parts.settings.home / "ledger.db"
    assert run_cli("mint", "--no-detect", photo).returncode == 0
    assert _mode(db) == 0o600


def test_every_part_creates_its_folders_under_a_fresh_home_owner_only(tmp_path, usual_umask):
    """Whichever part runs first (`ipfs add`, `chain up`, a mint's signer lock) makes the home 0700, not 0755."""
    from provenance.chain.locks import SignerLock
    from provenance.ipfs import EmbeddedStore

    for n, make in enumerate(
        [
            lambda home: EmbeddedStore(home / "ipfs").add_bytes(b"x"),
            lambda home: SignerLock.for_signer(home / "locks", "0x" + "ab" * 20).acquire(timeout=5),
        ]
    ):
        home = tmp_path / f"home{n}"
        make(home)
        folders = [home, *[p for p in home.rglob("*") if p.is_dir()]]
        assert len(folders) > 1
        assert {str(p.relative_to(tmp_path)): _mode(p) for p in folders} == {str(p.relative_to(tmp_path)): 0o700 for p in folders}


def test_the_cli_on_a_fresh_home_leaves_it_private(tmp_path, usual_umask):
    from .cli_helpers import run_cli

    home = tmp_path / "fresh"
    sample = tmp_path / "sample.bin"
    sample.write_bytes(b"provenance" * 100)
    proc = run_cli("ipfs", "add", sample, env={"PROVENANCE_HOME": str(home)})
    assert proc.returncode == 0, proc.stderr
    assert _mode(home) == 0o700 and _mode(home / "ipfs") == 0o700
