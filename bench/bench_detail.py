"""Where the fine-detail floor (detect.stills.MIN_DETAIL) comes from, and what it costs.

    python bench/bench_detail.py --data DATA --out bench/results/detect_detail.md

DATA is a folder built by `python -m detect.train data`. A picture whose
fine detail (detect.stills.fine_detail) is below the floor gets `uncertain`
with the reason: enlarging or blurring empties the top of the spectrum the
way a generator's up-sampling does, so the artifact detectors cannot judge it.

1. calib split (the choice): for candidate floors, the share of native
   pictures below it (the price: they can no longer be called either way) and
   the share of real photos below it once enlarged or blurred (the point);
2. dev split (the check, never chosen on), at the shipped floor, per family,
   with 95% intervals.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_generalization import PHOTO_PROCESSING, load_rgb, sample  # noqa: E402

from detect.stills import MIN_DETAIL, fine_detail  # noqa: E402
from detect.train.data import Item, read_index  # noqa: E402
from detect.train.protocol import rate_interval  # noqa: E402

CANDIDATES = (0.02, 0.025, 0.03, 0.035, 0.04)


def _enlarged_bilinear(rgb: np.ndarray) -> np.ndarray:
    size = (round(rgb.shape[1] * 1.5), round(rgb.shape[0] * 1.5))
    return np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.BILINEAR))


# The processing table's own operations (bench_generalization), plus a milder enlargement.
PROCESSING: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "enlarged 2x (bicubic)": PHOTO_PROCESSING["enlarged 2x (bicubic)"],
    "enlarged 1.5x (bilinear)": _enlarged_bilinear,
    "Gaussian blur 1 px": PHOTO_PROCESSING["Gaussian blur 1 px"],
    "JPEG 40": PHOTO_PROCESSING["JPEG 40"],
    "half size": PHOTO_PROCESSING["half size"],
}


def measure(data: Path, items: list[Item]) -> list[dict]:
    rows = []
    for item in items:
        rgb = load_rgb(data / item.path)
        row = {"item": item, "native": fine_detail(rgb)}
        if item.label == "real":
            row.update({name: fine_detail(change(rgb)) for name, change in PROCESSING.items()})
        rows.append(row)
    return rows


def share(values: list[float], floor: float) -> str:
    rate = rate_interval(sum(v < floor for v in values), len(values))
    return f"{rate[0]:.1%} [{rate[1]:.1%}, {rate[2]:.1%}]"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/detect_detail.md")
    parser.add_argument("--per-source", type=int, default=40, help="pictures per source and split")
    args = parser.parse_args(argv)
    started = time.time()
    items = [i for i in read_index(args.data) if i.task == "image"]
    calib = measure(args.data, sample([i for i in items if i.split == "calib"], args.per_source, "detail"))
    dev = measure(args.data, sample([i for i in items if i.split == "dev"], args.per_source, "detail"))
    lines = [
        f"Fine-detail floor (`python bench/bench_detail.py --data DATA --per-source {args.per_source}`): share of "
        "pictures below each floor, 95% intervals. Native: the files as stored; the processed columns are the real "
        "photos of the split after that processing.",
        "",
        f"**Calib** ({len(calib)} pictures, the choice):",
        "",
        "| floor | native real | native fake | " + " | ".join(PROCESSING) + " |",
        "|---|---|---|" + "---|" * len(PROCESSING),
    ]
    reals = [r for r in calib if r["item"].label == "real"]
    fakes = [r for r in calib if r["item"].label == "fake"]
    for floor in CANDIDATES:
        cells = [share([r["native"] for r in reals], floor), share([r["native"] for r in fakes], floor)]
        cells += [share([r[name] for r in reals], floor) for name in PROCESSING]
        mark = " (shipped)" if floor == MIN_DETAIL else ""
        lines.append(f"| {floor}{mark} | " + " | ".join(cells) + " |")
    lines += [
        "",
        f"**Dev** ({len(dev)} pictures, never chosen on) at the shipped floor {MIN_DETAIL}:",
        "",
        "| pictures | n | below the floor (uncertain) |",
        "|---|---|---|",
    ]
    groups: dict[str, list[float]] = {}
    for row in dev:
        item = row["item"]
        groups.setdefault(f"native {item.label}, {item.family}", []).append(row["native"])
        if item.label == "real":
            for name in PROCESSING:
                groups.setdefault(f"real, {name}", []).append(row[name])
    for name, values in groups.items():
        lines.append(f"| {name} | {len(values)} | {share(values, MIN_DETAIL)} |")
    lines += ["", f"Run time {time.time() - started:.0f} s."]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
