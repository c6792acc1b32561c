"""Benchmarks for provenance.hashing: batched pHash vs imagehash, and PDQ.

Run:  .venv/bin/python bench/bench_hashing.py [--out bench/results/hashing_speed.md]
      (the near-duplicate index has its own benchmark: bench/bench_index.py)

Throughput ratios are measured in the same run, rounds interleaved, medians
reported; the machine's load average is printed because other jobs share it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import imagehash
import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.report import write_report  # noqa: E402

from provenance.hashing.pdq import pdq_hash  # noqa: E402
from provenance.hashing import lanczos_native  # noqa: E402
from provenance.hashing.phash import _bits_from_blocks, _numpy_blocks, default_workers, phash_batch  # noqa: E402

CORPUS = (ROOT / "../shared/corpus").resolve()
ROUNDS = 9
_SIDE = 32  # imagehash resizes to 32 x 32 before its DCT


def _sets(workdir: Path) -> dict[str, list[Path]]:
    real = sorted((CORPUS / "images/real").iterdir())
    square = [p for p in real if Image.open(p).size == (512, 512)]
    large = [p for p in real if max(Image.open(p).size) >= 900]
    thumbs = []
    for i, path in enumerate(real):
        thumb = workdir / f"thumb{i}.jpg"
        Image.open(path).convert("RGB").resize((128, 128), Image.Resampling.BICUBIC).save(thumb, quality=90)
        thumbs.append(thumb)
    return {"128px thumbnails (JPEG)": thumbs * 4, "512x512 photos (PNG)": square * 2, "large photos 900-2200 px": large}


def _time(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _load(paths: list[Path]) -> list[Image.Image]:
    images = []
    for path in paths:
        image = Image.open(path)
        image.load()
        images.append(image)
    return images


def _median_rate(count: int, times: list[float]) -> float:
    return count / statistics.median(times)


def bench_phash(sets: dict[str, list[Path]], workers: int) -> list[str]:
    """imagehash vs phash_batch on 1 and `workers` threads, decoding excluded and included, rounds interleaved."""
    excluded = [
        f"| images | n | imagehash img/s | batched, 1 thread img/s | ratio | batched, {workers} threads img/s | ratio |",
        "|---|---|---|---|---|---|---|",
    ]
    included = list(excluded)
    for label, paths in sets.items():
        images = _load(paths)
        assert [str(imagehash.phash(i)) for i in images] == [h[0] for h in phash_batch(images)]
        times: dict[str, list[float]] = {key: [] for key in ("ref", "one", "many", "ref_io", "one_io", "many_io")}
        for _ in range(ROUNDS):
            times["ref"].append(_time(lambda: [str(imagehash.phash(i)) for i in images]))
            times["one"].append(_time(lambda: phash_batch(images, workers=1)))
            times["many"].append(_time(lambda: phash_batch(images, workers=workers)))
            # Decoding included: imagehash decodes each file in turn; phash_batch
            # gets lazily opened files and decodes them in its worker threads.
            times["ref_io"].append(_time(lambda: [str(imagehash.phash(Image.open(p))) for p in paths]))
            times["one_io"].append(_time(lambda: phash_batch([Image.open(p) for p in paths], workers=1)))
            times["many_io"].append(_time(lambda: phash_batch([Image.open(p) for p in paths], workers=workers)))
        rate = {key: _median_rate(len(paths), value) for key, value in times.items()}
        for table, suffix in ((excluded, ""), (included, "_io")):
            ref, one, many = rate["ref" + suffix], rate["one" + suffix], rate["many" + suffix]
            table.append(f"| {label} | {len(paths)} | {ref:.0f} | {one:.0f} | {one / ref:.2f}x | {many:.0f} | {many / ref:.2f}x |")
    return ["Decoding excluded (images decoded beforehand):", "", *excluded, "", "Decoding included (from the files):", "", *included]


def bench_phash_sizes(workers: int) -> list[str]:
    """Where the time goes, per image side: imagehash's two Pillow steps, and the batched pHash."""
    real = [p for p in sorted((CORPUS / "images/real").iterdir()) if Image.open(p).mode == "RGB"][:8]
    rows = [
        "| side | mode | n | imagehash us/img | its convert('L') us | its LANCZOS resize us | batched 1 thread us/img | ratio | "
        f"batched {workers} threads us/img | ratio | without the kernel (numpy), 1 thread us/img | ratio |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for side, count in ((64, 128), (128, 128), (256, 64), (512, 16), (1024, 8), (2048, 4)):
        photos = [Image.open(p).convert("RGB").resize((side, side), Image.Resampling.BICUBIC) for p in real]
        for mode in ("RGB", "L"):
            images = [photos[i % len(photos)].convert(mode) for i in range(count)]
            assert [str(imagehash.phash(i)) for i in images] == [h[0] for h in phash_batch(images)]
            gray = [i.convert("L") for i in images]
            steps = {
                "ref": lambda: [str(imagehash.phash(i)) for i in images],
                "convert": lambda: [i.convert("L") for i in images],
                "resize": lambda: [g.resize((32, 32), Image.Resampling.LANCZOS) for g in gray],
                "one": lambda: phash_batch(images, workers=1),
                "many": lambda: phash_batch(images, workers=workers),
                "numpy": lambda: _phash_without_kernel(images),
            }
            times: dict[str, list[float]] = {key: [] for key in steps}
            for _ in range(ROUNDS):  # interleaved, so that load changes hit every column alike
                for key, fn in steps.items():
                    times[key].append(_time(fn))
            ref, convert, resize, one, many, numpy_path = (1e6 * statistics.median(times[key]) / count for key in steps)
            rows.append(
                f"| {side} | {mode} | {count} | {ref:.0f} | {convert:.0f} | {resize:.0f} | {one:.0f} | {ref / one:.1f}x | "
                f"{many:.0f} | {ref / many:.1f}x | {numpy_path:.0f} | {ref / numpy_path:.1f}x |"
            )
    return rows


def _phash_without_kernel(images: list[Image.Image]) -> np.ndarray:
    """The pHash bits as a machine without a C compiler computes them (Pillow's convert, banded float32 products)."""
    return _bits_from_blocks(_numpy_blocks(images, workers=1)[:, None])


PHASH_NOTES = [
    "How: imagehash's time is Pillow's `convert('L')` plus Pillow's scalar fixed-point LANCZOS resize "
    "(columns above). The compiled kernel (`provenance/hashing/_pillow_lanczos.c`) reads Pillow's pixel "
    "memory in place, computes the luma of four rows at a time into a cache-resident buffer with Pillow's "
    "integer formula, and takes the horizontal products with 16-bit SIMD multiply-adds on the high part "
    "of each weight only; the low parts can move a sum by a known bound, and only the few per cent of outputs "
    "whose rounding that bound leaves open get their low products added. The bits stay identical to "
    "imagehash (checked above, and by tests on every Pillow mode, both SIMD and portable paths).",
    "",
    "Threads: `phash_batch` uses every core by default (`default_workers()`; this machine has 2). "
    "Decoded images go to the kernel in one call that shares them among native threads, largest first; "
    "a Python thread pool per call cost about 0.4 ms, more than hashing 84 thumbnails on the second core "
    "saved. The DCT stays on one thread (scipy's own workers cost more than they saved at these batch "
    "sizes). Lazily opened files are decoded in Python threads instead, since decoding is most of their work.",
    "",
    "Limits: with one thread, RGB photos from about 256 px up level off near 8-9x, because the kernel "
    "must read Pillow's 4 bytes per pixel (Pillow's own `convert('L')` reads the same bytes, column 5); "
    "grayscale images, a quarter of the bytes, reach 10-14x. With decoding included the decoder dominates "
    "both sides (imagehash's whole hash of a decoded image costs less than decoding it), so no hashing "
    "speed-up lifts that ratio much above 2x per core: matching imagehash's bits means decoding every "
    "pixel exactly as Pillow does (no reduced-size JPEG decoding).",
]


def bench_pdq(sets: dict[str, list[Path]]) -> list[str]:
    rows = ["| images | PDQ img/s | PDQ + 8 dihedral img/s |", "|---|---|---|"]
    for label, paths in sets.items():
        images = [i.convert("RGB") for i in _load(paths)]
        plain = statistics.median(_time(lambda: [pdq_hash(i) for i in images]) for _ in range(3))
        dihedral = statistics.median(_time(lambda: [pdq_hash(i, dihedral=True) for i in images]) for _ in range(3))
        rows.append(f"| {label} | {len(images) / plain:.0f} | {len(images) / dihedral:.0f} |")
    return rows


def _cpu_path() -> str:
    if lanczos_native.available():
        return "compiled exact kernel, SIMD" if lanczos_native.simd() else "compiled exact kernel, portable C"
    return "no compiled kernel: banded float32 products"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/hashing_speed.md")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (oversubscribed OpenMP threads stall badly)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    lines = [
        "## Perceptual hashing speed",
        "",
        f"Command: `python bench/bench_hashing.py --threads {args.threads}`",
        "",
        f"CPU only (no GPU lent to this task), torch {torch.__version__} with {torch.get_num_threads()} threads, "
        f"{os.cpu_count()} cores, load average at start {os.getloadavg()[0]:.1f}. pHash bits checked equal to imagehash first.",
        "",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        sets = _sets(workdir)
        workers = default_workers()
        lines += [
            f"### pHash: provenance.hashing ({_cpu_path()} on CPU, torch on CUDA; batched DCT) vs imagehash.phash",
            "",
            *bench_phash(sets, workers),
            "",
            "### pHash per image side (corpus photos resized to side x side; decoding excluded)",
            "",
            *bench_phash_sizes(workers),
            "",
            *PHASH_NOTES,
            "",
        ]
        lines += ["### PDQ (pdqhash package)", "", *bench_pdq(sets), ""]
    write_report(lines, args.out)


if __name__ == "__main__":
    main()
