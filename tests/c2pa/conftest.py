"""C2PA tests: the reference implementation's sample manifests, and a real chain for the round trip."""

from __future__ import annotations

from pathlib import Path

import pytest

# The chain fixtures of the pipeline tests (a fresh registry per test on the session's anvil).
from tests.pipeline.conftest import parts, photo  # noqa: F401

SAMPLES = (Path(__file__).resolve().parents[2].parent / "shared" / "c2pa").resolve()
PASSWORD = "c2pa test password"


@pytest.fixture
def samples() -> Path:
    if not SAMPLES.is_dir():
        pytest.skip(f"C2PA samples not found at {SAMPLES}")
    return SAMPLES


@pytest.fixture
def dev_cert(home, monkeypatch):
    """A development CA and issuer certificate in the test's home, its password in the environment."""
    from provenance.c2pa.certs import ENV_C2PA_KEY_PASSWORD, create_dev_certificate

    monkeypatch.setenv(ENV_C2PA_KEY_PASSWORD, PASSWORD)
    return create_dev_certificate(home, PASSWORD)
