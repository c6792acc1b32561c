"""The project's own trained weights on disk: one `torch.save` file, named by the sha256 of its bytes.

Both trained heads (trained.py, face_probe.py) and the artifact CNN (artifact.py) are
saved and read this way; the sha256 is what their model cards report.
"""

from __future__ import annotations

import hashlib
import io
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import torch

from detect.errors import DetectError

T = TypeVar("T")


def save_tensors(content: Any, path: Path) -> str:
    """Write `content` (tensors in dicts, plain metadata) to `path`; returns the sha256 of the bytes written."""
    buffer = io.BytesIO()
    torch.save(content, buffer)
    data = buffer.getvalue()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def load_tensors(path: Path, what: str, error: type[DetectError], parse: Callable[[Any], T]) -> tuple[T, bytes]:
    """`parse` of the file's content (tensors only: weights_only), and the file's bytes for its hash.

    A missing file, or content torch or `parse` cannot read, raises `error` with a one-line message naming `what`.
    """
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise error(f"{what} not found: {path} ({exc.strerror})") from None
    try:
        return parse(torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)), data
    except (RuntimeError, KeyError, EOFError, TypeError, ValueError, pickle.UnpicklingError) as exc:
        raise error(f"{what} unreadable: {exc}") from None
