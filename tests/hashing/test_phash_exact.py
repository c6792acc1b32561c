"""The batched torch pHash must give exactly imagehash.phash's hex string."""

from __future__ import annotations

import imagehash
import numpy as np
import pytest
from PIL import Image

from provenance.hashing.phash import phash_batch
from provenance.hashing.pil_lanczos import resize_gray

from .conftest import corpus_images, photo_like

SIZES = [(1, 1), (3, 50), (31, 32), (32, 32), (33, 40), (64, 64), (250, 1), (100, 1500), (777, 555)]


def _random_image(rng: np.random.Generator, size: tuple[int, int], mode: str) -> Image.Image:
    width, height = size
    channels = {"L": 1, "RGB": 3, "RGBA": 4}[mode]
    pixels = rng.integers(0, 256, (height, width, channels), dtype=np.uint8)
    return Image.fromarray(pixels[..., 0] if channels == 1 else pixels, mode)


@pytest.mark.parametrize("mode", ["L", "RGB", "RGBA"])
def test_matches_imagehash_on_noise_of_many_sizes(mode):
    rng = np.random.default_rng(7)
    images = [_random_image(rng, size, mode) for size in SIZES]
    expected = [str(imagehash.phash(image)) for image in images]
    assert [h[0] for h in phash_batch(images)] == expected


def test_matches_imagehash_on_flat_and_other_modes():
    images = [
        Image.new("RGB", (300, 200), (120, 30, 40)),
        Image.new("L", (64, 48), 0),
        Image.new("L", (64, 48), 255),
        photo_like(1).convert("P"),
        photo_like(2).convert("CMYK"),
        photo_like(3).convert("LA"),
        photo_like(4).convert("I"),
    ]
    expected = [str(imagehash.phash(image)) for image in images]
    assert [h[0] for h in phash_batch(images)] == expected


def test_same_size_batch_equals_one_by_one():
    images = [photo_like(seed, (400, 300)) for seed in range(6)]
    batched = [h[0] for h in phash_batch(images)]
    assert batched == [phash_batch([image])[0][0] for image in images]
    assert batched == [str(imagehash.phash(image)) for image in images]
    assert len(set(batched)) == len(batched)


def test_float32_fast_path_equals_float64_resize():
    rng = np.random.default_rng(3)
    import torch

    gray = torch.from_numpy(rng.integers(0, 256, (4, 300, 900), dtype=np.uint8))
    fast = resize_gray(gray, (32, 32), fast=True)
    exact = resize_gray(gray, (32, 32), fast=False)
    assert torch.equal(fast, exact)
    pil = np.stack([np.asarray(Image.fromarray(g.numpy()).resize((32, 32), Image.Resampling.LANCZOS)) for g in gray])
    assert np.array_equal(exact.numpy().astype(np.uint8), pil)


@pytest.mark.corpus
def test_matches_imagehash_on_corpus_photos(corpus):
    paths = corpus_images(corpus)
    images = [Image.open(path) for path in paths]
    expected = [str(imagehash.phash(image)) for image in images]
    assert [h[0] for h in phash_batch(images)] == expected
