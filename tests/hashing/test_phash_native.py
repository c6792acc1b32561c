"""The compiled kernel (`_pillow_lanczos`) must give exactly Pillow's convert('L') + LANCZOS resize, on both its paths."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from provenance.hashing import lanczos_native
from provenance.hashing.phash import _native_blocks, _numpy_blocks, phash_batch

from .conftest import CORPUS, photo_like

kernel = pytest.importorskip("provenance.hashing._pillow_lanczos", reason="built without a C compiler")

# Every mode Pillow can turn into 'L': the kernel reads L and RGB/RGBA/RGBX itself, the rest after Pillow's convert.
MODES = ["L", "RGB", "RGBA", "RGBX", "P", "LA", "1", "I", "I;16", "F", "CMYK", "YCbCr", "HSV", "PA", "RGBa"]
# Odd and prime sides, 1-px strips, sides equal to the output (a skipped pass), upscaling, and
# sides past 6000 px where the hi parts need no shift (no lo parts at all).
SIZES = [(1, 1), (3, 50), (31, 32), (32, 32), (32, 97), (97, 32), (33, 40), (64, 64), (250, 1), (777, 555), (6007, 5), (5, 6007)]
OUTPUTS = [(32, 32), (7, 5), (64, 48)]  # the pHash size, output widths that are not a multiple of 8, upscaling


def _image(rng: np.random.Generator, size: tuple[int, int], mode: str, saturated: bool) -> Image.Image:
    width, height = size
    pixels = rng.integers(0, 256, (height, width, 4), dtype=np.uint8)
    if saturated:  # 0/255 noise: the largest sums, and outputs clipped at both ends
        pixels = (pixels > 127).astype(np.uint8) * 255
    base = Image.fromarray(pixels, "RGBA")
    if mode == "RGBX":
        return base.convert("RGB").convert("RGBX")
    return base.convert(mode) if mode in ("RGBA", "RGB", "L", "P", "1", "CMYK", "LA", "PA", "RGBa") else base.convert("RGB").convert(mode)


@pytest.fixture
def photo_images() -> list[Image.Image]:
    """Generated photos, flat and gradient pictures, and the corpus's real photos when it is there."""
    images = [photo_like(seed, size) for seed, size in enumerate([(320, 240), (1000, 700), (2048, 1536), (129, 4000)])]
    images += [Image.linear_gradient("L").resize((900, 611)).convert("RGB"), Image.new("RGB", (640, 480), (128, 64, 200))]
    real = sorted((CORPUS / "images/real").glob("*"))[:6] if CORPUS.is_dir() else []
    for path in real:
        with Image.open(path) as image:
            images.append(image.convert("RGB"))
    return images


@pytest.fixture(params=[True, False], ids=["simd", "portable"])
def path(request):
    previous = kernel.set_simd(request.param)
    yield request.param
    kernel.set_simd(previous)


def test_available_here():
    assert lanczos_native.available()


@pytest.mark.parametrize("mode", MODES)
def test_equals_pillow_for_every_mode_size_and_output(mode, path):
    rng = np.random.default_rng(sum(map(ord, mode)))
    images = [_image(rng, size, mode, saturated) for size in SIZES for saturated in (False, True)]
    for out_size in OUTPUTS:
        expected = np.stack([np.asarray(image.convert("L").resize(out_size, Image.Resampling.LANCZOS)) for image in images])
        assert np.array_equal(lanczos_native.resize_many(images, out_size), expected), (mode, out_size)


def test_equals_pillow_on_photos_with_smooth_regions(path, photo_images):
    """Real photos have long flat runs, where many sums sit exactly on a rounding step."""
    images = photo_images + [image.convert("L") for image in photo_images]
    expected = np.stack([np.asarray(image.convert("L").resize((32, 32), Image.Resampling.LANCZOS)) for image in images])
    assert np.array_equal(lanczos_native.resize_many(images, (32, 32)), expected)


def test_lazy_and_empty_images(tmp_path):
    rng = np.random.default_rng(3)
    path = tmp_path / "photo.jpg"
    Image.fromarray(rng.integers(0, 256, (300, 200, 3), dtype=np.uint8)).save(path, quality=90)
    lazy = Image.open(path)  # decoded by the call
    images = [Image.new("RGB", (0, 5)), lazy, Image.new("L", (7, 0))]
    out = np.full((3, 32, 32), 99, dtype=np.uint8)
    lanczos_native.resize_many(images, (32, 32), out)
    with Image.open(path) as fresh:
        expected = np.asarray(fresh.convert("L").resize((32, 32), Image.Resampling.LANCZOS))
    assert np.array_equal(out[1], expected)
    assert not out[0].any() and not out[2].any()  # Pillow resizes an empty image to zeros


def test_refuses_an_item_whose_fields_do_not_match_the_image():
    """The kernel checks Pillow's struct against what Python says before reading a pixel."""
    image = Image.new("RGB", (40, 30), (10, 20, 30))
    axis_w, axis_h = lanczos_native.axis(40, 32), lanczos_native.axis(30, 32)
    out = np.zeros((1, 32, 32), dtype=np.uint8)
    for width, height, bands, pixelsize in [(41, 30, 3, 4), (40, 29, 3, 4), (40, 30, 1, 1), (40, 30, 3, 1)]:
        item = (0, image.getim(), width, height, bands, pixelsize) + axis_w.horizontal + axis_h.vertical
        with pytest.raises(ValueError, match="laid out"):
            kernel.resize_many([item], 32, 32, out)
    item = (5, image.getim(), 40, 30, 3, 4) + axis_w.horizontal + axis_h.vertical
    with pytest.raises(ValueError, match="position"):
        kernel.resize_many([item], 32, 32, out)
    with pytest.raises(ValueError, match="size"):
        kernel.resize_many([(0, image.getim(), 40, 30, 3, 4) + axis_w.horizontal + axis_h.vertical[:1] + (b"", 3)], 32, 32, out)


def test_weight_split_is_exact():
    """hi * 2**shift + lo gives back Pillow's weights, with hi in int16 and the slack bounding every lo sum."""
    from provenance.hashing.pil_lanczos import lanczos_kernel

    for in_size in (33, 128, 640, 2048, 6007):
        axis = lanczos_native.axis(in_size, 32)
        _, weights = lanczos_kernel(in_size, 32)
        hi = np.frombuffer(axis.hi, dtype=np.int16).reshape(32, axis.padded).astype(np.int64)
        lo = np.frombuffer(axis.lo, dtype=np.int16).reshape(32, axis.padded).astype(np.int64)
        rebuilt = hi * 2**axis.shift + lo
        assert np.array_equal(rebuilt[:, : axis.ksize], weights) and not rebuilt[:, axis.ksize :].any()
        slack = np.frombuffer(axis.slack, dtype=np.int32).reshape(2, 32)
        assert np.array_equal(slack[0], 255 * np.minimum(lo, 0).sum(axis=1))
        assert np.array_equal(slack[1], 255 * np.maximum(lo, 0).sum(axis=1))
    assert lanczos_native.axis(6007, 32).shift == 0  # wide enough that every weight fits int16


def test_threads_and_the_numpy_fallback_agree(photo_images):
    rng = np.random.default_rng(5)
    images = photo_images + [_image(rng, size, "RGB", False) for size in SIZES]
    one = _native_blocks(images, workers=1)
    assert np.array_equal(_native_blocks(images, workers=2), one)
    assert np.array_equal(_numpy_blocks(images, workers=1), one)


@pytest.mark.parametrize("threads", [2, 3, 16])
def test_native_threads_give_the_same_blocks(threads):
    """The kernel's own threads (more of them than images, too) take every image once, largest first."""
    rng = np.random.default_rng(11)
    # Enough pixels that the kernel starts its extra threads (it skips them for small work).
    images = [_image(rng, size, mode, False) for size in ((700, 500), (33, 900), (1200, 64), (64, 64)) for mode in ("RGB", "L")]
    one = lanczos_native.resize_many(images, (32, 32), threads=1)
    assert np.array_equal(lanczos_native.resize_many(images, (32, 32), threads=threads), one)
    expected = np.stack([np.asarray(image.convert("L").resize((32, 32), Image.Resampling.LANCZOS)) for image in images])
    assert np.array_equal(one, expected)


def test_phash_batch_without_the_kernel_imports_torch_and_gives_the_same_hashes(photo_images, monkeypatch):
    """torch is imported lazily: `phash_batch` picks the fallback (torch products) when the kernel is missing,
    and the hashes stay those of the kernel, for every spelling of the CPU device."""
    native = phash_batch(photo_images, dihedral=True)
    assert phash_batch(photo_images, device="cpu:0", dihedral=True) == native
    monkeypatch.setattr(lanczos_native, "available", lambda: False)
    assert phash_batch(photo_images, dihedral=True) == native
    import torch

    assert phash_batch(photo_images, device=torch.device("cpu"), dihedral=True) == native
    assert phash_batch(photo_images, device="cpu", dihedral=True, workers=3) == native
