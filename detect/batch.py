"""Decode and tile many stills in worker processes while the models run.

Decoding a large JPEG and cutting its tiles costs about as much as scoring
them on a GPU, so a DataLoader's workers do it in parallel and hand back
tiles in pinned memory (CUDA only) for fast, asynchronous transfer.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import torch

from detect.analyze import AnalysisError, _Decoded, decode_image


class _Stills(torch.utils.data.Dataset):
    def __init__(self, paths: Sequence[Path], tile_sizes: Sequence[int]):
        self.paths, self.tile_sizes = list(paths), list(tile_sizes)

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int):
        if not self.paths[index].is_file():
            return index, None, {}, f"{self.paths[index]}: no such file"
        try:
            decoded = decode_image(self.paths[index], self.tile_sizes)
        except AnalysisError as exc:
            return index, None, {}, f"{self.paths[index]}: {exc}"
        except OSError as exc:  # vanished or unreadable between listing and decoding
            return index, None, {}, f"{self.paths[index]}: {exc.strerror or exc}"
        return index, torch.from_numpy(decoded.rgb), decoded.tiles, ""


def default_workers(count: int) -> int:
    return 0 if count < 2 else min(4, os.cpu_count() or 1, count)


def decoded_stills(
    paths: Sequence[Path], tile_sizes: Sequence[int], workers: int | None, device: torch.device
) -> Iterator[tuple[int, _Decoded | None, str]]:
    """Yield (index into paths, decoded still or None, error message), in order."""
    if not paths:
        return
    workers = default_workers(len(paths)) if workers is None else workers
    loader = torch.utils.data.DataLoader(
        _Stills(paths, tile_sizes),
        batch_size=None,
        num_workers=workers,
        pin_memory=device.type == "cuda",
        prefetch_factor=2 if workers else None,
    )
    for index, rgb, tiles, error in loader:
        if error:
            yield int(index), None, error
        else:
            yield int(index), _Decoded(rgb=np.asarray(rgb), tiles=dict(tiles)), ""
