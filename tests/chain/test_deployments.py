"""Deployments are recorded per chain and a different or reset chain is reported."""

from __future__ import annotations

import pytest

from provenance.chain import ChainConfig, DeploymentError, EphemeralNode, connect, deploy, open_web3
from provenance.chain.keys import dev_account


def test_connect_finds_recorded_deployment(anvil, tmp_path):
    config = ChainConfig(home=tmp_path, rpc_url=anvil.url)
    session = deploy(config, open_web3(anvil.url), anvil.url, dev_account())
    again = connect(config)
    assert again.deployment == session.deployment
    assert again.registry.is_issuer(dev_account().address)


def test_other_chain_with_same_id_is_reported(anvil, tmp_path):
    config = ChainConfig(home=tmp_path, rpc_url=anvil.url)
    deploy(config, open_web3(anvil.url), anvil.url, dev_account())
    with EphemeralNode(tmp_path) as other:
        moved = ChainConfig(home=tmp_path, rpc_url=other.url)
        with pytest.raises(DeploymentError, match="not the one"):
            connect(moved)


def test_no_deployment_is_a_clear_error(anvil, tmp_path):
    with pytest.raises(DeploymentError, match="no registry deployment recorded"):
        connect(ChainConfig(home=tmp_path, rpc_url=anvil.url))


def _registry_code_elsewhere(w3, code: bytes | str) -> str:
    """An address that is no recorded deployment, holding `code` (anvil_setCode)."""
    import secrets

    from web3 import Web3

    address = Web3.to_checksum_address("0x" + secrets.token_hex(20))
    w3.provider.make_request("anvil_setCode", [address, code if isinstance(code, str) else "0x" + code.hex()])
    return address


def test_checks_really_run_and_say_what_they_checked(anvil, tmp_path):
    config = ChainConfig(home=tmp_path, rpc_url=anvil.url)
    deployed = deploy(config, open_web3(anvil.url), anvil.url, dev_account())
    session = connect(config)
    check = session.check
    assert check.passed and check.recorded
    assert [c.name for c in check.checks] == ["chain id", "genesis", "deploy block", "runtime code"]
    assert all(c.passed for c in check.checks)
    assert deployed.deployment.deploy_block_hash[:10] in check.reason
    assert "runtime code" in check.reason and "CertificateRegistry" in check.reason


def test_recorded_address_whose_code_changed_is_refused(anvil, tmp_path):
    config = ChainConfig(home=tmp_path, rpc_url=anvil.url)
    w3 = open_web3(anvil.url)
    session = deploy(config, w3, anvil.url, dev_account())
    w3.provider.make_request("anvil_setCode", [session.deployment.address, "0x6080604052600080fd"])
    with pytest.raises(DeploymentError, match="runtime code"):
        connect(config)


def test_unrecorded_contract_address_fails_closed(anvil, tmp_path, monkeypatch):
    """PROVENANCE_CONTRACT naming an address nobody recorded is refused, whatever code it holds."""
    config = ChainConfig(home=tmp_path, rpc_url=anvil.url)
    w3 = open_web3(anvil.url)
    deploy(config, w3, anvil.url, dev_account())
    other = deploy(ChainConfig(home=tmp_path / "elsewhere", rpc_url=anvil.url), w3, anvil.url, dev_account())
    junk = _registry_code_elsewhere(w3, "0x6080604052600080fd")
    for address in (other.deployment.address, junk):
        with pytest.raises(DeploymentError, match="not a recorded registry deployment"):
            connect(ChainConfig(home=tmp_path, rpc_url=anvil.url, contract=address))


def test_trusting_an_address_checks_it_and_records_it(anvil, tmp_path):
    from provenance.chain.deployments import trust_deployment

    w3 = open_web3(anvil.url)
    genuine = deploy(ChainConfig(home=tmp_path / "elsewhere", rpc_url=anvil.url), w3, anvil.url, dev_account())
    copied_code = _registry_code_elsewhere(w3, w3.eth.get_code(genuine.deployment.address))
    junk = _registry_code_elsewhere(w3, "0x6080604052600080fd")
    with pytest.raises(DeploymentError, match="runtime code"):
        trust_deployment(w3, junk)
    # The right code but no deployment to be found (set, not deployed): no deploy block to record.
    with pytest.raises(DeploymentError, match="deploy block"):
        trust_deployment(w3, copied_code)
    found = trust_deployment(w3, genuine.deployment.address)
    assert found == genuine.deployment
    config = ChainConfig(home=tmp_path, rpc_url=anvil.url, contract=genuine.deployment.address)
    config.book.record(found)
    assert connect(config).deployment == genuine.deployment


def test_cli_chain_trust_records_a_checked_deployment(anvil, home, monkeypatch):
    from tests.cli_json import result
    from tests.pipeline.cli_helpers import run_cli

    w3 = open_web3(anvil.url)
    genuine = deploy(ChainConfig(home=home / "elsewhere", rpc_url=anvil.url), w3, anvil.url, dev_account())
    env = {"PROVENANCE_RPC_URL": anvil.url, "PROVENANCE_CONTRACT": genuine.deployment.address}
    refused = run_cli("show", "0x01", "--json", env=env)
    assert refused.returncode != 0 and "not a recorded registry deployment" in refused.stderr
    assert "chain trust" in refused.stderr
    trusted = run_cli("chain", "trust", genuine.deployment.address, "--json", env=env)
    assert trusted.returncode == 0, trusted.stderr
    data = result(trusted.stdout)
    assert data["contract"] == genuine.deployment.address and data["deploy_block"] == genuine.deployment.deploy_block
    assert any("runtime code" in c for c in data["checks"])
    shown = run_cli("show", "0x01", "--json", env=env)
    assert "no certificate with token id" in shown.stderr
