"""The training data: corpus splits, sheet tiling, the manipulations, augmentation."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageFilter

from detect.train import synth
from detect.train.dataset import ImagePools, draw, fixed_set
from detect.train.metrics import accuracy, roc_auc
from detect.train.sources import SPLITS, corpus_images, corpus_split, split_sheet
from tests.detect.ens_helpers import needs_corpus, textured_image


def _photo(seed: int = 0, size: int = 300) -> np.ndarray:
    return np.asarray(textured_image(seed, size))


def test_split_is_a_stable_function_of_the_path():
    assert corpus_split("images/real/a.jpg") == corpus_split("images/real/a.jpg")
    assert {corpus_split(f"images/x{i}.png") for i in range(60)} == set(SPLITS)


@pytest.mark.corpus
@needs_corpus
def test_every_split_holds_both_classes():
    items = corpus_images()
    for split in SPLITS:
        labels = {item.label for item in items if item.split == split}
        assert labels == {0, 1}, split


def test_sheets_are_cut_into_disjoint_square_tiles():
    sheet = np.arange(260 * 1550 * 3, dtype=np.uint32).reshape(260, 1550, 3)
    parts = split_sheet(sheet)
    assert len(parts) == 5 and all(p.shape == (260, 260, 3) for p in parts)
    assert len({int(p[0, 0, 0]) for p in parts}) == 5


def test_upsampling_leaves_a_periodic_trace():
    """Generator-style up-sampling (nearest or transposed convolution, by 2, 4 or 8) makes neighbour
    differences depend on the column's phase modulo 8; a plain crop's do not."""
    photo = _photo(1, 256)

    def periodicity(tile):
        steps = np.abs(np.diff(tile.astype(np.float64).mean(axis=2), axis=1))[:, :120]
        by_phase = steps.reshape(len(steps), -1, 8).mean(axis=(0, 1))
        return by_phase.max() / max(by_phase.min(), 1e-9)

    fakes = [synth.upsample_artefact(np.random.default_rng(seed), photo, 128) for seed in range(12)]
    crops = [synth.random_crop(np.random.default_rng(seed), photo, 128) for seed in range(12)]
    assert all(f.shape == (128, 128, 3) and f.dtype == np.uint8 for f in fakes)
    assert sum(periodicity(f) > 1.2 for f in fakes) >= 10
    assert all(periodicity(c) < 1.1 for c in crops)


def test_self_blend_changes_pixels_inside_a_soft_region_only():
    rng = np.random.default_rng(3)
    mask = synth.soft_mask(np.random.default_rng(3), 128)
    assert mask.min() >= 0 and mask.max() <= 1 and 0 < mask.mean() < 1
    photo = _photo(2, 128)  # exactly one crop: blend target is the photo itself
    out = synth.self_blend(rng, photo, 128)
    changed = np.abs(out.astype(int) - photo.astype(int)).sum(axis=2) > 0
    assert 0.02 < changed.mean() < 0.98


def test_draw_balances_classes_and_keeps_shape():
    pools = ImagePools(real=[_photo(4), _photo(5)])
    rng = np.random.default_rng(1)
    labels = []
    for _ in range(60):
        tile, label = draw(rng, pools, 96)
        assert tile.shape == (96, 96, 3) and tile.dtype == np.uint8
        labels.append(label)
    assert 15 < sum(labels) < 45
    batch, y = fixed_set(pools, 64, 8, seed=2)
    again, y2 = fixed_set(pools, 64, 8, seed=2)
    assert batch.shape == (8, 3, 64, 64) and (batch == again).all() and (y == y2).all()


def test_jpeg_round_trip_changes_pixels_but_not_shape():
    photo = _photo(6, 64)
    out = synth.jpeg(photo, 60)
    assert out.shape == photo.shape and not np.array_equal(out, photo)


def test_metrics():
    assert roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == pytest.approx(0.75)
    assert roc_auc([1, 1], [0.2, 0.3]) != roc_auc([1, 1], [0.2, 0.3])  # NaN: one class only
    assert accuracy([0, 1, 1], [0.2, 0.6, 0.4], 0.5) == pytest.approx(2 / 3)


def test_rescale_enlarges_the_centre_to_the_same_size():
    rng = np.random.default_rng(4)
    photo = _photo(3, 128)
    out = synth.rescale(rng, photo)
    assert out.shape == photo.shape and out.dtype == np.uint8

    def high_energy(tile):
        return np.abs(np.diff(tile.astype(np.float64).mean(axis=2), axis=1)).mean()

    # Enlarging spreads each source pixel over several: less energy between neighbours.
    assert high_energy(out) < 0.8 * high_energy(photo)


def test_h264_round_trip_keeps_the_size_and_adds_codec_loss():
    photo = np.asarray(Image.fromarray(_photo(3, 161)).filter(ImageFilter.GaussianBlur(2)))
    light, heavy = synth.h264(photo, 18), synth.h264(photo, 40)
    assert light.shape == heavy.shape == photo.shape
    error = [np.abs(x.astype(int) - photo.astype(int)).mean() for x in (light, heavy)]
    assert 0 < error[0] < error[1] < 20
