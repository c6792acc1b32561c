"""A still picture decoded for the detectors: RGB pixels, tiles, faces, and why it may be out of scope.

The lowest layer of the analysis: `detect.batch` decodes stills here in
worker processes, `detect.analyze` scores what this module produced. It
imports neither of them.
"""

from __future__ import annotations

import functools
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from detect.errors import DetectError
from detect.tiles import tiles, to_rgb_array

MAX_TILES = 8  # per image and detector: enough coverage, bounded cost on huge images
# An image above this many pixels is refused before it is decoded (provenance.media's limit):
# decoding 100 Mpx already takes about 1.7 GB here (pixels, array, face search).
MAX_PIXELS = 100_000_000


class AnalysisError(DetectError):
    """The input cannot be analysed (unreadable, not an image or video)."""


@dataclass
class DecodedStill:
    """A decoded still: pixels plus the tiles each whole-image input size needs.

    `faces` is None until faces have been searched for (the batch pipeline
    does it in its decoding workers on the CPU, see detect.batch).
    """

    rgb: np.ndarray
    tiles: dict[int, torch.Tensor] = field(default_factory=dict)
    faces: list | None = None
    notes: tuple[str, ...] = ()  # why the detectors cannot judge this input (see out_of_scope)


# Below this many pixels on the shorter side the artifact traces are too few to judge.
MIN_SIDE = 64
# A JPEG saved below this quality has had its fine detail, where the traces live, quantised away.
MIN_JPEG_QUALITY = 40


def jpeg_quality(image: Image.Image) -> int | None:
    """The IJG quality a JPEG's luma table corresponds to (None: not a JPEG or no table)."""
    tables = getattr(image, "quantization", None) or {}
    if 0 not in tables or len(tables[0]) != 64:
        return None
    # Scaling keeps the order of the entries, so sorted tables compare whatever the storage order;
    # entries clamped at 255 (low qualities) say nothing about the scale and are left out.
    table = np.sort(np.asarray(tables[0], dtype=np.float64))
    usable = table < 255
    if not usable.any():
        return 1
    scale = float(np.median(table[usable] / _IJG_LUMA_SORTED[usable]))  # IJG scale factor / 100
    quality = (200 - 100 * scale) / 2 if scale <= 1 else 50 / scale
    return int(round(min(100.0, max(1.0, quality))))


# The IJG standard luminance table (quality 50), sorted.
_IJG_LUMA_SORTED = np.sort(
    np.array(
        [
            16,
            11,
            10,
            16,
            24,
            40,
            51,
            61,
            12,
            12,
            14,
            19,
            26,
            58,
            60,
            55,
            14,
            13,
            16,
            24,
            40,
            57,
            69,
            56,
            14,
            17,
            22,
            29,
            51,
            87,
            80,
            62,
            18,
            22,
            37,
            56,
            68,
            109,
            103,
            77,
            24,
            35,
            55,
            64,
            81,
            104,
            113,
            92,
            49,
            64,
            78,
            87,
            103,
            121,
            120,
            101,
            72,
            92,
            95,
            98,
            112,
            100,
            103,
            99,
        ],
        dtype=np.float64,
    )
)


# Fine detail (see fine_detail) below which a picture looks enlarged or softened. Enlarging or blurring a picture
# empties the top of its spectrum, and an empty top is what a generator's up-sampling leaves too: the artifact
# detectors cannot tell the two apart, and real photos enlarged 2x were called likely_manipulated 12.9% of the time,
# blurred by 1 px 18.6%. Chosen on the data set's calib split (bench/bench_detail.py): 4.0% of the native real and
# 2.8% of the fake calib pictures fall below it, 93% of the real ones enlarged 2x (bicubic), 97% blurred by 1 px.
MIN_DETAIL = 0.03
DETAIL_SIDE = 512  # the centre square measured: bounded cost, and enough of the picture to be representative


def fine_detail(rgb: np.ndarray) -> float:
    """Spectral power of the luma in the top half of the band (above a quarter cycle per pixel on either axis) over
    the power in the octave below it, on the centre square of at most DETAIL_SIDE px (Hann-windowed).

    Native photos and generator output sit around 0.05-0.3; a bicubic 2x enlargement around 0.02, a 1 px Gaussian
    blur around 0.01. The band edges use the larger of the two axis frequencies, so a quarter turn or a mirror image
    gives the same value (to within the half-spectrum's edge terms, well under 1%)."""
    height, width = rgb.shape[:2]
    side = min(DETAIL_SIDE, height, width)
    top, left = (height - side) // 2, (width - side) // 2
    square = rgb[top : top + side, left : left + side].astype(np.float32)
    luma = square @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    window, high, middle = _detail_masks(side)
    power = np.abs(np.fft.rfft2((luma - luma.mean()) * window)) ** 2
    below = float(power[middle].mean())
    return float(power[high].mean()) / below if below > 0 else 0.0


@functools.lru_cache(maxsize=8)
def _detail_masks(side: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """fine_detail's 2-D Hann window and its top-half and octave-below masks of the half spectrum, per side."""
    hann = np.hanning(side).astype(np.float32)
    band = np.maximum(np.abs(np.fft.fftfreq(side))[:, None], np.abs(np.fft.rfftfreq(side))[None, :])
    return hann[:, None] * hann[None, :], band > 0.25, (band > 0.125) & (band <= 0.25)


def out_of_scope(width: int, height: int, quality: int | None, detail: float | None = None) -> tuple[str, ...]:
    """Reasons an input lies outside what the detectors were trained on: its verdict is `uncertain`."""
    notes = []
    if min(width, height) < MIN_SIDE:
        notes.append(f"too small to judge ({width}x{height} px; the detectors need {MIN_SIDE} px or more)")
    if quality is not None and quality < MIN_JPEG_QUALITY:
        notes.append(f"heavily compressed (JPEG quality about {quality}): compression erases the traces the detectors look for")
    if detail is not None and detail < MIN_DETAIL:
        notes.append(
            f"little fine detail ({detail:.3f}, below {MIN_DETAIL}): enlarged or blurred pictures look like up-sampled "
            "ones, so the detectors cannot judge it"
        )
    return tuple(notes)


def scope_notes(rgb: np.ndarray, quality: int | None) -> tuple[str, ...]:
    """out_of_scope for decoded pixels (fine detail is only measured where the size allows a verdict at all)."""
    return out_of_scope(rgb.shape[1], rgb.shape[0], quality, fine_detail(rgb) if min(rgb.shape[:2]) >= MIN_SIDE else None)


def still_of(image: Image.Image, tile_sizes: Iterable[int] = ()) -> DecodedStill:
    """A decoded picture (as its decoder gave it: mode, EXIF orientation, JPEG tables) ready for the detectors."""
    rgb = to_rgb_array(image)
    notes = scope_notes(rgb, jpeg_quality(image))
    return DecodedStill(rgb=rgb, tiles={s: tiles(rgb, s, MAX_TILES) for s in tile_sizes}, notes=notes)


def decode_image(data: bytes | Path, tile_sizes: Iterable[int] = ()) -> DecodedStill:
    """Decode an image file (path or bytes) and cut its tiles; raises AnalysisError."""
    try:
        source = io.BytesIO(data) if isinstance(data, (bytes, bytearray)) else data
        with Image.open(source) as image:
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise AnalysisError(f"image dimensions {width}x{height} are beyond the limit ({MAX_PIXELS:,} pixels)")
            image.load()
            rgb = to_rgb_array(image)
            quality = jpeg_quality(image)
    except AnalysisError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise AnalysisError(f"not a readable image ({exc})") from None
    except MemoryError:
        raise AnalysisError("image too large to decode in the memory available") from None
    except Exception as exc:  # any other decoder failure is this file's, never the batch's
        raise AnalysisError(f"not a readable image ({type(exc).__name__}: {' '.join(str(exc).split())[:160]})") from None
    notes = scope_notes(rgb, quality)
    return DecodedStill(rgb=rgb, tiles={s: tiles(rgb, s, MAX_TILES) for s in tile_sizes}, notes=notes)
