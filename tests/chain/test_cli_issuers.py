"""`provenance chain deploy` with two keys and `provenance issuers grant|revoke|list` (issue 16, finding 8)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from eth_account import Account

from provenance.chain.keys import DEV_ADMIN_ADDRESS, DEV_ADMIN_PRIVATE_KEY
from provenance.chain.node import DEV_ADDRESS, DEV_PRIVATE_KEY
from tests.cli_json import error, result

EXE = Path(sys.executable).parent / "provenance"


@pytest.fixture
def cli(anvil, home, monkeypatch):
    monkeypatch.setenv("PROVENANCE_RPC_URL", anvil.url)
    monkeypatch.setenv("PROVENANCE_PRIVATE_KEY", DEV_PRIVATE_KEY)  # the issuer's key
    monkeypatch.delenv("PROVENANCE_ADMIN_PRIVATE_KEY", raising=False)

    def run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
        proc = subprocess.run([str(EXE), *args], capture_output=True, text=True, timeout=120, env={**os.environ, **(env or {})})
        for key in (DEV_PRIVATE_KEY, DEV_ADMIN_PRIVATE_KEY):  # keys are never printed
            assert key[2:] not in proc.stdout + proc.stderr
        assert "Traceback" not in proc.stdout + proc.stderr
        return proc

    return run


def _deployed(cli) -> dict:
    proc = cli("chain", "deploy", "--json")
    assert proc.returncode == 0, proc.stderr
    return result(proc.stdout)


def test_deploy_makes_the_admin_key_admin_and_the_issuer_key_issuer(cli):
    status = _deployed(cli)
    assert status["issuer"] == DEV_ADDRESS and status["issuer_has_role"] is True
    assert status["admin"] == DEV_ADMIN_ADDRESS and status["admin_has_role"] is True
    listing = result(cli("issuers", "list", "--json").stdout)
    assert listing["issuers"] == [{"address": DEV_ADDRESS, "issuer_id": 1, "active": True}]
    assert listing["admins"] == [DEV_ADMIN_ADDRESS]


def test_deploy_refuses_one_key_for_both_roles(cli):
    proc = cli("chain", "deploy", "--json", env={"PROVENANCE_ADMIN_PRIVATE_KEY": DEV_PRIVATE_KEY})
    assert proc.returncode == 1
    assert "same account" in error(proc.stdout) and "same account" in proc.stderr


def test_admin_grants_and_revokes_issuers(cli):
    _deployed(cli)
    newcomer = Account.create().address
    granted = result(cli("issuers", "grant", newcomer, "--json").stdout)
    assert granted["changed"] and granted["active"] and granted["tx_hash"]
    assert result(cli("issuers", "grant", newcomer, "--json").stdout)["changed"] is False  # nothing sent
    listing = {e["address"]: e for e in result(cli("issuers", "list", "--json").stdout)["issuers"]}
    assert listing[newcomer] == {"address": newcomer, "issuer_id": 2, "active": True}
    revoked = result(cli("issuers", "revoke", newcomer, "--json").stdout)
    assert revoked["changed"] and not revoked["active"]
    listing = {e["address"]: e for e in result(cli("issuers", "list", "--json").stdout)["issuers"]}
    assert listing[newcomer]["active"] is False and listing[DEV_ADDRESS]["active"] is True
    human = cli("issuers", "list")
    assert human.returncode == 0 and newcomer in human.stdout and "role revoked" in human.stdout


def test_issuer_key_cannot_manage_issuers_and_admins_are_never_issuers(cli):
    _deployed(cli)
    newcomer = Account.create().address
    as_issuer = cli("issuers", "grant", newcomer, "--json", env={"PROVENANCE_ADMIN_PRIVATE_KEY": DEV_PRIVATE_KEY})
    assert as_issuer.returncode == 1 and "AccessControlUnauthorizedAccount" in error(as_issuer.stdout)
    admin_as_issuer = cli("issuers", "grant", DEV_ADMIN_ADDRESS)
    assert admin_as_issuer.returncode == 1 and "admin" in admin_as_issuer.stderr
    bad = cli("issuers", "grant", "not-an-address")
    assert bad.returncode == 1 and "not an Ethereum address" in bad.stderr
    listing = result(cli("issuers", "list", "--json").stdout)
    assert [e["address"] for e in listing["issuers"]] == [DEV_ADDRESS]
