"""Batched pHash whose bits equal `imagehash.phash` (hash_size 8, highfreq_factor 4).

Same steps as imagehash: Pillow's own `convert('L')`, Pillow's 8-bit LANCZOS
resize to 32x32 (rebuilt exactly: banded float32 products on the CPU, see
`lanczos_cpu`; dense torch matrix products on other devices, see
`pil_lanczos`), a type-II DCT over both axes with `scipy.fftpack.dct` (run on
the whole batch at once; the 32x32 blocks are tiny, so keeping scipy keeps
the floating-point bits identical on every device), and "coefficient >
median" over the top-left 8x8 block.

On the CPU, images are grouped by size, each group's planes are stacked so
one set of matrix products serves many images, and the groups are spread over
a few threads: Pillow's decode and convert, torch's products and numpy's
element-wise passes release the GIL, so lazily opened images are also decoded
in parallel.
"""

from __future__ import annotations

import math
import os
from collections import defaultdict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import scipy.fftpack
import torch
from PIL import Image

from provenance.hashing.dihedral import apply_to_arrays
from provenance.hashing.lanczos_cpu import resize_stack
from provenance.hashing.pil_lanczos import resize_gray

HASH_SIZE = 8
_IMG_SIZE = HASH_SIZE * 4
_CHUNK_PIXELS = 1 << 24  # float32 staging buffer of at most 64 MiB per chunk
_CPU_CHUNK_PIXELS = 1 << 22  # pixels per CPU task: bounds the stacked uint8 planes, and splits work across threads
_MAX_WORKERS = 8


def luma_plane(image: Image.Image) -> np.ndarray:
    """Grayscale array, bit-identical to imagehash's `image.convert('L')` (it is that call)."""
    gray = image if image.mode == "L" else image.convert("L")
    # Read-only view of the raw bytes: a little cheaper than np.asarray's array interface.
    return np.frombuffer(gray.tobytes(), dtype=np.uint8).reshape(gray.height, gray.width)


class _StagingBuffer:
    """A float32 buffer reused across chunks: fresh large allocations cost page faults."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.storage = torch.empty(0, dtype=torch.float32, device=device)

    def take(self, shape: tuple[int, ...]) -> torch.Tensor:
        needed = int(np.prod(shape))
        if self.storage.numel() < needed:
            self.storage = torch.empty(needed, dtype=torch.float32, device=self.device)
        return self.storage[:needed].view(shape)


def _fill(target: torch.Tensor, plane: np.ndarray) -> None:
    if target.device.type == "cpu":
        np.copyto(target.numpy(), plane, casting="unsafe")  # converts while copying
    else:
        target.copy_(torch.from_numpy(np.array(plane)))


def default_workers() -> int:
    """Threads for the CPU path: the cores this process may use (at most `_MAX_WORKERS`) over torch's threads.

    The matrix products run in torch, which already spreads each one over
    `torch.get_num_threads()` threads; more hashing threads than that would
    oversubscribe the cores.
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, _MAX_WORKERS) // torch.get_num_threads())


def _size_groups(images: Sequence[Image.Image]) -> dict[tuple[int, int], list[int]]:
    """Positions of the images, grouped by (height, width); the size is known before decoding."""
    groups: dict[tuple[int, int], list[int]] = defaultdict(list)
    for position, image in enumerate(images):
        width, height = image.size
        groups[(height, width)].append(position)
    return groups


def _cpu_tasks(images: Sequence[Image.Image], workers: int) -> list[tuple[tuple[int, int], list[int]]]:
    """Same-size runs of positions, small enough to stay cache friendly, at least `workers` of them when possible."""
    tasks = []
    for (height, width), positions in _size_groups(images).items():
        if height * width == 0:
            continue  # Pillow resizes an empty image to zeros: the caller's blocks start at zero
        per_task = max(1, _CPU_CHUNK_PIXELS // (height * width))
        per_task = min(per_task, math.ceil(len(positions) / workers))
        tasks += [((height, width), positions[i : i + per_task]) for i in range(0, len(positions), per_task)]
    # Largest first, so that the last task to finish is a short one.
    tasks.sort(key=lambda task: -task[0][0] * task[0][1] * len(task[1]))
    return tasks


def _cpu_blocks(images: Sequence[Image.Image], workers: int) -> np.ndarray:
    """Stack of (N, 32, 32) uint8 blocks on the CPU, exactly Pillow's convert('L') + LANCZOS resize."""
    out = np.zeros((len(images), _IMG_SIZE, _IMG_SIZE), dtype=np.uint8)

    def run(task: tuple[tuple[int, int], list[int]]) -> None:
        (height, width), positions = task
        if len(positions) == 1:
            planes = luma_plane(images[positions[0]])[None]
        else:
            planes = np.stack([luma_plane(images[position]) for position in positions])
        out[positions] = resize_stack(planes, (_IMG_SIZE, _IMG_SIZE))

    tasks = _cpu_tasks(images, workers)
    if workers > 1 and len(tasks) > 1:
        with ThreadPoolExecutor(max_workers=min(workers, len(tasks))) as pool:
            for _ in pool.map(run, tasks):  # re-raises a worker's error here
                pass
    else:
        for task in tasks:
            run(task)
    return out


def _torch_blocks(images: Sequence[Image.Image], device: torch.device) -> np.ndarray:
    """Stack of (N, 32, 32) uint8 blocks computed with torch on `device` (the CUDA path; also runs on the CPU)."""
    planes = [luma_plane(image) for image in images]
    out = np.zeros((len(planes), _IMG_SIZE, _IMG_SIZE), dtype=np.uint8)
    groups: dict[tuple[int, ...], list[int]] = defaultdict(list)
    for position, plane in enumerate(planes):
        if plane.size:  # Pillow resizes an empty image to zeros
            groups[plane.shape].append(position)
    staging = _StagingBuffer(device)
    for (height, width), positions in groups.items():
        per_chunk = max(1, _CHUNK_PIXELS // (height * width))
        for first in range(0, len(positions), per_chunk):
            chunk = positions[first : first + per_chunk]
            gray = staging.take((len(chunk), height, width))
            for slot, position in enumerate(chunk):
                _fill(gray[slot], planes[position])
            small = resize_gray(gray, (_IMG_SIZE, _IMG_SIZE))
            out[chunk] = small.to(torch.uint8).cpu().numpy()
    return out


def _bits_from_blocks(blocks: np.ndarray) -> np.ndarray:
    """(..., 32, 32) uint8 -> (..., 64) bool, imagehash's DCT and median rule."""
    flat = blocks.reshape(-1, _IMG_SIZE, _IMG_SIZE).astype(np.float64)
    # Only the top 8 rows of the first DCT feed the kept 8x8 corner; each row's
    # transform is computed on its own, so dropping the others changes no bit.
    rows = np.ascontiguousarray(scipy.fftpack.dct(flat, axis=1)[:, :HASH_SIZE, :])
    low = scipy.fftpack.dct(rows, axis=2)[:, :, :HASH_SIZE].reshape(len(flat), -1)
    median = np.median(low, axis=1, keepdims=True)
    return (low > median).reshape(*blocks.shape[:-2], HASH_SIZE * HASH_SIZE)


def bits_to_hex(bits: np.ndarray) -> list[str]:
    """(N, 64) bool -> imagehash's hex strings (row-major bits, most significant first)."""
    packed = np.packbits(bits.reshape(len(bits), -1), axis=1)
    return [row.tobytes().hex() for row in packed]


def phash_batch(
    images: Sequence[Image.Image], device: str | torch.device = "cpu", dihedral: bool = False, workers: int | None = None
) -> list[list[str]]:
    """pHash hex strings for each image.

    Returns one list per image: `[phash]`, or with `dihedral=True` the eight
    variants in `dihedral.TRANSFORMS` order (the first is the plain pHash).
    Images may be opened lazily; on the CPU they are then decoded in the
    worker threads (`workers`, default `default_workers()`).
    """
    if not images:
        return []
    device = torch.device(device)
    if device.type == "cpu":
        blocks = _cpu_blocks(images, default_workers() if workers is None else max(1, workers))
    else:
        blocks = _torch_blocks(images, device)
    if dihedral:
        blocks = apply_to_arrays(blocks)  # (N, 8, 32, 32)
    else:
        blocks = blocks[:, None]
    bits = _bits_from_blocks(np.ascontiguousarray(blocks))
    count = bits.shape[1]
    hexes = bits_to_hex(bits.reshape(-1, HASH_SIZE * HASH_SIZE))
    return [hexes[i * count : (i + 1) * count] for i in range(len(images))]
