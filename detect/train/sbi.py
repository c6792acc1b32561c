"""Self-blended faces on landmarks (SBI) and landmark-guided face cut-out.

`self_blend_face` follows the recipe of Shiohara & Yamasaki (CVPR 2022,
"Detecting Deepfakes with Self-Blended Images"): a real face is blended with
a slightly altered copy of itself through a mask shaped like the face, so the
only trace is the one every face swap leaves - a blending boundary, a small
colour / sharpness mismatch and a slight misalignment inside the face - and
no identity or generator quirk to latch onto. SBI builds its mask from 68 or
81 landmarks; MTCNN gives five (eyes, nose tip, mouth corners), so the face
outline here is extrapolated from them along the face's own axes (eye line
and eyes-to-mouth direction), then scaled, elastically deformed and blurred
as SBI does, and scaled by a random blend ratio.

`face_cutout` is the landmark-guided dynamic face augmentation of Das et al.
(2021, "Towards Solving the DeepFake Problem: An Analysis on Improving
DeepFake Detection using Dynamic Face Augmentation"): a facial part (an eye,
both eyes, the nose, the mouth, the lower face) is blanked out, so a
detector cannot rest on one region and has to use the whole face.

Both take and return uint8 RGB arrays with landmarks as a (5, 2) array of
(x, y) pixel positions in that array, in MTCNN's order.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter

LEFT_EYE, RIGHT_EYE, NOSE, MOUTH_LEFT, MOUTH_RIGHT = range(5)
BLEND_RATIOS = (0.25, 0.5, 0.75, 1.0, 1.0, 1.0)  # SBI's choices; full blends are the common case


def _axes(landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Eye centre, mouth centre, unit 'across' (left->right eye) and 'down' (eyes->mouth) vectors."""
    points = np.asarray(landmarks, dtype=np.float64)
    eyes = (points[LEFT_EYE] + points[RIGHT_EYE]) / 2
    mouth = (points[MOUTH_LEFT] + points[MOUTH_RIGHT]) / 2
    across = points[RIGHT_EYE] - points[LEFT_EYE]
    across /= max(np.linalg.norm(across), 1e-6)
    down = mouth - eyes
    down /= max(np.linalg.norm(down), 1e-6)
    return eyes, mouth, across, down


def face_outline(landmarks: np.ndarray, full: bool) -> np.ndarray:
    """(K, 2) polygon around the face extrapolated from 5 landmarks.

    `full` reaches the brows, cheeks and chin (SBI's 68-point hull); otherwise
    the inner face around eyes, nose and mouth (the region most swaps replace).
    """
    eyes, mouth, across, down = _axes(landmarks)
    width = np.linalg.norm(np.asarray(landmarks[RIGHT_EYE]) - np.asarray(landmarks[LEFT_EYE]))
    height = np.linalg.norm(mouth - eyes)
    w, h = max(float(width), 1.0), max(float(height), 1.0)
    if full:
        # brow line, temples, cheeks, jaw, chin: fractions of eye distance / eye-mouth distance
        spec = [
            (-0.95, -0.55),
            (-0.5, -0.75),
            (0.5, -0.75),
            (0.95, -0.55),
            (1.05, 0.3),
            (0.9, 1.05),
            (0.45, 1.55),
            (0.0, 1.7),
            (-0.45, 1.55),
            (-0.9, 1.05),
            (-1.05, 0.3),
        ]
    else:
        spec = [(-0.8, -0.35), (0.0, -0.45), (0.8, -0.35), (0.85, 0.45), (0.6, 1.3), (0.0, 1.45), (-0.6, 1.3), (-0.85, 0.45)]
    return np.array([eyes + a * w * across + d * h * down for a, d in spec])


def _elastic(rng: np.random.Generator, mask: np.ndarray, strength: float) -> np.ndarray:
    """Warp a mask by a smooth random displacement field (`strength` in pixels)."""
    height, width = mask.shape
    coarse = torch.from_numpy(rng.normal(0.0, 1.0, size=(1, 2, 4, 4)).astype(np.float32))
    field = F.interpolate(coarse, size=(height, width), mode="bicubic", align_corners=True)
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, height), torch.linspace(-1, 1, width), indexing="ij")
    grid = torch.stack([xx + field[0, 0] * 2 * strength / width, yy + field[0, 1] * 2 * strength / height], dim=-1)
    warped = F.grid_sample(torch.from_numpy(mask)[None, None], grid[None], mode="bilinear", align_corners=True)
    return warped[0, 0].numpy()


def blend_mask(rng: np.random.Generator, shape: tuple[int, int], landmarks: np.ndarray) -> np.ndarray:
    """A soft face-shaped mask in [0, 1], (H, W) float32, zero far from the face."""
    height, width = shape
    polygon = face_outline(landmarks, full=bool(rng.random() < 0.5))
    centre = polygon.mean(axis=0)
    polygon = centre + (polygon - centre) * rng.uniform(0.85, 1.15, size=2)  # SBI's erode / dilate, per axis
    hard = Image.new("L", (width, height), 0)
    ImageDraw.Draw(hard).polygon([tuple(p) for p in polygon], fill=255)
    mask = np.asarray(hard, dtype=np.float32) / 255.0
    scale = max(float(np.ptp(polygon[:, 0])), 8.0)
    mask = _elastic(rng, mask, strength=scale * rng.uniform(0.02, 0.08))
    blurred = Image.fromarray((mask * 255).round().astype(np.uint8)).filter(
        ImageFilter.GaussianBlur(scale * float(rng.uniform(0.02, 0.08)))
    )
    mask = np.asarray(blurred, dtype=np.float32) / 255.0
    peak = float(mask.max())
    if peak > 0:
        mask = mask / peak
    mask[mask < 1.0 / 255] = 0.0  # no sub-quantum tails: outside the mask the pixels stay exactly as they were
    return mask * float(rng.choice(BLEND_RATIOS))


def _alter_source(rng: np.random.Generator, rgb: np.ndarray) -> np.ndarray:
    """The blend source: the same face re-coloured, re-filtered, slightly shifted and scaled."""
    image = Image.fromarray(rgb)
    image = ImageEnhance.Brightness(image).enhance(float(rng.uniform(0.9, 1.1)))
    image = ImageEnhance.Contrast(image).enhance(float(rng.uniform(0.9, 1.1)))
    image = ImageEnhance.Color(image).enhance(float(rng.uniform(0.85, 1.15)))
    pixels = np.asarray(image).astype(np.float32)
    pixels += rng.uniform(-8, 8, size=3).astype(np.float32)  # per-channel shift: a hue / white-balance mismatch
    image = Image.fromarray(np.clip(pixels, 0, 255).round().astype(np.uint8))
    choice = rng.random()
    if choice < 0.35:
        image = image.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.4, 1.4))))
    elif choice < 0.6:
        image = image.filter(ImageFilter.UnsharpMask(radius=2, percent=int(rng.integers(40, 140))))
    elif choice < 0.85:  # a swap's face comes out of a lower-resolution decoder
        factor = float(rng.uniform(1.3, 2.5))
        small = image.resize((max(8, round(image.width / factor)), max(8, round(image.height / factor))), Image.Resampling.BILINEAR)
        image = small.resize(image.size, Image.Resampling.BILINEAR)
    height, width = rgb.shape[:2]
    scale = rng.uniform(0.95, 1.05, size=2)
    shift = rng.uniform(-0.03, 0.03, size=2) * np.array([width, height])
    # Affine about the image centre: output pixel (u, v) reads source (a u + c, e v + f).
    cx, cy = width / 2, height / 2
    coeffs = (1 / scale[0], 0.0, cx - (cx + shift[0]) / scale[0], 0.0, 1 / scale[1], cy - (cy + shift[1]) / scale[1])
    return np.asarray(image.transform((width, height), Image.Transform.AFFINE, coeffs, resample=Image.Resampling.BILINEAR))


def self_blend_face(rng: np.random.Generator, rgb: np.ndarray, landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A self-blended face and its mask: output == input wherever the mask is 0."""
    mask = blend_mask(rng, rgb.shape[:2], landmarks)[..., None]
    source = _alter_source(rng, rgb).astype(np.float32)
    out = mask * source + (1.0 - mask) * rgb.astype(np.float32)
    return np.clip(out, 0, 255).round().astype(np.uint8), mask[..., 0]


def cutout_region(rng: np.random.Generator, landmarks: np.ndarray, part: str | None = None) -> tuple[str, np.ndarray, np.ndarray]:
    """(part, centre, radii along 'across' and 'down') of the facial part to blank out."""
    points = np.asarray(landmarks, dtype=np.float64)
    eyes, mouth, _across, down = _axes(points)
    w = max(float(np.linalg.norm(points[RIGHT_EYE] - points[LEFT_EYE])), 1.0)
    h = max(float(np.linalg.norm(mouth - eyes)), 1.0)
    part = part or str(rng.choice(["left_eye", "right_eye", "eyes", "nose", "mouth", "lower_face"]))
    centre, radii = {
        "left_eye": (points[LEFT_EYE], (0.35 * w, 0.25 * h)),
        "right_eye": (points[RIGHT_EYE], (0.35 * w, 0.25 * h)),
        "eyes": (eyes, (0.95 * w, 0.3 * h)),
        "nose": (points[NOSE], (0.3 * w, 0.4 * h)),
        "mouth": (mouth, (0.65 * w, 0.3 * h)),
        "lower_face": (mouth + 0.1 * h * down, (1.0 * w, 0.6 * h)),
    }[part]
    return part, np.asarray(centre), np.asarray(radii) * rng.uniform(0.9, 1.3)


def face_cutout(rng: np.random.Generator, rgb: np.ndarray, landmarks: np.ndarray, part: str | None = None) -> np.ndarray:
    """Das et al.'s landmark cut-out: one facial part blanked (black or the face's mean colour)."""
    _part, centre, radii = cutout_region(rng, landmarks, part)
    _eyes, _mouth, across, down = _axes(landmarks)
    height, width = rgb.shape[:2]
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    dx, dy = xx - centre[0], yy - centre[1]
    u = (dx * across[0] + dy * across[1]) / radii[0]
    v = (dx * down[0] + dy * down[1]) / radii[1]
    inside = u**2 + v**2 <= 1.0
    out = rgb.copy()
    fill = np.zeros(3) if rng.random() < 0.5 else rgb.reshape(-1, 3).mean(axis=0)
    out[inside] = np.round(fill).astype(np.uint8)
    return out
