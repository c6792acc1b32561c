"""Running the real `provenance` command in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.cli_json import envelope

EXE = Path(sys.executable).parent / "provenance"


def run_cli(*args: str, env: dict | None = None, timeout: int = 180) -> subprocess.CompletedProcess:
    return subprocess.run([str(EXE), *map(str, args)], capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})})


def json_out(proc: subprocess.CompletedProcess):
    """The `--json` envelope's `files` (per-file commands) or `result` (the others); docs/cli.md."""
    doc = envelope(proc.stdout)
    return doc["files"] if "files" in doc else doc["result"]
