"""CID computation throughput against hashlib sha256 on the same file, in the same run.

Usage: .venv/bin/python bench/bench_ipfs.py [--size-mib 256] [--repeats 5] [--out bench/results/ipfs.md]

The baseline is `hashlib.file_digest(f, "sha256")`, the fastest plain sha256
of a file the standard library offers. Runs alternate baseline and importer
so that page-cache and CPU-frequency effects hit both alike; the best of N
runs of each is compared.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from provenance.ipfs import ImportProfile  # noqa: E402
from provenance.ipfs.hashing import cid_of_file  # noqa: E402


def baseline(path: Path) -> None:
    with open(path, "rb") as fh:
        hashlib.file_digest(fh, "sha256")


def measure(fn, path: Path) -> float:
    start = time.perf_counter()
    fn(path)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.bin"
        with open(path, "wb") as fh:
            for _ in range(args.size_mib):
                fh.write(os.urandom(1 << 20))
        size = path.stat().st_size
        cases = {
            "hashlib sha256 (baseline)": baseline,
            "CIDv0 (dag-pb leaves)": lambda p: cid_of_file(p, profile=ImportProfile.for_version(0)),
            "CIDv1 (raw leaves)": lambda p: cid_of_file(p, profile=ImportProfile.for_version(1)),
        }
        for fn in cases.values():  # warm the page cache and code paths
            fn(path)
        times: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(args.repeats):
            for name, fn in cases.items():
                times[name].append(measure(fn, path))

    base = min(times["hashlib sha256 (baseline)"])
    base_median = statistics.median(times["hashlib sha256 (baseline)"])
    command = "python bench/bench_ipfs.py " + " ".join(sys.argv[1:])
    lines = [
        "## IPFS: CID computation vs hashlib sha256",
        "",
        f"Command: `{command.strip()}`  ",
        f"File: {args.size_mib} MiB of random bytes (page-cached), best of {args.repeats} alternating runs.  ",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"load average {os.getloadavg()[0]:.1f} at the end of the run.",
        "",
        "| case | best s | median s | MiB/s (best) | ratio to sha256 (best) | ratio (median) |",
        "|---|---|---|---|---|---|",
    ]
    for name, values in times.items():
        best = min(values)
        lines.append(
            f"| {name} | {best:.3f} | {statistics.median(values):.3f} | {size / best / 2**20:.0f} | {base / best:.3f} "
            f"| {base_median / statistics.median(values):.3f} |"
        )
    lines += ["", "Goal: ratio >= 0.9 for both CID versions. The machine is shared, so both best-of and median ratios are shown."]
    report = "\n".join(lines) + "\n"
    print(report)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(report)


if __name__ == "__main__":
    main()
