"""Where inference runs and how: device, batch size, autocast, input transfer.

CUDA is used when present, the CPU otherwise. `PROVENANCE_DEVICE` (e.g. `cpu`,
`cuda`, `cuda:1`) overrides the choice so a machine with a busy GPU can still
be pinned to the CPU.
"""

from __future__ import annotations

import contextlib
import os
from typing import ContextManager, Iterator

import torch

from detect.errors import DetectError

# Bytes of activation memory per input pixel that a mid-sized CNN needs in
# half precision, measured loosely; only used to bound batch sizes on CUDA.
_ACTIVATION_BYTES_PER_PIXEL = 4096
_MAX_GPU_BATCH = 256
_CPU_BATCH = 16


class DeviceError(DetectError):
    """The requested device does not exist on this machine."""


def pick_device(requested: str | None = None) -> torch.device:
    """The device to run on: `requested`, else `$PROVENANCE_DEVICE`, else CUDA if present."""
    name = requested or os.environ.get("PROVENANCE_DEVICE", "").strip()
    if name:
        try:
            device = torch.device(name)
        except RuntimeError as exc:
            raise DeviceError(f"unknown device {name!r}: {exc}") from None
        if device.type == "cuda" and not torch.cuda.is_available():
            raise DeviceError(f"device {name!r} requested but CUDA is not available")
        return device
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def autocast_dtype(device: torch.device, bf16_supported: bool | None = None) -> torch.dtype | None:
    """The autocast precision for `device`: bf16 on CUDA (fp16 where bf16 is missing), None (fp32) elsewhere.

    The CPU path stays in fp32 so that scores there are bit-for-bit repeatable.
    `bf16_supported` is asked of the GPU when not given (tests pass it).
    """
    if device.type != "cuda":
        return None
    if bf16_supported is None:
        bf16_supported = torch.cuda.is_bf16_supported()
    return torch.bfloat16 if bf16_supported else torch.float16


def autocast_context(device: torch.device) -> ContextManager:
    """bf16 (or fp16 on older GPUs) autocast on CUDA; plain fp32 (no autocast at all) on CPU."""
    dtype = autocast_dtype(device)
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)


def batch_size_for(free_bytes: int, input_size: tuple[int, int]) -> int:
    """A CUDA batch size that keeps half of `free_bytes` for the weights and the allocator's slack."""
    per_item = input_size[0] * input_size[1] * _ACTIVATION_BYTES_PER_PIXEL
    return int(max(1, min(_MAX_GPU_BATCH, (free_bytes // 2) // per_item)))


def pick_batch_size(device: torch.device, input_size: tuple[int, int]) -> int:
    """A batch size that fits the device: bounded by free memory on CUDA, small on CPU."""
    if device.type != "cuda":
        return _CPU_BATCH
    free, _total = torch.cuda.mem_get_info(device)
    return batch_size_for(free, input_size)


def uses_pinned_memory(device: torch.device) -> bool:
    """Host-to-device copies go through pinned memory, non-blocking, only for CUDA targets."""
    return device.type == "cuda"


def to_device(batch: torch.Tensor, device: torch.device) -> torch.Tensor:
    """Move a CPU batch to `device` in channels_last layout, through pinned memory on CUDA."""
    if uses_pinned_memory(device):
        batch = batch.pin_memory().to(device, non_blocking=True)
    else:
        batch = batch.to(device)
    if batch.dim() != 4:
        return batch
    return batch.contiguous(memory_format=torch.channels_last)


@contextlib.contextmanager
def intra_op_threads(count: int) -> Iterator[None]:
    """Run torch's CPU ops of the block on `count` threads, then restore the number in use.

    For the small ops around the models (the face search's pyramid levels and
    candidate windows): spread over two threads, each op of a millisecond or
    less waits at a barrier for the other thread, and on a 2-core machine
    shared with other work that thread is often descheduled for a whole time
    slice. The 32 corpus stills' face search took 5.6-27 s that way under a
    load average of 4, 1.8 s on one thread. torch.set_num_threads sets the
    calling thread's OpenMP count; other threads already running torch keep
    theirs (one that starts torch work meanwhile begins with the 1).
    """
    before = torch.get_num_threads()
    if before == count:
        yield
        return
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)
