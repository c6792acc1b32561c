"""Turn a whole image into fixed-size tiles for whole-image detectors.

Whole-image detectors look for high-frequency traces (resampling, generator
upsampling, compression mismatches). Resizing the image to the model's input
would wipe out exactly those traces and add interpolation artefacts of its
own, so tiles are cut at native resolution. Images smaller than a tile are
enlarged until they fill one by `fill_tile`, which training uses on small
photos too (`detect.train.synth.random_crop`); enlargement is a trace the
detectors were taught to ignore (`synth.rescale`). Reflect padding, used before, put
mirror images in the tile that no training tile had: a real photo reduced
to 128 px scored 0.79 on average from the probe, 0.52 enlarged.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from PIL import Image, ImageOps

_ORIENTATION = 0x0112  # EXIF tag: how a viewer must turn the stored pixels


def to_rgb_array(image: Image.Image) -> np.ndarray:
    """Decode a PIL image to an (H, W, 3) uint8 RGB array, upright as a viewer shows it (alpha dropped on white)."""
    image = _eight_bit(upright(image))
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    return np.array(image.convert("RGB"), dtype=np.uint8)


def upright(image: Image.Image) -> Image.Image:
    """The image turned as its EXIF orientation says: phones store portraits sideways, and MTCNN finds upright faces."""
    if image.getexif().get(_ORIENTATION, 1) in range(2, 9):
        return ImageOps.exif_transpose(image)
    return image


def _eight_bit(image: Image.Image) -> Image.Image:
    """16-bit and float grey images scaled to 0..255; Pillow's convert('RGB') clips them, leaving a 16-bit scan white."""
    if image.mode.startswith("I;16"):
        return Image.fromarray((np.asarray(image).astype(np.uint32) >> 8).astype(np.uint8), "L")
    if image.mode == "I":
        values = np.asarray(image).astype(np.int64)
        top = int(values.max(initial=0))
        if top <= 255:
            return image  # 8-bit values stored wide: convert keeps them
        scale = 255 / (65535 if top <= 65535 else top)
        return Image.fromarray(np.clip(values * scale + 0.5, 0, 255).astype(np.uint8), "L")
    if image.mode == "F":
        values = np.nan_to_num(np.asarray(image, dtype=np.float64))
        if values.max(initial=0.0) <= 1.0:  # the usual 0..1 range of float images
            values = values * 255
        return Image.fromarray(np.clip(values + 0.5, 0, 255).astype(np.uint8), "L")
    return image


def _starts(length: int, size: int, count: int) -> list[int]:
    if length <= size or count <= 1:
        return [max(0, (length - size) // 2)]
    return sorted({round(i * (length - size) / (count - 1)) for i in range(count)})


def tile_grid(height: int, width: int, size: int, max_tiles: int) -> list[tuple[int, int]]:
    """Top-left corners of up to `max_tiles` tiles spread evenly over the image.

    The grid has as many rows and columns as fit without overlap, capped so
    that rows * cols <= max_tiles; the tiles are spaced evenly from edge to edge.
    """
    rows = max(1, min(height // size, max_tiles))
    cols = max(1, min(width // size, max_tiles))
    while rows * cols > max_tiles:
        if rows >= cols:
            rows -= 1
        else:
            cols -= 1
    return [(y, x) for y in _starts(height, size, rows) for x in _starts(width, size, cols)]


def tiles(rgb: np.ndarray, size: int, max_tiles: int) -> torch.Tensor:
    """Cut an (H, W, 3) uint8 image into a (T, 3, size, size) float batch in [0, 1]."""
    rgb = tileable(rgb, size, max_tiles)
    corners = tile_grid(rgb.shape[0], rgb.shape[1], size, max_tiles)
    # Scaled in numpy, straight from the image into the batch: the same float32 values as torch's
    # float().div_(255) (one IEEE division each) in the same channels-last memory, but on one thread.
    # Torch spreads such a millisecond op over its intra-op threads, and on a busy 2-core machine each
    # op then waited for a descheduled thread: ~45 ms per image for the three tile sizes instead of ~1.
    batch = np.empty((len(corners), size, size, 3), dtype=np.float32)
    for i, (y, x) in enumerate(corners):
        np.divide(rgb[y : y + size, x : x + size], np.float32(255.0), out=batch[i], dtype=np.float32)
    return torch.from_numpy(batch).permute(0, 3, 1, 2)


def tileable(rgb: np.ndarray, size: int, max_tiles: int) -> np.ndarray:
    """The image, or when a side is under `size` the part the tiles can cover enlarged to fill one."""
    height, width = rgb.shape[:2]
    if height >= size and width >= size:
        return rgb
    # Of a long thin strip only the middle that the tiles can cover is enlarged: all of a 5000x1
    # strip enlarged 224 times over would take gigabytes for tiles that are never cut.
    keep = math.ceil(max_tiles * min(height, width))
    top, left = max(0, (height - keep) // 2), max(0, (width - keep) // 2)
    return fill_tile(rgb[top : top + keep, left : left + keep], size)


def fill_tile(rgb: np.ndarray, size: int) -> np.ndarray:
    """The image enlarged (Lanczos, aspect kept) until its shorter side is `size`; training and inference both use it."""
    height, width = rgb.shape[:2]
    scale = size / min(height, width)
    target = (max(size, round(width * scale)), max(size, round(height * scale)))
    return np.asarray(Image.fromarray(np.ascontiguousarray(rgb)).resize(target, Image.Resampling.LANCZOS))
