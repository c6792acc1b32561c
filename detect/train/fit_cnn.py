"""Train ArtefactNet on the synthetic stream; CPU or CUDA."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from detect.models.trained import INPUT_SIZE, ArtefactNet, save_weights
from detect.train.dataset import ImagePools, TileStream, fixed_set
from detect.train.metrics import roc_auc


@dataclass(frozen=True)
class CnnConfig:
    steps: int = 1500
    batch: int = 32
    lr: float = 2e-3
    weight_decay: float = 1e-4
    seed: int = 0
    workers: int = 1
    val_count: int = 256
    log_every: int = 50


def _validate(net: ArtefactNet, tiles: torch.Tensor, labels: torch.Tensor, device: torch.device) -> float:
    net.eval()
    with torch.inference_mode():
        logits = torch.cat([net(tiles[i : i + 128].to(device)).float().cpu() for i in range(0, len(tiles), 128)])
    net.train()
    return roc_auc(labels.numpy(), logits.numpy())


def train_cnn(pools: ImagePools, out: Path, config: CnnConfig, log=print) -> str:
    """Train, write the state dict to `out`, return its sha256."""
    torch.manual_seed(config.seed)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    net = ArtefactNet().to(device).to(memory_format=torch.channels_last)
    val_tiles, val_labels = fixed_set(pools, INPUT_SIZE, config.val_count, seed=config.seed + 10_000)
    stream = TileStream(pools, INPUT_SIZE, seed=config.seed)
    loader = torch.utils.data.DataLoader(
        stream, batch_size=config.batch, num_workers=config.workers, pin_memory=device.type == "cuda"
    )
    optimiser = torch.optim.AdamW(net.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda step: min(1.0, (step + 1) / 100) * 0.5 * (1 + math.cos(math.pi * step / config.steps))
    )
    loss_fn = torch.nn.BCEWithLogitsLoss()
    started, running = time.monotonic(), 0.0
    net.train()
    for step, (tiles, labels) in enumerate(loader):
        if step >= config.steps:
            break
        tiles = tiles.to(device, non_blocking=True).contiguous(memory_format=torch.channels_last)
        loss = loss_fn(net(tiles), labels.to(device))
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        schedule.step()
        running += loss.item()
        if (step + 1) % config.log_every == 0 or step + 1 == config.steps:
            auc = _validate(net, val_tiles, val_labels, device)
            log(f"step {step + 1}/{config.steps} loss {running / config.log_every:.4f} "
                f"val_auc {auc:.4f} {time.monotonic() - started:.0f}s")
            running = 0.0
    return save_weights(net.cpu().to(memory_format=torch.contiguous_format).eval(), out)
