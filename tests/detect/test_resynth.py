"""Synthetic up-sampling fakes (detect/train/resynth.py) and their use in the artifact CNN's training."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from detect.models.artifact import read_weights
from detect.train.fit_artifact import CACHE_SIDE, Recipe, train
from detect.train.resynth import resynthesise
from tests.detect.test_artifact import dataset, one_thread  # noqa: F401, F811  (fixtures: the tiny built data set; one torch thread)


def photo_like(seed: int = 0, side: int = CACHE_SIDE["image"]) -> np.ndarray:
    """Smooth shapes plus sensor-like noise: content to keep, and fine texture with no 2x2 grid of its own."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:side, 0:side] / side
    base = np.stack([np.sin(6 * x + c) * np.cos(4 * y - c) for c in range(3)], axis=-1) * 80 + 128
    return np.clip(base + rng.normal(0, 12, size=base.shape), 0, 255).astype(np.uint8)


def grid_trace(rgb: np.ndarray) -> float:
    """How differently neighbours inside a 2x2 cell and neighbours across cells differ (0 for a photo)."""
    grey = rgb.astype(float).mean(axis=2)
    steps = np.abs(np.diff(grey, axis=1))
    return float(abs(np.log(steps[:, 0::2].mean() / steps[:, 1::2].mean())))


def test_a_synthetic_fake_keeps_the_crops_size_content_and_colour():
    crop = photo_like()
    for seed in range(8):
        fake = resynthesise(np.random.default_rng(seed), crop)
        assert fake.shape == crop.shape and fake.dtype == np.uint8
        assert np.corrcoef(fake.astype(float).ravel(), crop.astype(float).ravel())[0, 1] > 0.8
        # Each channel keeps its mean and spread, so colour and contrast are not what training can learn.
        assert np.abs(fake.mean(axis=(0, 1)) - crop.mean(axis=(0, 1))).max() < 2.0
        assert np.allclose(fake.std(axis=(0, 1)), crop.std(axis=(0, 1)), rtol=0.05)


def test_synthetic_fakes_carry_an_up_sampling_grid_the_real_crop_lacks():
    crop = photo_like(1)
    fakes = [resynthesise(np.random.default_rng(seed), crop) for seed in range(12)]
    assert grid_trace(crop) < 0.02
    assert np.median([grid_trace(f) for f in fakes]) > max(10 * grid_trace(crop), 0.02)


def test_synthetic_fakes_are_reproducible_and_vary_between_draws():
    crop = photo_like(2)
    one, again = resynthesise(np.random.default_rng(5), crop), resynthesise(np.random.default_rng(5), crop)
    other = resynthesise(np.random.default_rng(6), crop)
    assert np.array_equal(one, again)
    assert not np.array_equal(one, other)
    readonly = crop.copy()
    readonly.flags.writeable = False  # the training's cached crops
    assert np.array_equal(resynthesise(np.random.default_rng(5), readonly), one)


def test_training_replaces_that_share_of_fake_tiles_and_records_it(dataset, tmp_path):  # noqa: F811
    lines: list[str] = []
    recipe = Recipe(batch=8, steps=4, width=8, views=1, seed=3, resynth=1.0)
    train(dataset, tmp_path / "all.pt", recipe, log=lines.append)
    counts = [line for line in lines if line.startswith("synthetic up-sampling fakes")]
    assert len(counts) == 1
    synthetic, fakes = (int(n) for n in counts[0].split(": ")[1].replace(" fake tiles", "").split(" of "))
    assert fakes > 0 and synthetic == fakes  # every fake pick, at a share of 1
    _net, meta, _digest = read_weights(tmp_path / "all.pt")
    assert meta["recipe"]["resynth"] == 1.0 and "--resynth 1" in meta["command"]

    plain: list[str] = []
    train(dataset, tmp_path / "none.pt", Recipe(batch=8, steps=4, width=8, views=1, seed=3), log=plain.append)
    assert not any(line.startswith("synthetic") for line in plain)


@pytest.mark.parametrize("share", [0.0, 0.5])
def test_the_resynth_share_is_in_the_recipe_and_its_command(share):
    flags = Recipe(resynth=share).flags()
    assert ("--resynth 0.5" in flags) == (share == 0.5)


# ------------------------------------------------------------------ self-blended faces in npr-cnn-face's training

CORPUS = Path(__file__).resolve().parents[2] / "../shared/corpus/images"


def face_data_set(root: Path) -> Path:
    """A hand-written index of corpus portraits (face task): real photos as 'real', MesoNet's deepfake crops as 'fake'."""
    import csv
    import shutil

    from detect.train.data import INDEX_FIELDS

    rows = []
    for label, names in (("real", ["obama.jpg", "biden.jpg"]), ("fake", ["meso_df00204.jpg", "meso_df01254.jpg"])):
        for name in names:
            target = root / label / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(CORPUS / label / name, target)
            family = "face" if label == "real" else "faceswap"
            rows.append(
                dict.fromkeys(INDEX_FIELDS, "x")
                | {
                    "path": f"{label}/{name}",
                    "source": label,
                    "label": label,
                    "family": family,
                    "generator": family,
                    "content": "face",
                    "task": "face",
                    "split": "train",
                }
            )
    with (root / "index.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=INDEX_FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    return root


def test_face_training_with_sbi_self_blends_real_aligned_crops(tmp_path):
    if not (CORPUS / "real/obama.jpg").is_file():
        pytest.skip("needs ../shared/corpus")
    root = face_data_set(tmp_path / "faces")
    lines: list[str] = []
    recipe = Recipe(kind="face", batch=6, steps=3, width=8, seed=1, framing="aligned", sbi=1.0)
    train(root, tmp_path / "face.pt", recipe, log=lines.append)
    counts = [line for line in lines if line.startswith("synthetic self-blended faces")]
    assert len(counts) == 1
    synthetic, fakes = (int(n) for n in counts[0].split(": ")[1].replace(" fake tiles", "").split(" of "))
    assert fakes > 0 and synthetic == fakes
    _net, meta, _digest = read_weights(tmp_path / "face.pt")
    assert "--sbi 1" in meta["command"] and "--framing aligned" in meta["command"]

    # In the other framing the crops carry no landmarks, so there is nothing to blend on: a clear error, no file.
    with pytest.raises(ValueError, match="--framing aligned"):
        train(root, tmp_path / "crop.pt", Recipe(kind="face", batch=6, steps=1, width=8, sbi=0.5), log=lambda line: None)
    assert not (tmp_path / "crop.pt").exists()


def test_the_command_refuses_sbi_outside_aligned_face_training(tmp_path):
    import subprocess
    import sys

    for flags in (
        ["--kind", "image", "--sbi", "0.5"],
        ["--kind", "face", "--sbi", "0.5"],
        ["--kind", "face", "--resynth", "0.3"],
        ["--resynth", "2"],
    ):
        done = subprocess.run(
            [sys.executable, "-m", "detect.train", "artifact", str(tmp_path), *flags], capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 2 and "Traceback" not in done.stderr
        assert ("--sbi" in done.stderr) or ("--resynth" in done.stderr)
