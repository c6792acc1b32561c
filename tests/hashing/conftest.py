"""Fixtures for the hashing tests: an isolated home, generated photos, the shared corpus."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import create_engine

CORPUS = (Path(__file__).resolve().parents[2] / "../shared/corpus").resolve()


@pytest.fixture(autouse=True)
def isolated_home(tmp_path, monkeypatch):
    monkeypatch.setenv("PROVENANCE_HOME", str(tmp_path / "home"))


def photo_like(seed: int, size: tuple[int, int] = (320, 240)) -> Image.Image:
    """A smooth random RGB picture: coarse noise upsampled, plus fine texture.

    Plain noise has no low-frequency structure, so perceptual hashes of it are
    meaningless; this has blobs and edges at several scales, like a photo.
    """
    rng = np.random.default_rng(seed)
    width, height = size
    layers = []
    for cells in (4, 9, 23):
        coarse = rng.integers(0, 256, (cells, cells, 3), dtype=np.uint8)
        layers.append(np.asarray(Image.fromarray(coarse).resize(size, Image.Resampling.BICUBIC), dtype=np.float64))
    fine = rng.normal(0, 8, (height, width, 3))
    mixed = 0.5 * layers[0] + 0.3 * layers[1] + 0.2 * layers[2] + fine
    return Image.fromarray(np.clip(mixed, 0, 255).astype(np.uint8), "RGB")


@pytest.fixture
def corpus() -> Path:
    if not CORPUS.is_dir():
        pytest.skip(f"shared corpus not found at {CORPUS}")
    return CORPUS


def corpus_images(corpus: Path) -> list[Path]:
    return sorted(p for p in (corpus / "images").rglob("*") if p.suffix.lower() in {".jpg", ".jpeg", ".png"})


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request, tmp_path):
    """An empty ledger database: SQLite, and PostgreSQL if PROVENANCE_TEST_POSTGRES_URL is set."""
    if request.param == "sqlite":
        yield create_engine(f"sqlite:///{tmp_path / 'ledger.db'}")
        return
    url = os.environ.get("PROVENANCE_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("PROVENANCE_TEST_POSTGRES_URL not set")
    # A schema of its own: migrations start from an empty database, and dropping
    # the index tables in the shared one would leave a migrated ledger there
    # (tests/pipeline/test_postgres.py) without them.
    schema = f"hashing_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    engine = create_engine(url, connect_args={"options": f"-csearch_path={schema}"})
    yield engine
    engine.dispose()
    with admin.begin() as conn:
        conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
    admin.dispose()
