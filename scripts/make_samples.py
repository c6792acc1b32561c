"""Make the demo's sample images: a certified original, a re-encoded copy, an unrelated image.

The images are drawn here (a seeded landscape-like scene), so the demo ships
no third-party media.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter


def scene(seed: int, size: tuple[int, int] = (960, 640)) -> Image.Image:
    rng = np.random.default_rng(seed)
    w, h = size
    sky = np.linspace(0, 1, h)[:, None]
    base = np.stack([90 + 120 * sky, 140 + 90 * sky, 220 - 60 * sky], axis=-1) * np.ones((1, w, 1))
    coarse = rng.random((h // 64 + 2, w // 64 + 2, 3))
    texture = np.asarray(Image.fromarray((coarse * 255).astype(np.uint8)).resize((w, h), Image.BICUBIC), dtype=float)
    img = Image.fromarray(np.clip(base * 0.7 + texture * 0.3, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(img)
    horizon = int(h * rng.uniform(0.45, 0.65))
    ridge = [(x, horizon - int(60 * np.sin(x / rng.uniform(40, 120)) + rng.integers(-20, 20))) for x in range(0, w + 40, 40)]
    draw.polygon(ridge + [(w, h), (0, h)], fill=tuple(int(c) for c in rng.integers(30, 120, 3)))
    for _ in range(12):
        x, y, r = rng.integers(0, w), rng.integers(horizon, h), rng.integers(max(2, w // 96), max(3, w // 16))
        draw.ellipse((x - r, y - r, x + r, y + r), fill=tuple(int(c) for c in rng.integers(0, 255, 3)))
    sun = rng.integers(w // 8, w - w // 8), rng.integers(horizon // 8, max(horizon // 8 + 1, horizon - horizon // 8))
    sr = max(3, w // 27)
    draw.ellipse((sun[0] - sr, sun[1] - sr, sun[0] + sr, sun[1] + sr), fill=(250, 230, 150))
    noise = rng.normal(0, 6, (h, w, 3))
    out = np.clip(np.asarray(img.filter(ImageFilter.GaussianBlur(1.2)), dtype=float) + noise, 0, 255)
    return Image.fromarray(out.astype(np.uint8))


def main(out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    original = scene(seed=7)
    original.save(out_dir / "original.png")
    smaller = original.resize((original.width * 3 // 4, original.height * 3 // 4), Image.LANCZOS)
    smaller.save(out_dir / "reencoded.jpg", quality=70)
    scene(seed=1234).save(out_dir / "unrelated.png")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
