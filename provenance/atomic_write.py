"""A file that appears whole or not at all: written under a temporary name beside it, then renamed over it.

A reader (or a later run) never sees half a file: a failure part way, or an
interrupt, removes the temporary file and leaves any earlier `dest` as it was.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def temp_then_replace(dest: Path, tag: str) -> Iterator[Path]:
    """The temporary path `.<name>.<tag>` beside `dest` to write; renamed over `dest` when the block ends, removed when it raises.

    The same folder keeps the rename atomic (one file system); the leading dot keeps it out of listings.
    """
    tmp = dest.with_name(f".{dest.name}.{tag}")
    try:
        yield tmp
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
