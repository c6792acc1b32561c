"""Benchmarks for provenance.hashing: batched pHash vs imagehash, PDQ, and the near-duplicate index.

Run:  .venv/bin/python bench/bench_hashing.py [--index-size 1000000] [--out bench/results/hashing_speed.md]

Throughput ratios are measured in the same run, rounds interleaved, medians
reported; the machine's load average is printed because other jobs share it.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import imagehash
import numpy as np
import torch
from PIL import Image
from sqlalchemy import create_engine

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from provenance.hashing.index import NearDuplicateIndex  # noqa: E402
from provenance.hashing.pdq import pdq_hash  # noqa: E402
from provenance.hashing.phash import phash_batch  # noqa: E402

CORPUS = (ROOT / "../shared/corpus").resolve()
ROUNDS = 5


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


def bench_phash(sets: dict[str, list[Path]]) -> list[str]:
    rows = ["| images | n | imagehash img/s | batched img/s | ratio (decode excluded) | imagehash img/s | batched img/s | ratio (decode included) |", "|---|---|---|---|---|---|---|---|"]
    for label, paths in sets.items():
        images = _load(paths)
        assert [str(imagehash.phash(i)) for i in images] == [h[0] for h in phash_batch(images)]
        ex_ref, ex_new, in_ref, in_new = [], [], [], []
        for _ in range(ROUNDS):
            ex_ref.append(_time(lambda: [str(imagehash.phash(i)) for i in images]))
            ex_new.append(_time(lambda: phash_batch(images)))
            in_ref.append(_time(lambda: [str(imagehash.phash(i)) for i in _load(paths)]))
            in_new.append(_time(lambda: phash_batch(_load(paths))))
        n = len(images)
        m = {k: n / statistics.median(v) for k, v in dict(a=ex_ref, b=ex_new, c=in_ref, d=in_new).items()}
        rows.append(
            f"| {label} | {n} | {m['a']:.0f} | {m['b']:.0f} | {m['b'] / m['a']:.2f}x | {m['c']:.0f} | {m['d']:.0f} | {m['d'] / m['c']:.2f}x |"
        )
    return rows


def bench_pdq(sets: dict[str, list[Path]]) -> list[str]:
    rows = ["| images | PDQ img/s | PDQ + 8 dihedral img/s |", "|---|---|---|"]
    for label, paths in sets.items():
        images = [i.convert("RGB") for i in _load(paths)]
        plain = statistics.median(_time(lambda: [pdq_hash(i) for i in images]) for _ in range(3))
        dihedral = statistics.median(_time(lambda: [pdq_hash(i, dihedral=True) for i in images]) for _ in range(3))
        rows.append(f"| {label} | {len(images) / plain:.0f} | {len(images) / dihedral:.0f} |")
    return rows


def bench_index(size: int, workdir: Path) -> list[str]:
    rng = random.Random(1)
    engine = create_engine(f"sqlite:///{workdir / 'index.db'}")
    index = NearDuplicateIndex(engine)
    stored = [f"{rng.getrandbits(64):016x}" for _ in range(size)]
    start = time.perf_counter()
    for first in range(0, size, 200_000):
        index.add_many((f"key{first + i}", h, None) for i, h in enumerate(stored[first : first + 200_000]))
    load = time.perf_counter() - start
    rows = ["| radius | queries | MIH p50 ms | MIH p99 ms | linear scan p50 ms | speed-up (p50) | results agree |", "|---|---|---|---|---|---|---|"]
    for radius in (4, 8, 10, 12):
        queries = []
        for _ in range(200):
            value = int(rng.choice(stored), 16)
            for bit in rng.sample(range(64), rng.randint(0, radius)):
                value ^= 1 << bit
            queries.append(f"{value:016x}")
        index.query(phash=queries[0], radius=radius)  # warm the statement cache
        times = []
        for q in queries:
            start = time.perf_counter()
            index.query(phash=q, radius=radius)
            times.append(time.perf_counter() - start)
        scans, agree = [], True
        for q in queries[:3]:
            start = time.perf_counter()
            expected = index.linear_scan(phash=q, radius=radius)
            scans.append(time.perf_counter() - start)
            agree &= expected == index.query(phash=q, radius=radius)
        p50, p99 = np.percentile(times, 50) * 1e3, np.percentile(times, 99) * 1e3
        scan = statistics.median(scans) * 1e3
        rows.append(f"| {radius} | {len(queries)} | {p50:.1f} | {p99:.1f} | {scan:.0f} | {scan / p50:.0f}x | {agree} |")
    return [f"SQLite file, {size:,} random pHashes, loaded in {load:.0f} s.", "", *rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index-size", type=int, default=1_000_000)
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/hashing_speed.md")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (oversubscribed OpenMP threads stall badly)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    lines = [
        "## Perceptual hashing speed",
        "",
        f"Command: `python bench/bench_hashing.py --index-size {args.index_size} --threads {args.threads}`",
        "",
        f"CPU only (no GPU lent to this task), torch {torch.__version__} with {torch.get_num_threads()} threads, "
        f"{os.cpu_count()} cores, load average at start {os.getloadavg()[0]:.1f}. pHash bits checked equal to imagehash first.",
        "",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        sets = _sets(workdir)
        lines += ["### pHash: provenance.hashing (Pillow resize on CPU, torch on CUDA; batched DCT) vs imagehash.phash", "", *bench_phash(sets), ""]
        lines += ["### PDQ (pdqhash package)", "", *bench_pdq(sets), ""]
        lines += ["### Near-duplicate index: radius query, multi-index hashing vs linear scan", "", *bench_index(args.index_size, workdir), ""]
    lines.append(f"Load average at end {os.getloadavg()[0]:.1f}.")
    text = "\n".join(lines) + "\n"
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
