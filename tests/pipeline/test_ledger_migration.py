"""Migration 0005: rows keyed by deployment. A ledger written before it keeps its rows, and the first
checked deployment at their chain id and address adopts them."""

from __future__ import annotations

from alembic import command
from sqlalchemy import inspect, text

from provenance.chain.deployments import Deployment
from provenance.ledger import Ledger
from provenance.ledger.migrate import alembic_config
from provenance.ledger.store import make_engine

ADDRESS = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
NOW = "2026-01-01 00:00:00"


def _migrate(engine, revision: str, down: bool = False) -> None:
    config = alembic_config(engine)
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        (command.downgrade if down else command.upgrade)(config, revision)


def _deployment(genesis: str, block_hash: str) -> Deployment:
    return Deployment(31337, ADDRESS, 3, block_hash, genesis, "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266")


def _rows_0004(conn) -> None:
    conn.execute(
        text(
            "INSERT INTO mint_jobs (chain_id, contract, content_sha256, path, state, request_json, created_at, updated_at) "
            f"VALUES (31337, '{ADDRESS}', :c, '/x', 'confirmed', '{{}}', '{NOW}', '{NOW}')"
        ),
        [{"c": "aa" * 32}, {"c": "bb" * 32}],
    )
    conn.execute(
        text(
            "INSERT INTO certificates (chain_id, contract, content_sha256, metadata_digest, issuer, owner, label, score_bps, "
            "phash, pdq, issued_at, revoked, tx_hash, block_number) "
            f"VALUES (31337, '{ADDRESS}', :c, 'dd', 'i', 'o', 'uncertain', 5000, '0000000000000000', :pdq, 1, 0, '0x1', 5)"
        ),
        [{"c": "aa" * 32, "pdq": "00" * 32}, {"c": "bb" * 32, "pdq": "00" * 32}],
    )
    conn.execute(
        text(
            "INSERT INTO chain_events (chain_id, contract, block_number, log_index, tx_hash, name, args_json) "
            f"VALUES (31337, '{ADDRESS}', 5, 0, '0x1', 'CertificateIssued', '{{}}')"
        )
    )
    conn.execute(text(f"INSERT INTO sync_state (chain_id, contract, next_block) VALUES (31337, '{ADDRESS}', 9)"))


def _upgraded_from_0004(tmp_path):
    """A ledger made at revision 0004, given rows of that time, then migrated to head: its URL and engine."""
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    engine = make_engine(url)
    _migrate(engine, "0004")
    with engine.begin() as conn:
        _rows_0004(conn)
    _migrate(engine, "head")
    return url, engine


def test_upgrade_keeps_rows_and_the_first_checked_deployment_adopts_them(tmp_path):
    url, engine = _upgraded_from_0004(tmp_path)

    columns = {c["name"] for c in inspect(engine).get_columns("sync_state")}
    assert columns == {"deployment_id", "chain_id", "contract", "next_block", "last_block_hash"}
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM deployments WHERE genesis_hash IS NULL")).scalar() == 1
        for table in ("mint_jobs", "certificates", "chain_events"):
            assert conn.execute(text(f"SELECT count(*) FROM {table} WHERE deployment_id IS NULL")).scalar() == 0
        assert conn.execute(text("SELECT count(*) FROM sync_state")).scalar() == 0  # the next sync re-reads

    ledger = Ledger.open(url)
    assert len(ledger.certificates(31337, ADDRESS)) == 2  # before any check: the placeholder is in use
    current = _deployment("0x" + "01" * 32, "0x" + "02" * 32)
    assert ledger.certificate_count(current) == 2
    ledger.activate(current)
    assert len(ledger.certificates(31337, ADDRESS)) == 2 and ledger.job_for(31337, ADDRESS, "aa" * 32) is not None
    (row,) = ledger.deployment_rows()
    assert (row.genesis_hash, row.deploy_block_hash, row.retired_at) == (current.genesis_hash, current.deploy_block_hash, None)

    # The chain is reset and the registry deployed again at the same address: another deployment.
    again = _deployment("0x" + "03" * 32, "0x" + "04" * 32)
    ledger.activate(again)
    assert ledger.certificates(31337, ADDRESS) == [] and ledger.job_for(31337, ADDRESS, "aa" * 32) is None
    assert ledger.certificate_count(current) == 2 and ledger.certificate_count(again) == 0
    ledger.create_job(31337, ADDRESS, "aa" * 32, "/x", {})  # the same content again, on the new deployment
    # The old chain restored from a backup: its rows are in use again.
    ledger.activate(current)
    assert len(ledger.certificates(31337, ADDRESS)) == 2
    assert [r.retired_at is None for r in ledger.deployment_rows()] == [True, False]


def test_downgrade_drops_retired_deployments_rows(tmp_path):
    url, engine = _upgraded_from_0004(tmp_path)
    ledger = Ledger.open(url)
    ledger.activate(_deployment("0x" + "01" * 32, "0x" + "02" * 32))
    ledger.activate(_deployment("0x" + "03" * 32, "0x" + "04" * 32))
    ledger.create_job(31337, ADDRESS, "aa" * 32, "/x", {})
    _migrate(engine, "0004", down=True)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM mint_jobs")).scalar() == 1
        assert conn.execute(text("SELECT count(*) FROM certificates")).scalar() == 0
        assert "deployments" not in inspect(engine).get_table_names()
