"""What the PDQ lookup radius (`thresholds.pdq_lookup`) costs and what it finds.

Run:  .venv/bin/python bench/bench_pdq_lookup.py [--size 1000000] [--out bench/results/hashing_pdq_lookup.md]

Finding a certificate without a token id searches the near-duplicate index by
pHash (radius = the pHash threshold, cheap: see the index benchmark) and by PDQ.
Multi-index hashing over PDQ's 16 bands of 16 bits is cheap up to ~31 of 256
bits and approaches a scan near the PDQ threshold of 79. For each candidate
radius this reports, in the same run:

- cost: p50 of one `query_variants` call (which probes the bands, or reads
  every hash in bulk where the probes would outnumber the rows) for a file's 8 dihedral PDQ variants
  over --size random stored PDQ hashes in a SQLite file, against the linear
  scan of the same 8 variants (`linear_scan_variants`), and agreement;
- recall: the share of the robustness study's edited copies (bench/robustness.py,
  real photos, every transform) that the lookup finds by pHash or PDQ.
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

from sqlalchemy import create_engine

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.report import write_report  # noqa: E402
from bench.robustness import run as robustness_run  # noqa: E402
from provenance.hashing.index import PDQ, NearDuplicateIndex, _index_pays  # noqa: E402
from provenance.hashing.policy import DEFAULT_PDQ_THRESHOLD, DEFAULT_PHASH_THRESHOLD  # noqa: E402

RADII = (31, 47, 63, DEFAULT_PDQ_THRESHOLD)
QUERIES = 10


def _variants(value: int, radius: int, rng: random.Random) -> list[str]:
    """Eight hashes like a file's dihedral variants: one near a stored hash, seven unrelated."""
    for bit in rng.sample(range(256), rng.randint(0, radius)):
        value ^= 1 << bit
    return [f"{value:064x}"] + [f"{rng.getrandbits(256):064x}" for _ in range(7)]


def cost_rows(size: int, workdir: Path, rng: random.Random) -> tuple[list[str], float]:
    stored = [rng.getrandbits(256) for _ in range(size)]
    index = NearDuplicateIndex(create_engine(f"sqlite:///{workdir / 'pdq.db'}"))
    start = time.perf_counter()
    for first in range(0, size, 50_000):
        index.add_many((f"key{first + i}", None, f"{h:064x}") for i, h in enumerate(stored[first : first + 50_000]))
    load = time.perf_counter() - start
    rows = [
        "| PDQ lookup radius | strategy | 8-variant lookup p50 ms | linear scan ms | scan / lookup | results agree |",
        "|---|---|---|---|---|---|",
    ]
    for radius in RADII:
        queries = [_variants(rng.choice(stored), radius, rng) for _ in range(QUERIES)]
        times = []
        for variants in queries:
            start = time.perf_counter()
            index.query_variants(pdqs=variants, radius=radius)
            times.append(time.perf_counter() - start)
        start = time.perf_counter()
        scanned = index.linear_scan_variants(pdqs=queries[0], radius=radius)
        scan = time.perf_counter() - start
        agree = scanned == index.query_variants(pdqs=queries[0], radius=radius)
        p50 = statistics.median(times)
        strategy = "bands" if _index_pays(PDQ, [int(h, 16) for h in queries[0]], radius) else "bulk scan"
        rows.append(f"| {radius} | {strategy} | {p50 * 1e3:.1f} | {scan * 1e3:.0f} | {scan / p50:.1f}x | {agree} |")
    return rows, load


def recall_rows() -> list[str]:
    study = robustness_run()
    transforms = study["positives"]
    header = "| transform | " + " | ".join(f"found, PDQ radius {r}" for r in RADII) + " |"
    rows = [header, "|---" * (len(RADII) + 1) + "|"]
    totals = {r: [0, 0] for r in RADII}
    for name, scores in transforms.items():
        cells = []
        for radius in RADII:
            found = [p <= DEFAULT_PHASH_THRESHOLD or q <= radius for p, q in zip(scores["phash"], scores["pdq"], strict=True)]
            totals[radius][0] += sum(found)
            totals[radius][1] += len(found)
            cells.append(f"{sum(found) / len(found):.2f}")
        rows.append(f"| {name} | " + " | ".join(cells) + " |")
    rows.append("| **all edited copies** | " + " | ".join(f"**{hit / n:.3f}**" for hit, n in totals.values()) + " |")
    return [
        f"{len(study['photos'])} real photos, every transform of bench/robustness.py; pHash lookup radius {DEFAULT_PHASH_THRESHOLD} throughout.",
        "",
        *rows,
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1_000_000, help="PDQ hashes stored in the SQLite index")
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/hashing_pdq_lookup.md")
    args = parser.parse_args()
    lines = [
        "## PDQ lookup radius: cost and recall",
        "",
        f"Command: `python bench/bench_pdq_lookup.py --size {args.size}`",
        "",
        f"{os.cpu_count()} cores, load average at start {os.getloadavg()[0]:.1f}. The setting is "
        f"`[thresholds] pdq_lookup` (`PROVENANCE_PDQ_LOOKUP_RADIUS`), capped at the PDQ threshold ({DEFAULT_PDQ_THRESHOLD}, "
        "the default: the complete search). Candidates found are still judged against both thresholds.",
        "",
    ]
    rng = random.Random(3)
    with tempfile.TemporaryDirectory() as tmp:
        rows, load = cost_rows(args.size, Path(tmp), rng)
    lines += [f"### Cost: SQLite file, {args.size:,} random PDQ hashes (loaded in {load:.0f} s), {QUERIES} files each", "", *rows, ""]
    lines += ["### Recall: edited copies found by the lookup (pHash or PDQ)", "", *recall_rows(), ""]
    write_report(lines, args.out)


if __name__ == "__main__":
    main()
