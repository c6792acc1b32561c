"""The ABI and bytecode committed for Python equal a fresh Hardhat build."""

from __future__ import annotations

import json

import pytest

from provenance.chain.artifact import CONTRACTS, hardhat_artifact_path, load_artifact
from tests.conftest import REPO


@pytest.mark.parametrize("name", CONTRACTS)
def test_committed_artifact_matches_build(name):
    built = hardhat_artifact_path(REPO, name)
    if not built.exists():
        pytest.skip("contracts not built: run `make setup`")
    fresh = json.loads(built.read_text())
    committed = load_artifact(name)
    assert committed.abi == fresh["abi"], "stale ABI: run `make contracts`"
    assert committed.bytecode == fresh["bytecode"], "stale bytecode: run `make contracts`"
    assert committed.runtime == fresh["deployedBytecode"], "stale runtime code: run `make contracts`"
    assert not fresh["immutableReferences"], "runtime code must be the same at every address (deployment check)"
