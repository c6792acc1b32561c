"""Run every benchmark, then assemble BENCHMARKS.md from bench/results/*.md.

    .venv/bin/python -m bench.run_all            # run all, then collect
    .venv/bin/python -m bench.run_all --collect  # only rebuild BENCHMARKS.md

Each benchmark writes its own section (with the command that produced it) to
bench/results/; ratios are always against a baseline measured in the same run.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
ORDER = [
    "gas",
    "pipeline",
    "ipfs",
    "hashing",
    "hashing_speed",
    "hashing_index",
    "hashing_pdq_lookup",
    "hashing_robustness",
    "detect_generalization",
    "detect",
    "detect_probe_variants",
    "attack",
    "faces",
    "hostile_media",
    "reliability",
]
RUNS = [
    ["bench/bench_gas.py"],
    ["bench/bench_pipeline.py", "--files", "60", "--out", "bench/results/pipeline.md"],
    ["bench/bench_ipfs.py", "--size-mib", "128", "--repeats", "7", "--out", "bench/results/ipfs.md"],
    ["bench/bench_hashing.py", "--threads", "1"],
    ["bench/bench_index.py", "--size", "1000000"],  # PostgreSQL too when PROVENANCE_TEST_POSTGRES_URL is set
    ["bench/bench_pdq_lookup.py", "--size", "1000000"],
    ["bench/bench_detect.py", "--out", "bench/results/detect.md"],
    ["bench/bench_attack.py", "--out", "bench/results/attack.md"],
    ["bench/bench_faces.py", "--rounds", "3", "--threads", "1", "--against", "b828b89"],
    ["bench/bench_hostile_media.py", "--out", "bench/results/hostile_media.md"],
    ["bench/bench_reliability.py", "--out", "bench/results/reliability.md"],  # ~30 minutes on 2 cores
]
# The robustness study needs Debian's photo packages: see bench/robustness.py. The probe recipe study
# (bench/probe_variants.py) takes ~40 minutes of feature extraction on two cores: run it by hand.
# The cross-source figures (bench/bench_generalization.py) need the data set built by
# `python -m detect.train data DATA` (fetched data, kept out of git): run it by hand with --data DATA.

HEADER = """# Benchmarks

Every figure below is a ratio or comparison against a baseline measured in the
same run on the same machine, with the command that produced it. Machine: the
project's 2-core, 24 GiB CI/developer machine unless a section says otherwise.
Absolute numbers vary with load on that shared machine; the ratios are the
point. Rebuild with `make bench` (runs all) or `python -m bench.run_all --collect`.

"""


def collect() -> Path:
    sections = []
    names = sorted(p.stem for p in RESULTS.glob("*.md"))
    for name in [n for n in ORDER if n in names] + [n for n in names if n not in ORDER]:
        sections.append((RESULTS / f"{name}.md").read_text().strip())
    out = ROOT / "BENCHMARKS.md"
    out.write_text(HEADER + "\n\n".join(sections) + "\n")
    return out


def main() -> None:
    if "--collect" not in sys.argv:
        for run in RUNS:
            subprocess.run([sys.executable, *run], cwd=ROOT, check=True)
    print(f"wrote {collect()}")


if __name__ == "__main__":
    main()
