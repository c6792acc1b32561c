"""Decode and tile many stills in worker processes while the models run.

Decoding a large JPEG and cutting its tiles costs about as much as scoring
them on a GPU, so a DataLoader's workers do it in parallel and hand back
tiles in pinned memory (CUDA only) for fast, asynchronous transfer. On the
CPU the workers also run the face finder (MTCNN, one torch thread each, the
DataLoader's default), which is most of the face path's cost there: the main
process then only scores. Faces travel as plain arrays and are rebuilt here.
Without workers (the CPU under 4 cores) the next still is decoded in a thread
while this one's faces are searched (see `_in_process`).
"""

from __future__ import annotations

import os
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import torch

from detect.device import uses_pinned_memory
from detect.stills import AnalysisError, DecodedStill, decode_image


class _Stills(torch.utils.data.Dataset):
    def __init__(self, paths: Sequence[Path], tile_sizes: Sequence[int], find_faces: bool = False):
        self.paths, self.tile_sizes, self.find_faces = list(paths), list(tile_sizes), find_faces

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int):
        if not self.paths[index].is_file():
            return index, None, {}, None, (), f"{self.paths[index]}: no such file"
        try:
            decoded = decode_image(self.paths[index], self.tile_sizes)
        except AnalysisError as exc:
            return index, None, {}, None, (), f"{self.paths[index]}: {exc}"
        except OSError as exc:  # vanished or unreadable between listing and decoding
            return index, None, {}, None, (), f"{self.paths[index]}: {exc.strerror or exc}"
        except MemoryError:
            return index, None, {}, None, (), f"{self.paths[index]}: too large to decode in the memory available"
        except Exception as exc:  # any other failure on one still is its own, never the batch's
            reason = " ".join(str(exc).split())[:160]
            return index, None, {}, None, (), f"{self.paths[index]}: cannot decode ({type(exc).__name__}: {reason})"
        faces = _face_arrays(decoded.rgb) if self.find_faces else None
        return index, torch.from_numpy(decoded.rgb), decoded.tiles, faces, list(decoded.notes), ""


def _face_arrays(rgb: np.ndarray) -> dict[str, np.ndarray]:
    """Faces of one image as arrays (cheap to send between processes)."""
    from PIL import Image

    from detect.faces import find_faces

    faces = find_faces(Image.fromarray(rgb))
    return {
        "boxes": np.array([f.box for f in faces], dtype=np.float64).reshape(-1, 4),
        "landmarks": np.array([f.landmarks for f in faces], dtype=np.float64).reshape(-1, 5, 2),
        "confidence": np.array([f.confidence for f in faces], dtype=np.float64),
    }


def _faces(arrays, rgb: np.ndarray) -> list | None:
    if arrays is None:
        return None
    from PIL import Image

    from detect.faces import Face

    image = Image.fromarray(rgb)
    boxes, landmarks, confidence = (np.asarray(arrays[k]) for k in ("boxes", "landmarks", "confidence"))
    return [
        Face(
            box=(float(b[0]), float(b[1]), float(b[2]), float(b[3])),
            landmarks=tuple((float(x), float(y)) for x, y in pts),
            confidence=float(c),
            image=image,
        )
        for b, pts, c in zip(boxes, landmarks, confidence)
    ]


def default_workers(count: int, device: torch.device | None = None) -> int:
    """Worker processes for `count` stills.

    On CUDA the CPU is otherwise idle while the GPU scores, so up to 4
    workers decode (and cut tiles) ahead. On the CPU the models already use
    every core through torch's threads: on the project's 2-core machine
    workers made a 16-still batch 15-25 % slower (process start-up, MTCNN
    loaded per worker, contention), so they are used only from 4 cores up,
    on half of them.
    """
    cpus = os.cpu_count() or 1
    if count < 2:
        return 0
    if device is not None and device.type == "cuda":
        return min(4, cpus, count)
    return 0 if cpus < 4 else min(4, cpus // 2, count)


def decoded_stills(
    paths: Sequence[Path], tile_sizes: Sequence[int], workers: int | None, device: torch.device, find_faces: bool = False
) -> Iterator[tuple[int, DecodedStill | None, str]]:
    """Yield (index into paths, decoded still or None, error message), in order.

    With `find_faces` each still comes with its faces already found (in the workers, or here when there are none).
    """
    if not paths:
        return
    workers = default_workers(len(paths), device) if workers is None else workers
    if find_faces and workers == 0:
        yield from _in_process(paths, tile_sizes)
        return
    loader = torch.utils.data.DataLoader(
        _Stills(paths, tile_sizes, find_faces=find_faces and workers > 0),
        batch_size=None,
        num_workers=workers,
        pin_memory=uses_pinned_memory(device),
        prefetch_factor=2 if workers else None,
    )
    for index, rgb, tiles, faces, notes, error in loader:
        if error:
            yield int(index), None, error
        else:
            pixels = np.asarray(rgb)
            yield int(index), DecodedStill(rgb=pixels, tiles=dict(tiles), faces=_faces(faces, pixels), notes=tuple(notes)), ""


def _in_process(paths: Sequence[Path], tile_sizes: Sequence[int]) -> Iterator[tuple[int, DecodedStill | None, str]]:
    """Stills with their faces, decoding the next one in a thread while this one's faces are searched.

    Both run on one thread each (the decoder and numpy let go of the GIL, the
    face search runs torch on one thread), so on two cores they overlap
    without contending. The next still is decoded before this one is handed
    over: the models, on every core, never share them with the decoder.
    """
    from PIL import Image

    from detect.faces import find_faces

    stills = _Stills(paths, tile_sizes)
    with ThreadPoolExecutor(1) as pool:
        ahead: Future = pool.submit(stills.__getitem__, 0)
        for position in range(len(paths)):
            index, rgb, tiles, _, notes, error = ahead.result()
            if position + 1 < len(paths):
                ahead = pool.submit(stills.__getitem__, position + 1)
            if error:
                yield index, None, error
                continue
            pixels = rgb.numpy()
            faces = find_faces(Image.fromarray(pixels))
            ahead.exception()  # wait for the next still's decoding (its failure is its own entry)
            yield index, DecodedStill(rgb=pixels, tiles=dict(tiles), faces=faces, notes=tuple(notes)), ""
