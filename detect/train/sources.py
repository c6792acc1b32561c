"""Where training, calibration and benchmark images come from.

Real photos ship in packages (Debian's mate-backgrounds and libjxl-testdata,
the corpus's scikit-image photos); the corpus in ../shared/corpus adds real
photos and generator output. The corpus is split by file into three disjoint
parts so that nothing a model trained or calibrated on is used to score it:

- train: mixed into the training stream of the CNN and the spectral fit,
- calib: per-detector calibration and the ensemble's stacking weights,
- test:  benchmarks only.
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from detect.tiles import to_rgb_array

REPO_ROOT = Path(__file__).resolve().parents[2]
CORPUS = (REPO_ROOT / "../shared/corpus").resolve()

# Photos from Debian packages (apt-get install mate-backgrounds libjxl-testdata).
PACKAGE_PHOTO_GLOBS = (
    "/usr/share/backgrounds/mate/nature/*.jpg",
    "/usr/share/libjxl-testdata/external/wesaturate/500px/*_srgb8.png",
    "/usr/share/libjxl-testdata/jxl/flower/flower.png",
)
# Salt of the file-level split; picked among a handful so that every split
# holds both diffusion and face-swap fakes (see bench/results/detect.md).
SPLIT_SALT = "a"
SPLITS = ("train", "calib", "test")
MAX_SIDE = 2048  # larger photos are downscaled on load (keeps memory and crops varied)


@dataclass(frozen=True)
class CorpusItem:
    path: Path
    label: int  # 1 = fake
    kind: str  # image, grid, strip, face-crop
    generator: str
    split: str


def corpus_split(relative_path: str) -> str:
    digest = hashlib.sha256((SPLIT_SALT + relative_path).encode()).hexdigest()
    return SPLITS[int(digest[:8], 16) % 3]


def corpus_images(corpus: Path = CORPUS) -> list[CorpusItem]:
    """Still images listed in the corpus's labels.csv (empty when the corpus is absent)."""
    labels = corpus / "labels.csv"
    if not labels.exists():
        return []
    items = []
    with labels.open(newline="") as handle:
        for row in csv.DictReader(handle):
            if row["label"] not in ("real", "fake") or not row["path"].startswith("images/"):
                continue
            items.append(
                CorpusItem(
                    path=corpus / row["path"],
                    label=int(row["label"] == "fake"),
                    kind=row["kind"],
                    generator=row["generator"],
                    split=corpus_split(row["path"]),
                )
            )
    return items


def package_photos() -> list[Path]:
    found: list[Path] = []
    for pattern in PACKAGE_PHOTO_GLOBS:
        found.extend(sorted(Path("/").glob(pattern.lstrip("/"))))
    return found


def load_rgb(path: Path, max_side: int = MAX_SIDE) -> np.ndarray:
    with Image.open(path) as image:
        image.load()
        if max(image.size) > max_side:
            scale = max_side / max(image.size)
            image = image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.LANCZOS)
        return to_rgb_array(image)


def split_sheet(rgb: np.ndarray, tile: int = 512) -> list[np.ndarray]:
    """Cut a sample grid or strip into non-overlapping square tiles.

    The sheets are mosaics of generated images; every pixel is generated, so a
    regular grid of squares (side min(tile, height)) gives separate samples
    without needing each sheet's layout.
    """
    side = min(tile, rgb.shape[0], rgb.shape[1])
    rows, cols = rgb.shape[0] // side, rgb.shape[1] // side
    return [rgb[r * side : (r + 1) * side, c * side : (c + 1) * side] for r in range(rows) for c in range(cols)]


def corpus_samples(split: str, corpus: Path = CORPUS) -> list[tuple[str, np.ndarray, int]]:
    """(name, RGB array, label) for one split; sheets come back as separate tiles."""
    samples = []
    for item in corpus_images(corpus):
        if item.split != split:
            continue
        rgb = load_rgb(item.path, max_side=10_000)
        if item.kind in ("grid", "strip"):
            for index, part in enumerate(split_sheet(rgb)):
                samples.append((f"{item.path.name}#{index}", part, item.label))
        else:
            samples.append((item.path.name, rgb, item.label))
    return samples
