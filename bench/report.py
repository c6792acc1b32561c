"""Writing a benchmark's results file: the machine's load at the end, then the text, also printed."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def write_report(lines: list[str], out: Path) -> None:
    # The load average goes last because other jobs share the machine: a high one explains noisy figures.
    lines = [*lines, f"Load average at end {os.getloadavg()[0]:.1f}."]
    publish("\n".join(lines) + "\n", out)


def command_line(script: str) -> str:
    """How this benchmark was run, as its results file quotes it: `python bench/NAME.py ARGS`."""
    return " ".join(["python", f"bench/{Path(script).name}", *sys.argv[1:]])


def publish(text: str, out: Path | None) -> None:
    """Prints `text` and, given `out`, writes it there (making its folder)."""
    print(text)
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
