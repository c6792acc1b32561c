"""Running the real `provenance` command in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

EXE = Path(sys.executable).parent / "provenance"


def run_cli(*args: str, env: dict | None = None, timeout: int = 180) -> subprocess.CompletedProcess:
    return subprocess.run([str(EXE), *map(str, args)], capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})})


def json_out(proc: subprocess.CompletedProcess):
    return json.loads(proc.stdout)
