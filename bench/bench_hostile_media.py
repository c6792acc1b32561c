"""Peak memory and time of `provenance` on hostile media (issue 16).

Each case is a crafted or oversized file made here; each command runs in its
own `provenance` process, and its peak RSS comes from the kernel's rusage for
that process (os.wait4), its time from the wall clock. The goal the fixes aim
at: every case at most 2 GB and 60 s, ending either in a result or in a
one-line per-file error (never a traceback).

    .venv/bin/python bench/bench_hostile_media.py --out bench/results/hostile_media.md   # hash, detect, mint, verify
    .venv/bin/python bench/bench_hostile_media.py --commands hash,mint --cases mkv_duration,video_8000

The 8000x8000 video and the 9400x9400 PNG take a minute or two to make, and
`detect` on them runs the detectors on the CPU: expect a few minutes in all.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.pipeline.hostile_media import big_png, mkv_with_duration, png_header, video  # noqa: E402

EXE = Path(sys.executable).parent / "provenance"
RSS_GOAL_MB = 2048
SECONDS_GOAL = 60

CASES = {
    "mkv_duration": ("MKV whose Duration says 1e12 ms, 6 frames", lambda d: mkv_with_duration(d / "duration.mkv")),
    "video_8000": ("8000x8000 H.264, 3 frames", lambda d: video(d / "big.mp4", frames=3, size=(8000, 8000), codec="libx264")),
    "png_9400": ("9400x9400 RGB PNG", lambda d: big_png(d / "big.png", 9400)),
    "png_claims_huge": ("PNG header claiming 2^31-1 square", lambda d: png_header(d / "claims.png", 2**31 - 1, 2**31 - 1)),
}
COMMANDS = {
    "hash": ["hash", "--json"],
    "detect": ["detect", "--json"],
    "mint": ["mint", "--json"],  # with the detectors, as `provenance mint` runs by default
    "mint-no-detect": ["mint", "--no-detect", "--json"],
    "verify": ["verify", "--json"],  # after mint in the same run: the file is certified
}


# Run by a fresh interpreter: a child forked from this process would start
# with this process's resident pages counted in its peak RSS (the files made
# here, web3), so the run is started from a small launcher instead.
_LAUNCH = """
import json, os, subprocess, sys, tempfile, time
with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
    start = time.perf_counter()
    proc = subprocess.Popen(sys.argv[1:], stdout=out, stderr=err)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    out.seek(0), err.seek(0)
    json.dump({"code": os.waitstatus_to_exitcode(status), "rss_kb": usage.ru_maxrss, "seconds": seconds,
               "stdout": out.read().decode(errors="replace"), "stderr": err.read().decode(errors="replace")}, sys.stdout)
"""


def measure(args: list[str], env: dict) -> tuple[int, float, float, str]:
    """(exit code, peak RSS in MB, seconds, what it said) of one `provenance` run."""
    done = subprocess.run([sys.executable, "-c", _LAUNCH, str(EXE), *args], capture_output=True, text=True, env=env, check=True)
    run = json.loads(done.stdout)
    text = run["stderr"].strip()
    if "Traceback" in text:
        said = "TRACEBACK: " + text.splitlines()[-1]
    else:
        said = text.splitlines()[-1] if text else ""
        try:
            doc = json.loads(run["stdout"])
            entries = doc["files"] if isinstance(doc, dict) and "files" in doc else doc
            entries = [entries] if isinstance(entries, dict) else entries  # verify prints one object for one file
            said = "; ".join(
                e.get("error")
                or (
                    f"error: {e.get('summary')}"
                    if e.get("status") == "error"
                    else "ok " + str(e.get("status") or e.get("label") or e.get("token_id") or e.get("sha256"))[:16]
                )
                for e in entries
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            pass
    return run["code"], run["rss_kb"] / 1024, run["seconds"], said[:160].replace("|", "/")


# Measured with this script on the same machine before the fixes (commit 07f582f; mint there was --no-detect).
BEFORE = (
    "Before the fixes (07f582f): the 1e12-duration MKV ended `hash` and `mint` in an IndexError traceback"
    " (and aborted a multi-file mint); the 8000x8000 video took 2636 MB in hash, 2886 MB in mint --no-detect,"
    " 2218 MB in detect; the 9400x9400 PNG 2870 MB in hash, 2937 MB in mint --no-detect, 1495 MB in detect."
)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", default=",".join(CASES))
    ap.add_argument("--commands", default="hash,detect,mint,verify", help=f"of {', '.join(COMMANDS)}; verify after a mint")
    ap.add_argument("--out", type=Path, help="also write the table here (a bench/results section)")
    args = ap.parse_args()
    cases = args.cases.split(",")
    commands = args.commands.split(",")
    work = Path(tempfile.mkdtemp(prefix="bench-hostile-"))
    env = {**os.environ, "PROVENANCE_HOME": str(work / "home")}
    files = {}
    for name in cases:
        start = time.perf_counter()
        files[name] = CASES[name][1](work)
        print(f"# made {name} ({files[name].stat().st_size:,} bytes) in {time.perf_counter() - start:.0f} s", flush=True)

    node = None
    if any(c.startswith("mint") or c == "verify" for c in commands):
        from provenance.chain import EphemeralNode, deploy, open_web3
        from provenance.chain.keys import dev_account
        from provenance.chain.node import DEV_PRIVATE_KEY
        from provenance.chain_admin import chain_config
        from provenance.config import load_settings

        node = EphemeralNode(work / "anvil").__enter__()
        env |= {"PROVENANCE_RPC_URL": node.url, "PROVENANCE_PRIVATE_KEY": DEV_PRIVATE_KEY}
        os.environ.update(env)
        deploy(chain_config(load_settings()), open_web3(node.url), node.url, dev_account())
    try:
        rows = ["| case | command | exit | peak RSS MB | seconds | within goal | outcome |", "|---|---|---|---|---|---|---|"]
        print("\n".join(rows), flush=True)
        for name in cases:
            for command in commands:
                code, rss, seconds, last = measure([*COMMANDS[command], str(files[name])], env)
                ok = rss <= RSS_GOAL_MB and seconds <= SECONDS_GOAL and not last.startswith("TRACEBACK")
                last = last.replace(str(work), "…")
                rows.append(f"| {CASES[name][0]} | {command} | {code} | {rss:.0f} | {seconds:.1f} | {'yes' if ok else 'NO'} | {last} |")
                print(rows[-1], flush=True)
    finally:
        if node is not None:
            node.__exit__(None, None, None)
    if args.out:
        from bench.report import write_report

        write_report(
            [
                "## Hostile media: peak memory and time per file",
                "",
                f"`.venv/bin/python bench/bench_hostile_media.py --commands {','.join(commands)} --out {args.out}`",
                "",
                f"Each command is its own `provenance` process on one crafted or oversized file; peak RSS is the kernel's"
                f" for that process (its own children included), time is wall clock. Goal: at most {RSS_GOAL_MB} MB and"
                f" {SECONDS_GOAL} s, and a result or a one-line error, never a traceback. `mint` runs the detectors (CPU),"
                " `verify` follows it, so the file is certified.",
                "",
                *rows,
                "",
                BEFORE,
            ],
            args.out,
        )


if __name__ == "__main__":
    main()
