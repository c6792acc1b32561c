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
from provenance.hashing import lanczos_native  # noqa: E402
from provenance.hashing.pdq import pdq_hash  # noqa: E402
from provenance.hashing.phash import _bits_from_blocks, _numpy_blocks, default_workers, phash_batch  # noqa: E402

CORPUS = (ROOT / "../shared/corpus").resolve()
ROUNDS = 9
MIN_SAMPLE_S = 0.05  # each timed sample repeats its call until it lasts this long


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


def _time_each(fn, min_seconds: float = MIN_SAMPLE_S) -> float:
    """Seconds per call of `fn`, over as many calls as fill `min_seconds`.

    A batch of 20 photos hashes in a few milliseconds; one call that short is
    at the mercy of a single scheduler tick on this shared machine.
    """
    calls, start = 0, time.perf_counter()
    while True:
        fn()
        calls += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds:
            return elapsed / calls


def _load(paths: list[Path]) -> list[Image.Image]:
    images = []
    for path in paths:
        image = Image.open(path)
        image.load()
        images.append(image)
    return images


def _median_rate(count: int, times: list[float]) -> float:
    return count / statistics.median(times)


def _round_ratios(times: dict[str, list[float]], base: str, case: str) -> list[float]:
    """Baseline time over case time, round by round: both were timed moments apart, so drifts in load cancel."""
    return [reference / measured for reference, measured in zip(times[base], times[case])]


def _ratio_cell(ratios: list[float]) -> str:
    return f"{statistics.median(ratios):.2f}x ({min(ratios):.1f}-{max(ratios):.1f})"


def bench_phash(sets: dict[str, list[Path]], workers: int, device: str | None) -> list[str]:
    """imagehash vs phash_batch on 1 and `workers` threads (and `device`), decoding excluded and included, rounds interleaved."""
    header = f"| images | n | imagehash img/s | batched, 1 thread img/s | ratio | batched, {workers} threads img/s | ratio |"
    excluded = [
        header + (f" batched on {device} img/s | ratio |" if device else ""),
        "|---|---|---|---|---|---|---|" + ("---|---|" if device else ""),
    ]
    included = [header, "|---|---|---|---|---|---|---|"]
    for label, paths in sets.items():
        images = _load(paths)
        assert [str(imagehash.phash(i)) for i in images] == [h[0] for h in phash_batch(images)]
        steps = {
            "ref": lambda: [str(imagehash.phash(i)) for i in images],
            "one": lambda: phash_batch(images, workers=1),
            "many": lambda: phash_batch(images, workers=workers),
            # Decoding included: imagehash decodes each file in turn; phash_batch
            # gets lazily opened files and decodes them in its worker threads.
            "ref_io": lambda: [str(imagehash.phash(Image.open(p))) for p in paths],
            "one_io": lambda: phash_batch([Image.open(p) for p in paths], workers=1),
            "many_io": lambda: phash_batch([Image.open(p) for p in paths], workers=workers),
        }
        if device:
            assert [h[0] for h in phash_batch(images, device=device)] == [h[0] for h in phash_batch(images)]
            steps["gpu"] = lambda: phash_batch(images, device=device)
        times: dict[str, list[float]] = {key: [] for key in steps}
        for _ in range(ROUNDS):  # interleaved, so that load changes hit every column alike
            for key, fn in steps.items():
                times[key].append(_time_each(fn))
        rate = {key: _median_rate(len(paths), value) for key, value in times.items()}
        for table, suffix in ((excluded, ""), (included, "_io")):
            base = "ref" + suffix
            cells = [f"| {label} | {len(paths)} | {rate[base]:.0f} "]
            for case in ("one", "many") + (("gpu",) if device and not suffix else ()):
                cells.append(f"| {rate[case + suffix]:.0f} | {_ratio_cell(_round_ratios(times, base, case + suffix))} ")
            table.append("".join(cells) + "|")
    return [
        f"Ratio: the median over {ROUNDS} interleaved rounds of imagehash's time over the batched time in the same round "
        "(lowest and highest round in brackets); each timed sample repeats its call for at least "
        f"{MIN_SAMPLE_S * 1000:.0f} ms. Rates are medians over the rounds.",
        "",
        "Decoding excluded (images decoded beforehand):",
        "",
        *excluded,
        "",
        "Decoding included (from the files):",
        "",
        *included,
    ]


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
                    times[key].append(_time_each(fn))
            ref, convert, resize, one, many, numpy_path = (1e6 * statistics.median(times[key]) / count for key in steps)
            ratio = {key: statistics.median(_round_ratios(times, "ref", key)) for key in ("one", "many", "numpy")}
            rows.append(
                f"| {side} | {mode} | {count} | {ref:.0f} | {convert:.0f} | {resize:.0f} | {one:.0f} | {ratio['one']:.1f}x | "
                f"{many:.0f} | {ratio['many']:.1f}x | {numpy_path:.0f} | {ratio['numpy']:.1f}x |"
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
    "grayscale images, a quarter of the bytes, go further (the L rows). With decoding included the decoder dominates "
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


def _devices(device: str | None) -> str:
    if device:
        return f"CPU and {torch.cuda.get_device_name(0)} (the CUDA column: torch path, DCT on the CPU)"
    return "CPU only (no CUDA device on this machine)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/hashing_speed.md")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (oversubscribed OpenMP threads stall badly)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = "cuda" if torch.cuda.is_available() else None
    lines = [
        "## Perceptual hashing speed",
        "",
        f"Command: `python bench/bench_hashing.py --threads {args.threads}`",
        "",
        f"{_devices(device)}, torch {torch.__version__} with {torch.get_num_threads()} threads, "
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
            *bench_phash(sets, workers, device),
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
