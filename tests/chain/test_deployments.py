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
