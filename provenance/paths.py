"""Folders under `$PROVENANCE_HOME`, created owner-only.

The home holds the ledger, the chain's state, keys' locks and the stored
media; whichever command runs first on a fresh machine creates it, so every
part creates its folders through here rather than with a bare `mkdir`, which
would leave them (and the home above them) at the umask's 0755.
"""

from __future__ import annotations

import os
from pathlib import Path


def private_dir(path: Path) -> Path:
    """`path` and any missing parents created 0700 (whatever the umask); existing folders are left as they are."""
    path = Path(path)
    missing = []
    probe = path
    while not probe.exists():
        missing.append(probe)
        if probe.parent == probe:
            break
        probe = probe.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=0o700)
        except FileExistsError:
            continue  # another process made it first
        os.chmod(folder, 0o700)
    return path
