"""Shared helpers for the ensemble-side detect tests (spectral, trained, ensemble, analyze, CLI)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

CORPUS = (Path(__file__).resolve().parents[2] / "../shared/corpus").resolve()
needs_corpus = pytest.mark.skipif(not (CORPUS / "labels.csv").exists(), reason="../shared/corpus is absent")


def textured_image(seed: int, size: int = 320) -> Image.Image:
    """A photo-like test image: smooth shapes plus fine-grained 1/f texture.

    Made from a random spectrum falling off as 1/f, the statistics natural
    photos share, so that it has energy at every frequency like a camera image.
    """
    rng = np.random.default_rng(seed)
    fy = np.fft.fftfreq(size)[:, None]
    fx = np.fft.fftfreq(size)[None, :]
    falloff = 1.0 / np.maximum(np.hypot(fx, fy), 1.0 / size)
    channels = []
    for _ in range(3):
        spectrum = falloff * np.exp(2j * np.pi * rng.random((size, size)))
        field = np.real(np.fft.ifft2(spectrum))
        field = (field - field.mean()) / (field.std() + 1e-9)
        channels.append(np.clip(128 + 40 * field + rng.normal(0, 3, (size, size)), 0, 255))
    return Image.fromarray(np.stack(channels, axis=-1).astype(np.uint8))


def upsampled(image: Image.Image, factor: int = 4) -> Image.Image:
    """The same content rebuilt from a 1/factor version: a generator-style up-sampling trace."""
    small = image.resize((image.width // factor, image.height // factor), Image.BOX)
    return small.resize(image.size, Image.BILINEAR)
