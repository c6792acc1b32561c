"""The batched pHash (numpy/torch bands on the CPU, torch elsewhere) must give exactly imagehash.phash's hex string."""

from __future__ import annotations

import imagehash
import numpy as np
import pytest
import torch
from PIL import Image

from provenance.hashing import lanczos_cpu
from provenance.hashing.phash import _cpu_blocks, _torch_blocks, phash_batch
from provenance.hashing.pil_lanczos import lanczos_weights, resize_gray

from .conftest import corpus_images, photo_like

SIZES = [(1, 1), (3, 50), (31, 32), (32, 32), (33, 40), (64, 64), (250, 1), (100, 1500), (777, 555)]
# 1xN and Nx1 strips, extreme aspect ratios, odd and prime sizes, and widths
# past ~5000 px where the float32 split cannot be exact (the float64 bands).
EXTREME_SIZES = [(1, 999), (999, 1), (2, 4097), (4099, 3), (5003, 17), (6000, 7), (7, 6000), (20000, 3), (3, 20000), (127, 129)]


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


def test_matches_imagehash_on_extreme_shapes_and_saturated_pixels():
    """Noise and pure 0/255 noise (the largest sums the exactness bound must cover) on strips and huge sides."""
    rng = np.random.default_rng(11)
    images = []
    for width, height in EXTREME_SIZES:
        images.append(Image.fromarray(rng.integers(0, 256, (height, width), dtype=np.uint8), "L"))
        images.append(Image.fromarray((rng.integers(0, 2, (height, width)) * 255).astype(np.uint8), "L"))
    images.append(Image.new("L", (4000, 9), 255))
    expected = [str(imagehash.phash(image)) for image in images]
    assert [h[0] for h in phash_batch(images)] == expected


def test_resize_stack_equals_pillow_on_both_product_kinds():
    rng = np.random.default_rng(5)
    assert lanczos_cpu.axis_plan(640, 32).split  # the float32 hi/lo bands
    assert not lanczos_cpu.axis_plan(20000, 32).split  # too wide: float64 bands
    for width, height in [(640, 480), (20000, 2), (2, 20000), (32, 700), (700, 32), (32, 32)]:
        planes = rng.integers(0, 256, (3, height, width), dtype=np.uint8)
        expected = np.stack([np.asarray(Image.fromarray(p).resize((32, 32), Image.Resampling.LANCZOS)) for p in planes])
        assert np.array_equal(lanczos_cpu.resize_stack(planes.astype(np.float32), (32, 32)), expected), (width, height)


@pytest.mark.parametrize("in_size", [1, 33, 128, 512, 1000, 2203, 5000, 9000])
def test_split_weights_sum_back_and_keep_float32_sums_exact(in_size):
    weights = lanczos_weights(in_size, 32)
    split = lanczos_cpu.split_weights(weights)
    if split is None:
        # Only very wide rows lose the exact split, and then every shift fails one of the two bounds.
        assert in_size > 5000
        return
    hi, lo = split
    assert np.array_equal(hi.astype(np.float64) + lo.astype(np.float64), weights)
    # The largest power of two dividing every hi weight: hi sums are exact up to 2**24 times it.
    step = next(2.0**shift for shift in range(23, -1, -1) if np.all(np.mod(hi, 2.0**shift) == 0))
    assert 255 * np.abs(hi.astype(np.float64)).sum(axis=1).max() <= 2.0**24 * step
    assert 255 * np.abs(lo.astype(np.float64)).sum(axis=1).max() <= 2.0**24


def test_empty_images_hash_as_imagehash_does():
    """Pillow resizes an empty image to zeros; imagehash then gives 0000000000000000."""
    images = [Image.new("RGB", (0, 5)), Image.new("L", (7, 0)), Image.new("L", (0, 0)), photo_like(3, (40, 30))]
    expected = [str(imagehash.phash(image)) for image in images]
    assert [h[0] for h in phash_batch(images)] == expected
    assert np.array_equal(_torch_blocks(images, torch.device("cpu")), _cpu_blocks(images, workers=2))


def test_more_modes_as_imagehash_converts_them():
    base = photo_like(9, (203, 157))
    rng = np.random.default_rng(2)
    wide = Image.fromarray(rng.integers(0, 65536, (61, 90), dtype=np.uint16).astype(np.uint16))  # I;16
    images = [
        base.convert("1"),
        base.convert("P", palette=Image.Palette.ADAPTIVE, colors=17),
        base.convert("RGBA"),
        base.convert("CMYK"),
        base.convert("YCbCr"),
        base.convert("F"),
        wide,
        base.convert("L").convert("I;16"),
    ]
    assert wide.mode.startswith("I;16")
    expected = [str(imagehash.phash(image)) for image in images]
    assert [h[0] for h in phash_batch(images)] == expected


def test_threads_lazy_decoding_and_one_by_one_agree(tmp_path):
    """Files opened lazily are decoded in the worker threads; every worker count gives imagehash's bits."""
    paths = []
    for seed in range(7):
        path = tmp_path / f"p{seed}.{'png' if seed % 2 else 'jpg'}"
        photo_like(seed, (96 + 40 * (seed % 3), 80)).save(path)
        paths.append(path)
    expected = [str(imagehash.phash(Image.open(path))) for path in paths]
    for workers in (1, 2, 5):
        assert [h[0] for h in phash_batch([Image.open(path) for path in paths], workers=workers)] == expected


def test_a_worker_error_reaches_the_caller(tmp_path):
    broken = tmp_path / "broken.png"
    photo_like(1, (120, 90)).save(broken)
    broken.write_bytes(broken.read_bytes()[:200])  # header intact, pixel data cut
    good = [photo_like(seed, (120, 90)) for seed in range(4)]
    with pytest.raises(OSError):
        phash_batch([*good, Image.open(broken)], workers=2)


def test_torch_path_equals_cpu_path_on_the_cpu():
    """The CUDA code path (`_torch_blocks`) runs on the CPU here and must agree with the CPU bands."""
    rng = np.random.default_rng(4)
    images = [photo_like(seed, size) for seed, size in enumerate([(300, 200), (300, 200), (64, 900), (33, 40)])]
    images.append(Image.fromarray(rng.integers(0, 256, (50, 3000), dtype=np.uint8), "L"))
    assert np.array_equal(_torch_blocks(images, torch.device("cpu")), _cpu_blocks(images, workers=2))


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


@pytest.fixture
def reduced_float32_matmul():
    """An application that lets torch use TF32/bfloat16 for float32 products."""
    torch.set_float32_matmul_precision("medium")
    yield
    torch.set_float32_matmul_precision("highest")


def test_reduced_precision_matmul_turns_the_float32_torch_products_off(reduced_float32_matmul):
    from provenance.hashing.pil_lanczos import float32_matmul_is_ieee

    assert not float32_matmul_is_ieee(torch.device("cpu"))
    assert not float32_matmul_is_ieee(torch.device("cuda"))
    images = [photo_like(seed, (250, 190)) for seed in range(3)]
    expected = [str(imagehash.phash(image)) for image in images]
    assert [h[0] for h in phash_batch(images)] == expected
    assert np.array_equal(_torch_blocks(images, torch.device("cpu")), _cpu_blocks(images, workers=1))


def test_ieee_float32_by_default():
    from provenance.hashing.pil_lanczos import float32_matmul_is_ieee

    assert float32_matmul_is_ieee(torch.device("cpu"))
