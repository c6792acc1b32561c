"""Device, precision and transfer choices, including the CUDA branches' logic, on a CPU-only machine."""

from __future__ import annotations

import pytest
import torch

from detect import device as dev
from detect.device import (
    DeviceError,
    autocast_context,
    autocast_dtype,
    batch_size_for,
    pick_batch_size,
    pick_device,
    to_device,
    uses_pinned_memory,
)

CPU, CUDA = torch.device("cpu"), torch.device("cuda")


def test_explicit_and_environment_choices(monkeypatch) -> None:
    monkeypatch.delenv("PROVENANCE_DEVICE", raising=False)
    assert pick_device("cpu") == CPU
    monkeypatch.setenv("PROVENANCE_DEVICE", "cpu")
    assert pick_device() == CPU
    with pytest.raises(DeviceError, match="unknown device"):
        pick_device("quantum")


def test_cuda_is_chosen_when_present_and_refused_when_absent(monkeypatch) -> None:
    monkeypatch.delenv("PROVENANCE_DEVICE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert pick_device() == CUDA
    assert pick_device("cuda:1") == torch.device("cuda:1")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert pick_device() == CPU
    with pytest.raises(DeviceError, match="CUDA is not available"):
        pick_device("cuda")


def test_autocast_precision_by_device() -> None:
    assert autocast_dtype(CPU) is None  # CPU stays fp32: repeatable scores
    assert autocast_dtype(CUDA, bf16_supported=True) is torch.bfloat16
    assert autocast_dtype(CUDA, bf16_supported=False) is torch.float16


def test_cpu_inference_is_plain_fp32_and_repeatable() -> None:
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten())
    x = torch.rand(4, 3, 32, 32)
    with torch.inference_mode(), autocast_context(CPU):
        first = net(to_device(x, CPU))
        second = net(to_device(x, CPU))
    assert first.dtype == torch.float32 and not torch.is_autocast_enabled()
    assert torch.equal(first, second)


def test_transfers_pin_memory_only_for_cuda_and_keep_values_on_cpu() -> None:
    assert uses_pinned_memory(CUDA) and not uses_pinned_memory(CPU)
    x = torch.rand(2, 3, 8, 8)
    moved = to_device(x, CPU)
    assert moved.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(moved, x)
    flat = torch.rand(5, 7)
    assert torch.equal(to_device(flat, CPU), flat)  # not an image batch: layout untouched


def test_batch_sizes() -> None:
    assert pick_batch_size(CPU, (256, 256)) == dev._CPU_BATCH
    gib = 1 << 30
    assert batch_size_for(1024 * gib, (224, 224)) == dev._MAX_GPU_BATCH  # capped
    small = batch_size_for(1 * gib, (512, 512))
    assert 1 <= small < dev._MAX_GPU_BATCH
    assert batch_size_for(2 * gib, (512, 512)) >= 2 * small - 1  # grows with free memory
    assert batch_size_for(0, (512, 512)) == 1  # never zero
