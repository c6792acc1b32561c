"""MesoNet port: Keras weight conversion and the published behaviour on MesoNet's own crops."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from PIL import Image

from detect.base import Detector, Task
from detect.models.mesonet import Meso4, MesoInception4, MesoNetDetector, MesoWeightsError

CORPUS = Path(__file__).resolve().parents[2] / "../shared/corpus"
needs_corpus = pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus is not present")


def _write_keras_h5(model, path: Path, first_index: int) -> None:
    """Save `model` the way Keras 2 `save_weights` lays out a MesoNet file."""
    convs = model.convs() if isinstance(model, MesoInception4) else list(model.convs)
    layers: list[tuple[str, dict[str, np.ndarray]]] = []
    for i, conv in enumerate(convs):
        layers.append(
            (
                f"conv2d_{first_index + i}",
                {
                    "kernel": conv.weight.detach().numpy().transpose(2, 3, 1, 0),
                    "bias": conv.bias.detach().numpy(),
                },
            )
        )
    for i, norm in enumerate(model.norms):
        layers.append(
            (
                f"batch_normalization_{first_index + i}",
                {
                    "gamma": norm.weight.detach().numpy(),
                    "beta": norm.bias.detach().numpy(),
                    "moving_mean": norm.running_mean.numpy(),
                    "moving_variance": norm.running_var.numpy(),
                },
            )
        )
    for i, dense in enumerate((model.head.dense1, model.head.dense2)):
        layers.append(
            (
                f"dense_{first_index + i}",
                {
                    "kernel": dense.weight.detach().numpy().T,
                    "bias": dense.bias.detach().numpy(),
                },
            )
        )
    if isinstance(model, MesoInception4):
        layers.append(("concatenate_1", {}))
    with h5py.File(path, "w") as h5:
        for name, arrays in layers:
            group = h5.create_group(name)
            names = [f"{name}/{key}:0".encode() for key in arrays]
            group.attrs["weight_names"] = np.array(names) if names else np.array([], dtype=np.float64)
            for key, value in arrays.items():
                group.create_dataset(f"{name}/{key}:0", data=value)


def _randomise(model) -> None:
    torch.manual_seed(1)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.2, 0.2)
            module.running_var.uniform_(0.5, 2.0)
            torch.nn.init.uniform_(module.weight, 0.5, 1.5)
            torch.nn.init.uniform_(module.bias, -0.1, 0.1)


@pytest.mark.parametrize("cls, first_index", [(Meso4, 5), (MesoInception4, 1)])
def test_keras_layout_round_trip(tmp_path, cls, first_index) -> None:
    source = cls().eval()
    _randomise(source)
    path = tmp_path / "weights.h5"
    _write_keras_h5(source, path, first_index)
    detector = MesoNetDetector(path)
    assert isinstance(detector, Detector)
    assert isinstance(detector.model, cls)
    batch = torch.rand(3, 3, 256, 256)
    with torch.no_grad():
        expected = 1 - torch.sigmoid(source(batch))
    torch.testing.assert_close(detector.score(batch), expected)


def test_card_names_the_weights(tmp_path) -> None:
    path = tmp_path / "Meso4_DF.h5"
    _write_keras_h5(Meso4().eval(), path, 1)
    card = MesoNetDetector(path).card
    assert card.task is Task.FACE and card.input_size == (256, 256)
    assert card.name == "meso4-df" and card.licence == "Apache-2.0"
    import hashlib

    assert card.weights_sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_bad_weights_files_give_a_clear_error(tmp_path) -> None:
    with pytest.raises(MesoWeightsError, match="no such"):
        MesoNetDetector(tmp_path / "missing.h5")
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"not hdf5 at all")
    with pytest.raises(MesoWeightsError, match="not a readable HDF5"):
        MesoNetDetector(junk)
    inception = tmp_path / "inception.h5"
    _write_keras_h5(MesoInception4().eval(), inception, 1)
    with h5py.File(inception, "a") as h5:
        del h5["dense_2"]
    with pytest.raises(MesoWeightsError, match="layer counts"):
        MesoNetDetector(inception)


def _crops(names: list[str]) -> torch.Tensor:
    images = []
    for name in names:
        image = Image.open(CORPUS / "images" / name).convert("RGB").resize((256, 256), Image.Resampling.BILINEAR)
        images.append(torch.from_numpy(np.asarray(image, dtype=np.float32) / 255).permute(2, 0, 1))
    return torch.stack(images)


@pytest.mark.corpus
@needs_corpus
@pytest.mark.parametrize("weights", ["Meso4_DF.h5", "MesoInception_DF.h5"])
def test_published_weights_separate_mesonets_own_real_and_deepfake_crops(weights) -> None:
    detector = MesoNetDetector(CORPUS / "weights/mesonet" / weights)
    real = detector.score(_crops(["real/meso_real00240.jpg", "real/meso_real00772.jpg"]))
    fake = detector.score(_crops(["fake/meso_df00204.jpg", "fake/meso_df01254.jpg"]))
    assert real.max() < 0.1
    assert fake.min() > 0.9


@pytest.mark.corpus
@needs_corpus
def test_scores_are_repeatable_on_cpu() -> None:
    detector = MesoNetDetector(CORPUS / "weights/mesonet/MesoInception_F2F.h5")
    batch = _crops(["real/meso_real00240.jpg", "fake/meso_df00204.jpg"])
    assert torch.equal(detector.score(batch), detector.score(batch))
    assert detector.card.name == "mesoinception4-f2f"
