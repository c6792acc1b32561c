"""Manipulations the project makes itself, from real photos.

Each function takes a random generator and real pixels and returns a
manipulated tile of the requested size (uint8 RGB). They imitate the traces
that generators and editors leave, not any one generator:

- `upsample_artefact`: content rebuilt from a low-resolution version by
  nearest or transposed-convolution up-sampling followed by a random
  smoothing filter, as in the decoders of GANs and latent diffusion. Not
  bilinear or bicubic: that is how ordinary software enlarges real photos
  and video, so `augment` gives it to both classes (`rescale`) instead.
  (Version 1 of the probe took bilinear/bicubic enlargement as a fake trace
  and flagged enlarged real photos: 0.71-1.0 at 2.7x.)
- `self_blend`: a region of the photo replaced by a slightly altered copy of
  itself through a soft mask (Shiohara & Yamasaki's self-blended images,
  applied to any region, not only faces).
- `splice`: a resampled patch of another photo pasted through a soft mask.
"""

from __future__ import annotations

import io

import av
import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageEnhance, ImageFilter

from detect.tiles import fill_tile

_ENLARGE = (Image.Resampling.BILINEAR, Image.Resampling.BICUBIC, Image.Resampling.LANCZOS)  # what viewers, editors and video scalers use


def random_crop(rng: np.random.Generator, rgb: np.ndarray, size: int) -> np.ndarray:
    height, width = rgb.shape[:2]
    if height < size or width < size:
        rgb = fill_tile(rgb, size)
        height, width = rgb.shape[:2]
    y = int(rng.integers(0, height - size + 1))
    x = int(rng.integers(0, width - size + 1))
    return rgb[y : y + size, x : x + size]


def _transposed_upsample(rng: np.random.Generator, small: np.ndarray, factor: int, size: int) -> np.ndarray:
    """Zero-insertion up-sampling with a random positive kernel: checkerboard traces."""
    k = 2 * factor
    kernel = rng.uniform(0.2, 1.0, size=(k, k)).astype(np.float32)
    kernel *= factor * factor / kernel.sum()
    weight = torch.zeros(3, 1, k, k)
    weight[:, 0] = torch.from_numpy(kernel)
    x = torch.from_numpy(small.astype(np.float32)).permute(2, 0, 1)[None]
    padding = (k - factor) // 2
    y = F.conv_transpose2d(x, weight, stride=factor, padding=padding, groups=3)
    y = F.interpolate(y, size=(size, size), mode="nearest") if y.shape[-1] != size else y
    return y[0].permute(1, 2, 0).clamp(0, 255).round().byte().numpy()


def _random_smoothing(rng: np.random.Generator, rgb: np.ndarray) -> np.ndarray:
    """A learned-looking 3x3 filter: positive centre-heavy kernel, renormalised."""
    kernel = rng.uniform(0.0, 1.0, size=(3, 3)).astype(np.float32)
    kernel[1, 1] += rng.uniform(0.5, 3.0)
    kernel /= kernel.sum()
    weight = torch.from_numpy(kernel).expand(3, 1, 3, 3).contiguous()
    x = torch.from_numpy(rgb.astype(np.float32)).permute(2, 0, 1)[None]
    y = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), weight, groups=3)
    return y[0].permute(1, 2, 0).clamp(0, 255).round().byte().numpy()


def upsample_artefact(rng: np.random.Generator, rgb: np.ndarray, size: int) -> np.ndarray:
    tile = random_crop(rng, rgb, size)
    factor = int(rng.choice([2, 2, 4, 8]))
    small = np.asarray(Image.fromarray(tile).resize((size // factor, size // factor), Image.Resampling.BOX))
    if rng.random() < 0.6:
        out = _transposed_upsample(rng, small, factor, size)
    else:
        out = np.asarray(Image.fromarray(small).resize((size, size), Image.Resampling.NEAREST))
    if rng.random() < 0.7:
        out = _random_smoothing(rng, out)
    return out


def soft_mask(rng: np.random.Generator, size: int) -> np.ndarray:
    """A random ellipse with blurred edges, values in [0, 1], shape (size, size, 1)."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    cy, cx = rng.uniform(0.3, 0.7, size=2) * size
    ry, rx = rng.uniform(0.15, 0.45, size=2) * size
    angle = rng.uniform(0, np.pi)
    dy, dx = yy - cy, xx - cx
    u = (dx * np.cos(angle) + dy * np.sin(angle)) / rx
    v = (-dx * np.sin(angle) + dy * np.cos(angle)) / ry
    hard = (u**2 + v**2 <= 1.0).astype(np.uint8) * 255
    blurred = Image.fromarray(hard).filter(ImageFilter.GaussianBlur(float(rng.uniform(1.0, 8.0))))
    return (np.asarray(blurred, dtype=np.float32) / 255.0)[..., None]


def _alter(rng: np.random.Generator, tile: np.ndarray) -> np.ndarray:
    """The self-blend source: the same pixels, slightly re-coloured, re-filtered and shifted."""
    image = Image.fromarray(tile)
    image = ImageEnhance.Brightness(image).enhance(float(rng.uniform(0.85, 1.15)))
    image = ImageEnhance.Contrast(image).enhance(float(rng.uniform(0.85, 1.15)))
    image = ImageEnhance.Color(image).enhance(float(rng.uniform(0.8, 1.2)))
    if rng.random() < 0.5:
        image = image.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.5, 1.5))))
    else:
        image = image.filter(ImageFilter.UnsharpMask(radius=2, percent=int(rng.integers(50, 150))))
    scale = float(rng.uniform(0.93, 1.07))
    size = tile.shape[0]
    resized = image.resize((round(size * scale),) * 2, Image.Resampling.BILINEAR)
    canvas = Image.fromarray(tile)
    shift = rng.integers(-3, 4, size=2)
    canvas.paste(resized, (int((size - resized.width) // 2 + shift[0]), int((size - resized.height) // 2 + shift[1])))
    return np.asarray(canvas)


def self_blend(rng: np.random.Generator, rgb: np.ndarray, size: int) -> np.ndarray:
    target = random_crop(rng, rgb, size)
    source = _alter(rng, target)
    mask = soft_mask(rng, size) * float(rng.uniform(0.6, 1.0))
    return (mask * source + (1 - mask) * target).round().astype(np.uint8)


def splice(rng: np.random.Generator, rgb: np.ndarray, donor: np.ndarray, size: int) -> np.ndarray:
    target = random_crop(rng, rgb, size)
    scale = float(rng.uniform(0.5, 1.6))
    patch = random_crop(rng, donor, max(8, round(size / scale)))
    patch = np.asarray(Image.fromarray(patch).resize((size, size), Image.Resampling.BILINEAR))
    mask = soft_mask(rng, size)
    if rng.random() < 0.3:
        mask = (mask > 0.5).astype(np.float32)
    return (mask * patch + (1 - mask) * target).round().astype(np.uint8)


# ----------------------------------------------------------------- augmentation


def jpeg(rgb: np.ndarray, quality: int) -> np.ndarray:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="JPEG", quality=quality)
    buffer.seek(0)
    with Image.open(buffer) as image:
        return np.asarray(image.convert("RGB"))


def h264(rgb: np.ndarray, crf: int) -> np.ndarray:
    """The image after one H.264 intra-frame round trip (libx264, 4:2:0), as in compressed video."""
    height, width = rgb.shape[:2]
    even = np.ascontiguousarray(rgb[: height - height % 2, : width - width % 2])
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="h264") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = even.shape[1], even.shape[0], "yuv420p"
        stream.options = {"crf": str(int(crf)), "preset": "veryfast"}
        for packet in stream.encode(av.VideoFrame.from_ndarray(even, format="rgb24")):
            container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    buffer.seek(0)
    with av.open(buffer, "r", format="h264") as container:
        decoded: np.ndarray = next(container.decode(video=0)).to_ndarray(format="rgb24")
    if decoded.shape != rgb.shape:  # odd sizes: put back the dropped row / column
        decoded = np.pad(decoded, ((0, height - decoded.shape[0]), (0, width - decoded.shape[1]), (0, 0)), mode="edge")
    return decoded


def augment(rng: np.random.Generator, rgb: np.ndarray) -> np.ndarray:
    """Post-processing both classes see (Wang et al.'s blur + JPEG, plus enlargement, noise and flips).

    Applied after the manipulation, so the model cannot use "was processed"
    as a cue; applied freshly to every sample (dynamic augmentation).
    """
    if rng.random() < 0.5:
        rgb = rgb[:, ::-1]
    if rng.random() < 0.3:
        rgb = rescale(rng, np.ascontiguousarray(rgb))
    if rng.random() < 0.2:
        rgb = np.asarray(Image.fromarray(np.ascontiguousarray(rgb)).filter(ImageFilter.GaussianBlur(float(rng.uniform(0.3, 1.5)))))
    if rng.random() < 0.15:
        noise = rng.normal(0, rng.uniform(1.0, 5.0), size=rgb.shape)
        rgb = np.clip(rgb + noise, 0, 255).astype(np.uint8)
    if rng.random() < 0.5:
        rgb = jpeg(np.ascontiguousarray(rgb), int(rng.integers(60, 99)))
    return np.ascontiguousarray(rgb)


def rescale(rng: np.random.Generator, rgb: np.ndarray) -> np.ndarray:
    """The tile's centre enlarged back to full size by 1.2-3x, as a viewer or a video scaler would."""
    height, width = rgb.shape[:2]
    factor = rng.uniform(1.2, 3.0)
    inner_h, inner_w = max(8, round(height / factor)), max(8, round(width / factor))
    top, left = (height - inner_h) // 2, (width - inner_w) // 2
    centre = Image.fromarray(rgb[top : top + inner_h, left : left + inner_w])
    return np.asarray(centre.resize((width, height), _ENLARGE[int(rng.integers(len(_ENLARGE)))]))


def downscaled_crop(rng: np.random.Generator, rgb: np.ndarray, size: int) -> np.ndarray:
    """A real tile, sometimes taken from a larger area and reduced (reduction adds no up-sampling trace)."""
    if rng.random() < 0.25:
        larger = min(int(size * rng.uniform(1.2, 2.5)), rgb.shape[0], rgb.shape[1])
        if larger > size:
            area = random_crop(rng, rgb, larger)
            return np.asarray(Image.fromarray(area).resize((size, size), Image.Resampling.LANCZOS))
    return random_crop(rng, rgb, size)
