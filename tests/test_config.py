"""Settings from config.toml with environment overrides, and clear errors."""

from __future__ import annotations

import pytest

from provenance.config import ConfigError, load_settings
from provenance.hashing import DEFAULT_PDQ_THRESHOLD, DEFAULT_PHASH_THRESHOLD


def test_defaults_follow_the_robustness_study(tmp_path):
    settings = load_settings(tmp_path, environ={})
    assert (settings.thresholds.phash, settings.thresholds.pdq) == (DEFAULT_PHASH_THRESHOLD, DEFAULT_PDQ_THRESHOLD)
    assert settings.ledger_url == f"sqlite:///{tmp_path / 'ledger.db'}"
    assert settings.ipfs_backend == "embedded"


def test_file_then_environment(tmp_path):
    (tmp_path / "config.toml").write_text(
        'rpc_url = "http://127.0.0.1:9999"\ndatabase_url = "sqlite:////tmp/x.db"\n'
        'trusted_issuers = ["0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266"]\n[thresholds]\nphash = 6\n'
    )
    settings = load_settings(tmp_path, environ={"PROVENANCE_RPC_URL": "http://127.0.0.1:1", "PROVENANCE_PDQ_THRESHOLD": "50"})
    assert settings.rpc_url == "http://127.0.0.1:1"
    assert settings.database_url == "sqlite:////tmp/x.db"
    assert settings.trusted_issuers == ("0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",)  # EIP-55
    assert (settings.thresholds.phash, settings.thresholds.pdq) == (6, 50)


@pytest.mark.parametrize(
    "text, message",
    [
        ("rpc_url = [", "config.toml"),
        ("rpc_ulr = 'x'", "unknown setting"),
        ("[thresholds]\nphash = 'many'", "must be an integer"),
        ("[thresholds]\npdq = -1", "must not be negative"),
    ],
)
def test_bad_config_is_a_clear_error(tmp_path, text, message):
    (tmp_path / "config.toml").write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_settings(tmp_path, environ={})


def test_ledger_errors_never_show_the_database_password():
    from provenance.ledger import Ledger, LedgerError

    with pytest.raises(LedgerError) as err:
        Ledger.open("postgresql+psycopg://user:hunter2@127.0.0.1:1/db")
    assert "hunter2" not in str(err.value) and "***" in str(err.value)


def test_pdq_lookup_radius_is_capped_by_the_pdq_threshold(tmp_path):
    assert load_settings(tmp_path, environ={}).thresholds.pdq_lookup_radius == load_settings(tmp_path, environ={}).thresholds.pdq
    settings = load_settings(tmp_path, environ={"PROVENANCE_PDQ_LOOKUP_RADIUS": "31"})
    assert settings.thresholds.pdq_lookup_radius == 31
    settings = load_settings(tmp_path, environ={"PROVENANCE_PDQ_LOOKUP_RADIUS": "200", "PROVENANCE_PDQ_THRESHOLD": "60"})
    assert settings.thresholds.pdq_lookup_radius == 60
