"""Fixtures shared by the whole suite: a real anvil node per session, isolated homes."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def anvil(tmp_path_factory):
    """A fresh local chain for the test session, always stopped at the end."""
    from provenance.chain import EphemeralNode

    with EphemeralNode(tmp_path_factory.mktemp("anvil")) as node:
        yield node


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """An empty PROVENANCE_HOME, so no test touches the user's data."""
    path = tmp_path / "home"
    path.mkdir()
    monkeypatch.setenv("PROVENANCE_HOME", str(path))
    for name in (
        "PROVENANCE_RPC_URL",
        "PROVENANCE_CONTRACT",
        "PROVENANCE_PRIVATE_KEY",
        "PROVENANCE_KEYSTORE",
        "PROVENANCE_ADMIN_PRIVATE_KEY",
        "PROVENANCE_ADMIN_KEYSTORE",
    ):
        monkeypatch.delenv(name, raising=False)
    return path
