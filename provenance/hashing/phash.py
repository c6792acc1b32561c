"""Batched pHash whose bits equal `imagehash.phash` (hash_size 8, highfreq_factor 4).

Same steps as imagehash: Pillow's `convert('L')` and 8-bit LANCZOS resize to
32x32, rebuilt exactly (on the CPU, a compiled kernel that reads Pillow's
pixel memory and fuses both steps, see `lanczos_native`, or without it banded
float32 products after Pillow's own convert, see `lanczos_cpu`; dense torch
matrix products on other devices, see `pil_lanczos`), a type-II DCT over both
axes with `scipy.fftpack.dct` (run on the whole batch at once; the 32x32
blocks are tiny, so keeping scipy keeps the floating-point bits identical on
every device), and "coefficient > median" over the top-left 8x8 block.

On the CPU the images are spread over a few threads: the compiled kernel
shares decoded images among native threads; lazily opened images are
decoded in Python threads (Pillow's decode, the kernel and the fallback's
products release the GIL), so they are also decoded in parallel. The
fallback groups images by size and stacks each group's planes, so one set
of products serves many.
"""

from __future__ import annotations

import math
import os
from collections import defaultdict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import numpy as np
import scipy.fftpack
from PIL import Image

from provenance.hashing import lanczos_native
from provenance.hashing.dihedral import apply_to_arrays
from provenance.hashing.lanczos_cpu import resize_stack
from provenance.hashing.pil_lanczos import resize_gray

if TYPE_CHECKING:
    import torch

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
        import torch

        self.device = device
        self.storage = torch.empty(0, dtype=torch.float32, device=device)

    def take(self, shape: tuple[int, ...]) -> torch.Tensor:
        import torch

        needed = int(np.prod(shape))
        if self.storage.numel() < needed:
            self.storage = torch.empty(needed, dtype=torch.float32, device=self.device)
        return self.storage[:needed].view(shape)


def _fill(target: torch.Tensor, plane: np.ndarray) -> None:
    import torch

    if target.device.type == "cpu":
        np.copyto(target.numpy(), plane, casting="unsafe")  # converts while copying
    else:
        target.copy_(torch.from_numpy(np.array(plane)))


def default_workers() -> int:
    """Threads for the CPU path: the cores this process may use, at most `_MAX_WORKERS`.

    Without the compiled kernel the matrix products run in torch, which
    already spreads each one over `torch.get_num_threads()` threads; more
    hashing threads than cores over that would oversubscribe them.
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    cores = min(cores, _MAX_WORKERS)
    if lanczos_native.available():
        return cores
    import torch  # only the fallback runs in torch

    return max(1, cores // torch.get_num_threads())


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
    if lanczos_native.available():
        return _native_blocks(images, workers)
    return _numpy_blocks(images, workers)


def _native_blocks(images: Sequence[Image.Image], workers: int) -> np.ndarray:
    """`_cpu_blocks` with the compiled kernel on up to `workers` threads.

    Decoded images go to the kernel in one call, which shares them among
    native threads (a Python thread pool costs more to start than hashing a
    hundred thumbnails takes). Images still to be decoded are split into
    runs over Python threads instead, because Pillow decodes in the thread
    that loads the image, and decoding is the larger part of their work.
    """
    out = np.empty((len(images), _IMG_SIZE, _IMG_SIZE), dtype=np.uint8)
    if workers == 1 or not any(_still_encoded(image) for image in images):
        lanczos_native.resize_many(images, (_IMG_SIZE, _IMG_SIZE), out, threads=workers)
        return out
    # Largest first and several runs per thread, so the last to finish is a short one.
    order = sorted(range(len(images)), key=lambda position: -images[position].width * images[position].height)
    step = max(1, math.ceil(len(images) / (workers * 4)))
    runs = [order[first : first + step] for first in range(0, len(order), step)]

    def run(positions: list[int]) -> None:
        out[positions] = lanczos_native.resize_many([images[position] for position in positions], (_IMG_SIZE, _IMG_SIZE))

    with ThreadPoolExecutor(max_workers=min(workers, len(runs))) as pool:
        for _ in pool.map(run, runs):  # re-raises a worker's error here
            pass
    return out


def _still_encoded(image: Image.Image) -> bool:
    """Whether a lazily opened image has not been decoded yet (Pillow clears `tile` once it has)."""
    return bool(getattr(image, "tile", None))


def _numpy_blocks(images: Sequence[Image.Image], workers: int) -> np.ndarray:
    """`_cpu_blocks` without the compiled kernel: same-size stacks of Pillow's 'L' planes, banded float32 products."""
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
    import torch

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
    # np.median of 64 values, without its generic checks: the mean of the two middle ones.
    middle = HASH_SIZE * HASH_SIZE // 2
    pair = np.partition(low, (middle - 1, middle), axis=1)[:, middle - 1 : middle + 1]
    median = (pair[:, :1] + pair[:, 1:]) / 2
    return (low > median).reshape(*blocks.shape[:-2], HASH_SIZE * HASH_SIZE)


def bits_to_hex(bits: np.ndarray) -> list[str]:
    """(N, 64) bool -> imagehash's hex strings (row-major bits, most significant first)."""
    packed = np.packbits(bits.reshape(len(bits), -1), axis=1)
    return [row.tobytes().hex() for row in packed]


def _is_cpu(device: str | torch.device) -> bool:
    """Whether `device` names the CPU, read without importing torch (the CPU path may not need it)."""
    if isinstance(device, str):
        return device.split(":", 1)[0] == "cpu"
    return device.type == "cpu"


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
    if _is_cpu(device):
        blocks = _cpu_blocks(images, default_workers() if workers is None else max(1, workers))
    else:
        import torch

        blocks = _torch_blocks(images, torch.device(device))
    if dihedral:
        blocks = apply_to_arrays(blocks)  # (N, 8, 32, 32)
    else:
        blocks = blocks[:, None]
    bits = _bits_from_blocks(np.ascontiguousarray(blocks))
    count = bits.shape[1]
    hexes = bits_to_hex(bits.reshape(-1, HASH_SIZE * HASH_SIZE))
    return [hexes[i * count : (i + 1) * count] for i in range(len(images))]
