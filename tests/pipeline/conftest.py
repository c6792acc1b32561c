"""A fresh registry deployment per test on the session's anvil, and media made by the tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from provenance.certify import Certifier, CertifyOptions
from provenance.chain import deploy, open_web3
from provenance.chain.keys import dev_account
from provenance.chain.node import DEV_PRIVATE_KEY
from provenance.chain_admin import chain_config
from provenance.config import load_settings
from provenance.context import Parts, open_parts
from provenance.scanning import NoScanner
from scripts.make_samples import scene


@pytest.fixture
def parts(anvil, home, monkeypatch) -> Parts:
    monkeypatch.setenv("PROVENANCE_RPC_URL", anvil.url)
    # The dev key is public; tests pass it the way a user passes a real key.
    monkeypatch.setenv("PROVENANCE_PRIVATE_KEY", DEV_PRIVATE_KEY)
    settings = load_settings()
    deploy(chain_config(settings), open_web3(anvil.url), anvil.url, dev_account())
    return open_parts(settings, signer=True)


@pytest.fixture
def admin(parts):
    """The registry signing with the admin key: on a local chain the second dev account, never the issuer."""
    from provenance.chain.session import admin_registry

    return admin_registry(chain_config(parts.settings), parts.chain)


@pytest.fixture
def certify(parts):
    certifier = Certifier(parts.chain, parts.store, parts.ledger, NoScanner())

    def run(*paths: Path, **options):
        return certifier.certify(list(paths), CertifyOptions(**options))

    return run


@pytest.fixture
def photo(tmp_path) -> Path:
    path = tmp_path / "photo.png"
    scene(seed=11).save(path)
    return path


def make_photo(path: Path, seed: int) -> Path:
    scene(seed=seed).save(path)
    return path


def edited(src: Path, dest: Path, edit) -> Path:
    with Image.open(src) as img:
        out = edit(img.convert("RGB"))
    out.save(dest, quality=90) if dest.suffix == ".jpg" else out.save(dest)
    return dest
