"""Keys come from the environment or an encrypted keystore, never from argv."""

from __future__ import annotations

import pytest

from provenance.chain.errors import KeyError_
from provenance.chain.keys import create_keystore, load_signer


def test_keystore_roundtrip_with_env_password(tmp_path, monkeypatch):
    path = tmp_path / "issuer.json"
    address = create_keystore(path, "correct horse")
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    monkeypatch.setenv("PROVENANCE_KEYSTORE_PASSWORD", "correct horse")
    monkeypatch.delenv("PROVENANCE_PRIVATE_KEY", raising=False)
    assert load_signer(str(path), allow_dev_key=False).address == address


def test_wrong_password_is_a_clear_error(tmp_path, monkeypatch):
    path = tmp_path / "issuer.json"
    create_keystore(path, "right")
    monkeypatch.setenv("PROVENANCE_KEYSTORE_PASSWORD", "wrong")
    monkeypatch.delenv("PROVENANCE_PRIVATE_KEY", raising=False)
    with pytest.raises(KeyError_, match="wrong password"):
        load_signer(str(path), allow_dev_key=False)


def test_remote_chain_never_falls_back_to_the_dev_key(monkeypatch):
    monkeypatch.delenv("PROVENANCE_PRIVATE_KEY", raising=False)
    with pytest.raises(KeyError_, match="no issuer key"):
        load_signer("", allow_dev_key=False)


def test_refuses_to_overwrite_a_keystore(tmp_path):
    path = tmp_path / "k.json"
    create_keystore(path, "x")
    with pytest.raises(KeyError_, match="refusing"):
        create_keystore(path, "y")


def test_keys_new_makes_an_issuer_or_an_admin_keystore_with_its_own_password(tmp_path):
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    from provenance.chain.keys import ENV_ADMIN_KEYSTORE_PASSWORD, ENV_KEYSTORE_PASSWORD
    from tests.cli_json import result

    exe = Path(sys.executable).parent / "provenance"
    env = {**os.environ, ENV_KEYSTORE_PASSWORD: "issuer-pw", ENV_ADMIN_KEYSTORE_PASSWORD: "admin-pw"}
    out = {}
    for role, flags in (("issuer", []), ("admin", ["--admin"])):
        proc = subprocess.run(
            [str(exe), "keys", "new", str(tmp_path / f"{role}.json"), *flags, "--json"], capture_output=True, text=True, env=env, timeout=60
        )
        assert proc.returncode == 0, proc.stderr
        out[role] = result(proc.stdout)
        assert out[role]["role"] == role and "pw" not in proc.stdout + proc.stderr
    from eth_account import Account

    admin = json.loads((tmp_path / "admin.json").read_text())
    assert Account.from_key(Account.decrypt(admin, "admin-pw")).address == out["admin"]["address"]
    issuer = json.loads((tmp_path / "issuer.json").read_text())
    assert Account.from_key(Account.decrypt(issuer, "issuer-pw")).address == out["issuer"]["address"]
