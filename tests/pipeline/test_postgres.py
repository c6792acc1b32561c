"""The ledger and the near-duplicate index on PostgreSQL (any SQLAlchemy URL works).

Runs when PROVENANCE_TEST_POSTGRES_URL names a database (CI starts one with
.ci/postgres.sh); skipped otherwise.
"""

from __future__ import annotations

import os
import secrets

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from provenance.certify import Certifier, CertifyOptions
from provenance.chain import deploy, open_web3
from provenance.chain.keys import dev_account
from provenance.chain.node import DEV_PRIVATE_KEY
from provenance.chain_admin import chain_config
from provenance.config import load_settings
from provenance.context import open_parts
from provenance.scanning import NoScanner
from provenance.verify import Status
from provenance.verify.verifier import Verifier

from .conftest import edited, make_photo

URL = os.environ.get("PROVENANCE_TEST_POSTGRES_URL")
pytestmark = pytest.mark.skipif(not URL, reason="PROVENANCE_TEST_POSTGRES_URL not set (CI starts PostgreSQL with .ci/postgres.sh)")


@pytest.fixture
def fresh_database():
    """A database of its own on the test server, so a second run never meets the first one's rows."""
    server = create_engine(URL, isolation_level="AUTOCOMMIT")
    name = f"provenance_test_{secrets.token_hex(6)}"
    with server.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with server.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        server.dispose()


def test_certify_and_verify_with_postgres_ledger(anvil, home, monkeypatch, tmp_path, fresh_database):
    monkeypatch.setenv("PROVENANCE_RPC_URL", anvil.url)
    monkeypatch.setenv("PROVENANCE_PRIVATE_KEY", DEV_PRIVATE_KEY)
    monkeypatch.setenv("PROVENANCE_DATABASE_URL", fresh_database)
    settings = load_settings()
    deploy(chain_config(settings), open_web3(anvil.url), anvil.url, dev_account())
    parts = open_parts(settings, signer=True)
    assert parts.ledger.engine.dialect.name == "postgresql"
    photo = make_photo(tmp_path / "p.png", seed=77)
    (result,) = Certifier(parts.chain, parts.store, parts.ledger, NoScanner()).certify([photo], CertifyOptions())
    assert result.error is None
    verifier = Verifier(parts)
    assert verifier.verify(photo).status is Status.VERIFIED
    copy = edited(photo, tmp_path / "copy.jpg", lambda im: im.resize((im.width // 2, im.height // 2)))
    report = verifier.verify(copy)
    assert report.status is Status.MODIFIED and report.candidates[0].found_by == "perceptual"
    rows = parts.ledger.certificates(parts.chain.deployment.chain_id, parts.chain.deployment.address)
    assert [r.content_sha256 for r in rows] == [result.content_sha256]
