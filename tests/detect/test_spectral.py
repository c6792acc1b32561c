"""Spectral detector: the radial profile, the fitted parameters, the shipped file."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import torch

from detect.base import Task
from detect.models.spectral import (
    DEFAULT_WEIGHTS,
    SpectralError,
    SpectralParams,
    load_spectral,
    radial_bins,
    radial_profile,
)
from detect.tiles import tiles, to_rgb_array
from tests.detect.ens_helpers import CORPUS, needs_corpus, textured_image, upsampled


def test_radial_bins_average_whole_rings():
    matrix = radial_bins(32, 16)
    assert matrix.shape == (16, 32 * 32)
    assert torch.allclose(matrix.sum(dim=1), torch.ones(16))
    # The DC term (centre after fftshift) belongs to ring 0 only.
    centre = 16 * 32 + 16
    assert matrix[0, centre] > 0 and matrix[1:, centre].sum() == 0
    # A far corner lies beyond radius size/2: in no ring.
    assert matrix[:, 0].sum() == 0


def test_profile_drops_at_high_frequency_for_upsampled_content():
    image = textured_image(1, 256)
    original = tiles(to_rgb_array(image), 256, 1)
    rebuilt = tiles(to_rgb_array(upsampled(image)), 256, 1)
    p_orig, p_up = radial_profile(original, 32)[0], radial_profile(rebuilt, 32)[0]
    # Beyond 1/4 of Nyquist the rebuilt image has lost most of its power.
    assert (p_orig[-8:] - p_up[-8:]).min() > 1.0
    assert abs(float(p_orig.mean())) < 1e-4  # profiles are centred


def test_profile_ignores_brightness_and_contrast():
    batch = tiles(to_rgb_array(textured_image(2, 128)), 128, 1)
    changed = (batch * 0.6 + 0.2).clamp(0, 1)
    assert torch.allclose(radial_profile(batch, 16), radial_profile(changed, 16), atol=1e-3)


def test_shipped_parameters_load_with_their_hash():
    detector = load_spectral()
    assert detector.card.weights_sha256 == hashlib.sha256(DEFAULT_WEIGHTS.read_bytes()).hexdigest()
    assert detector.card.task == Task.IMAGE
    size = detector.card.input_size[0]
    batch = tiles(to_rgb_array(textured_image(3, size)), size, 1)
    first, second = detector.score(batch), detector.score(batch)
    assert first.shape == (1,) and 0.0 <= float(first[0]) <= 1.0
    assert torch.equal(first, second)  # deterministic on CPU


def test_spectral_is_differentiable():
    detector = load_spectral()
    size = detector.card.input_size[0]
    batch = tiles(to_rgb_array(textured_image(4, size)), size, 1).requires_grad_(True)
    detector(batch).sum().backward()
    assert batch.grad is not None and batch.grad.abs().sum() > 0


def test_parameter_file_round_trip_and_errors(tmp_path):
    params = SpectralParams(size=64, bins=4, mean=[0.0] * 4, std=[1.0] * 4, coef=[1.0, 0, 0, -1], bias=0.5)
    assert SpectralParams.from_json(params.to_json()) == params
    path = tmp_path / "spectral.json"
    path.write_text(params.to_json())
    assert load_spectral(path).card.input_size == (64, 64)
    with pytest.raises(SpectralError, match="not found"):
        load_spectral(tmp_path / "absent.json")
    path.write_text('{"size": 64}')
    with pytest.raises(SpectralError, match="malformed"):
        load_spectral(path)
    path.write_text(params.to_json().replace('"bins": 4', '"bins": 5'))
    with pytest.raises(SpectralError, match="lengths"):
        load_spectral(path)


def test_non_square_input_is_refused():
    with pytest.raises(SpectralError, match="square"):
        radial_profile(torch.zeros(1, 3, 32, 48), 8)


@pytest.mark.corpus
@needs_corpus
def test_shipped_detector_scores_upsampled_photos_higher():
    """Real photos vs the same photos rebuilt 4x: the fitted classifier ranks the rebuilt ones higher."""
    detector = load_spectral()
    size = detector.card.input_size[0]
    names = ["skimage_coffee.png", "bench2.png", "alex-iby-G_Pk4D9rMLs.png", "skimage_chelsea.png"]
    from PIL import Image

    originals, rebuilt = [], []
    for name in names:
        image = Image.open(CORPUS / "images/real" / name).convert("RGB")
        originals.append(float(detector.score(tiles(to_rgb_array(image), size, 4)).mean()))
        rebuilt.append(float(detector.score(tiles(to_rgb_array(upsampled(image)), size, 4)).mean()))
    assert np.mean(rebuilt) > np.mean(originals)
    assert sum(r > o for r, o in zip(rebuilt, originals)) >= 3
