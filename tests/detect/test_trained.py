"""The trained detector: frozen EfficientNet-Lite0 features + the shipped head."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import torch

from detect.models.trained import (
    DEFAULT_HEAD,
    INPUT_SIZE,
    ProbeFeatures,
    TrainedModelError,
    backbone_path,
    load_backbone,
    load_trained,
    save_head,
)
from detect.tiles import tiles, to_rgb_array
from detect.train.dataset import ImagePools
from detect.train.fit_probe import bag_heads, fit_probe, head_logits
from tests.detect.ens_helpers import CORPUS, needs_corpus, textured_image, upsampled


@pytest.fixture(scope="module")
def detector():
    return load_trained()


def _batch(seed: int, count: int = 2) -> torch.Tensor:
    return tiles(to_rgb_array(textured_image(seed, 480)), INPUT_SIZE, count)


def test_backbone_has_the_lite0_architecture():
    assert sum(p.numel() for p in load_backbone().parameters()) == 4_652_008


@pytest.mark.corpus
@needs_corpus
def test_backbone_is_the_imagenet_model():
    """The packaged weights classify a real photo of a cat as a cat (ImageNet classes 281-285)."""
    from PIL import Image

    image = Image.open(CORPUS / "images/real/skimage_chelsea.png").convert("RGB").resize((224, 224))
    x = torch.from_numpy(np.asarray(image).copy()).permute(2, 0, 1)[None].float()
    with torch.inference_mode():
        assert int(load_backbone()((x - 127) / 128).argmax()) in range(281, 286)


def test_shipped_head_loads_with_combined_hash(detector):
    backbone_hex = hashlib.sha256(backbone_path().read_bytes()).hexdigest()
    head_hex = hashlib.sha256(DEFAULT_HEAD.read_bytes()).hexdigest()
    assert detector.card.weights_sha256 == hashlib.sha256((backbone_hex + head_hex).encode()).hexdigest()
    assert detector.card.input_size == (INPUT_SIZE, INPUT_SIZE)
    assert DEFAULT_HEAD.stat().st_size < 100_000


def test_scores_are_probabilities_and_deterministic(detector):
    batch = _batch(1)
    first, second = detector.score(batch), detector.score(batch)
    assert first.shape == (2,) and bool(((first >= 0) & (first <= 1)).all())
    assert torch.equal(first, second)


def test_head_with_zero_coefficients_gives_its_bias(tmp_path, detector):
    dim = detector.mean.numel()
    head = {"mean": torch.zeros(dim), "std": torch.ones(dim), "coef": torch.zeros(dim), "bias": torch.tensor(1.5)}
    save_head(head, tmp_path / "head.pt")
    flat = load_trained(tmp_path / "head.pt")
    assert torch.allclose(flat.score(_batch(2)), torch.sigmoid(torch.tensor(1.5)).expand(2))


def test_bad_heads_raise_trained_model_error(tmp_path):
    with pytest.raises(TrainedModelError, match="not found"):
        load_trained(tmp_path / "absent.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a torch file")
    with pytest.raises(TrainedModelError, match="unreadable"):
        load_trained(tmp_path / "junk.pt")
    torch.save({"weights": torch.zeros(3)}, tmp_path / "other.pt")
    with pytest.raises(TrainedModelError, match="unreadable"):
        load_trained(tmp_path / "other.pt")
    dim = 8
    odd = {
        "mean": torch.zeros(dim),
        "std": torch.ones(dim),
        "coef": torch.zeros(dim),
        "bias": torch.tensor(0.0),
        "turns": torch.tensor(3.0),
    }
    save_head(odd, tmp_path / "odd.pt")
    with pytest.raises(TrainedModelError, match="turns 3"):
        load_trained(tmp_path / "odd.pt")


def test_turn_averaged_features_are_the_same_at_every_quarter_turn():
    """Upright-only features change when a tile is turned (so the head's score did); averaged over turns they do not."""
    backbone = load_backbone()
    plain, averaged = ProbeFeatures(backbone).eval(), ProbeFeatures(backbone, turn_average=True).eval()
    batch = _batch(4, 2)
    with torch.inference_mode():
        upright = averaged(batch)
        for k in (1, 2, 3):
            turned = torch.rot90(batch, k, dims=(2, 3))
            assert torch.allclose(averaged(turned), upright, rtol=1e-4, atol=1e-4)
            assert (plain(turned) - plain(batch)).abs().max() > 0.05


def test_a_bag_of_heads_gives_the_mean_of_their_logits():
    generator = torch.Generator().manual_seed(0)
    heads = [
        {
            "mean": torch.randn(6, generator=generator),
            "std": torch.rand(6, generator=generator) + 0.5,
            "coef": torch.randn(6, generator=generator),
            "bias": torch.randn((), generator=generator),
        }
        for _ in range(3)
    ]
    features = torch.randn(5, 6, generator=generator)
    expected = torch.stack([head_logits(head, features) for head in heads]).mean(0)
    assert torch.allclose(head_logits(bag_heads(heads), features), expected, atol=1e-5)


def test_gradients_reach_the_input(detector):
    batch = _batch(3, 1).requires_grad_(True)
    detector(batch).sum().backward()
    assert batch.grad is not None and batch.grad.abs().sum() > 0


@pytest.mark.slow
def test_training_command_writes_a_loadable_head(tmp_path):
    real = [np.asarray(textured_image(s, 240)) for s in range(2)]
    out = tmp_path / "head.pt"
    lines = []
    digest = fit_probe(ImagePools(real=real), out, count=12, bag=2, turns=True, log=lines.append)
    assert digest == hashlib.sha256(out.read_bytes()).hexdigest()
    trained = load_trained(out)
    assert trained.card.weights_sha256 and trained.features.turn_average
    assert [line.split(":")[0] for line in lines if "chose" in line] == ["draw 0", "draw 1"]
    assert lines[-1].startswith("bag of 2: held-out synthetic AUC")


@pytest.mark.corpus
@needs_corpus
def test_probe_scores_upsampled_photos_higher(detector):
    from PIL import Image

    names = ["skimage_coffee.png", "bench2.png", "alex-iby-G_Pk4D9rMLs.png"]
    originals, rebuilt = [], []
    for name in names:
        image = Image.open(CORPUS / "images/real" / name).convert("RGB")
        originals.append(float(detector.score(tiles(to_rgb_array(image), INPUT_SIZE, 2)).mean()))
        rebuilt.append(float(detector.score(tiles(to_rgb_array(upsampled(image)), INPUT_SIZE, 2)).mean()))
    assert all(r > o for r, o in zip(rebuilt, originals)), (originals, rebuilt)


def test_training_command_refuses_an_empty_bag(capsys):
    from detect.train.__main__ import main

    with pytest.raises(SystemExit) as exited:
        main(["probe", "--bag", "0"])
    assert exited.value.code == 2 and "--bag must be at least 1" in capsys.readouterr().err
