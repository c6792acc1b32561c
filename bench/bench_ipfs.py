"""CID computation throughput against hashlib sha256 on the same file, in the same run.

Usage: .venv/bin/python bench/bench_ipfs.py [--size-mib 256] [--repeats 5] [--out bench/results/ipfs.md]

The baseline is `hashlib.file_digest(f, "sha256")`, the fastest plain sha256
of a file the standard library offers. Each CID version runs three ways: as
the importer does by default (worker threads for large files when a CPU is
idle by the load average), with worker threads forced, and with every leaf
hashed in the calling thread (the importer before), so each is measured
against the same baseline in the same run. Runs alternate
between cases so that page-cache and CPU-frequency effects hit all alike.

Wall clock and the CPU time of the whole process (the total work, which is
what counts when no core is free) are kept for each run.
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

from bench.report import command_line, publish  # noqa: E402
from provenance.ipfs import ImportProfile  # noqa: E402
from provenance.ipfs.importer import import_stream  # noqa: E402
from provenance.ipfs.leaves import BATCH_CHUNKS, MAX_WORKERS, _cpus, parallel_plan  # noqa: E402

BASELINE = "hashlib sha256 (baseline)"


def baseline(path: Path) -> None:
    with open(path, "rb") as fh:
        hashlib.file_digest(fh, "sha256")


def importer(version: int, parallel: bool | None):
    profile = ImportProfile.for_version(version)

    def run(path: Path) -> None:
        with open(path, "rb", buffering=0) as fh:  # as cid_of_file opens it
            import_stream(fh, profile, parallel=parallel)

    return run


def default_uses_workers(path: Path) -> bool:
    """What the default mode would choose now (the load average moves during the run).

    Asked of `parallel_plan`, not by opening the leaves: a pool built here
    would start hashing the file between timed runs.
    """
    with open(path, "rb") as fh:
        return parallel_plan(fh, ImportProfile.for_version(1)) is not None


def measure(fn, path: Path) -> tuple[float, float]:
    wall, process = time.perf_counter(), time.process_time()
    fn(path)
    return time.perf_counter() - wall, time.process_time() - process


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    cases = {
        BASELINE: baseline,
        "CIDv0 (dag-pb leaves), default": importer(0, None),
        "CIDv1 (raw leaves), default": importer(1, None),
        "CIDv0, worker threads forced": importer(0, True),
        "CIDv1, worker threads forced": importer(1, True),
        "CIDv0, calling thread only": importer(0, False),
        "CIDv1, calling thread only": importer(1, False),
    }
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.bin"
        with open(path, "wb") as fh:
            for _ in range(args.size_mib):
                fh.write(os.urandom(1 << 20))
        size = path.stat().st_size
        for fn in cases.values():  # warm the page cache and code paths
            fn(path)
        load_before = os.getloadavg()[0]
        runs: dict[str, list[tuple[float, float]]] = {name: [] for name in cases}
        defaults_parallel = []
        for _ in range(args.repeats):
            for name, fn in cases.items():
                if name.endswith("default"):
                    defaults_parallel.append(default_uses_workers(path))
                runs[name].append(measure(fn, path))

    def column(name: str, index: int) -> list[float]:
        return [run[index] for run in runs[name]]

    base_best = min(column(BASELINE, 0))
    base_median = [statistics.median(column(BASELINE, i)) for i in range(2)]
    command = command_line(__file__)
    lines = [
        "## IPFS: CID computation vs hashlib sha256",
        "",
        f"Command: `{command.strip()}`  ",
        f"File: {args.size_mib} MiB of random bytes (page-cached), {args.repeats} alternating runs per case; "
        f"worker threads: {min(_cpus(), MAX_WORKERS)}, {BATCH_CHUNKS} chunks per task.  ",
        f"Default mode used worker threads in {sum(defaults_parallel)} of {len(defaults_parallel)} default runs "
        "(load average below workers - 0.5 at the time).  ",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"load average {load_before:.1f} at the start of the timed runs and {os.getloadavg()[0]:.1f} at the end.",
        "",
        "Ratios are sha256 time / case time (above 1: faster than the baseline).",
        "",
        "| case | wall best s | MiB/s (best) | wall ratio (best) | wall ratio (median) | process CPU ratio (median) |",
        "|---|---|---|---|---|---|",
    ]
    for name in cases:
        best = min(column(name, 0))
        medians = [statistics.median(column(name, i)) for i in range(2)]
        ratios = " | ".join(f"{base / value:.3f}" for base, value in zip(base_median, medians))
        lines.append(f"| {name} | {best:.3f} | {size / best / 2**20:.0f} | {base_best / best:.3f} | {ratios} |")
    lines += [
        "",
        "Goal: wall ratio >= 0.9 for both CID versions. The machine is shared, so wall-clock ratios move with "
        "other processes' load; the process CPU ratio shows the total work, whatever the load.",
    ]
    publish("\n".join(lines) + "\n", args.out)


if __name__ == "__main__":
    main()
