"""Published-checkpoint architectures: layouts match the authors' files and load back exactly."""

from __future__ import annotations

import pickle
import warnings
from collections import OrderedDict
from pathlib import Path

import pytest
import torch
from torch import nn

from detect.base import Detector, Task
from detect.models import published
from detect.models.backbones.clip_vit import VisionTransformer
from detect.models.backbones.efficientnet import EfficientNet
from detect.models.backbones.resnet import ResNet50

CORPUS = Path(__file__).resolve().parents[2] / "../shared/corpus"
needs_corpus = pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus is not present")


def _count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _randomise_norms(module: nn.Module) -> None:
    torch.manual_seed(3)
    for m in module.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.8, 1.2)


def test_full_size_architectures_have_the_published_parameter_counts() -> None:
    # Reference counts: torchvision resnet50 (25,557,032), efficientnet_pytorch b0/b4
    # (5,288,548 / 19,341,616), OpenAI CLIP ViT-L/14 image tower (303,966,208).
    with torch.device("meta"):
        assert _count(ResNet50(1000)) == 25_557_032
        assert _count(EfficientNet("efficientnet-b0", 1000)) == 5_288_548
        b4 = EfficientNet("efficientnet-b4", 2)
        vit = VisionTransformer()
    assert len(b4._blocks) == 32
    state = b4.state_dict()
    assert tuple(state["_conv_stem.weight"].shape) == (48, 3, 3, 3)
    assert tuple(state["_blocks.31._project_conv.weight"].shape) == (448, 2688, 1, 1)
    assert tuple(state["_fc.weight"].shape) == (2, 1792)
    assert "_blocks.0._expand_conv.weight" not in state  # expand ratio 1 in the first stage
    assert _count(vit) == 303_966_208
    vstate = vit.state_dict()
    assert tuple(vstate["positional_embedding"].shape) == (257, 1024)
    assert tuple(vstate["proj"].shape) == (1024, 768)
    assert tuple(vstate["transformer.resblocks.23.attn.in_proj_weight"].shape) == (3072, 1024)
    assert tuple(vstate["transformer.resblocks.0.mlp.c_fc.weight"].shape) == (4096, 1024)


@pytest.mark.slow
def test_cnndetection_loads_the_published_checkpoint_layout(tmp_path) -> None:
    torch.manual_seed(0)
    source = ResNet50(num_classes=1).eval()
    _randomise_norms(source)
    path = tmp_path / "blur_jpg_prob0.5.pth"
    # CNNDetection saves {"model": state_dict, "optimizer": ..., "total_steps": n}.
    torch.save({"model": source.state_dict(), "optimizer": {"state": {}}, "total_steps": 10}, path)
    detector = published.load_cnndetection(path)
    assert isinstance(detector, Detector) and detector.card.task is Task.IMAGE
    assert detector.card.weights_sha256 == published.sha256_file(path)
    batch = torch.rand(2, 3, 224, 224)
    mean = torch.tensor(published.IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(published.IMAGENET_STD).view(1, 3, 1, 1)
    with torch.no_grad():
        expected = torch.sigmoid(source((batch - mean) / std)[:, 0])
    torch.testing.assert_close(detector.score(batch), expected)


def test_dataparallel_prefix_is_accepted(tmp_path) -> None:
    source = ResNet50(num_classes=1)
    path = tmp_path / "dp.pth"
    torch.save({"model": {f"module.{k}": v for k, v in source.state_dict().items()}}, path)
    detector = published.load_cnndetection(path)
    torch.testing.assert_close(detector.resnet.fc.weight, source.fc.weight)


@pytest.mark.slow
def test_sbi_loads_the_published_checkpoint_layout(tmp_path) -> None:
    torch.manual_seed(0)
    source = EfficientNet("efficientnet-b4", num_classes=2).eval()
    _randomise_norms(source)
    path = tmp_path / "FFraw.tar"
    # SBI saves {"model": {"net.<efficientnet key>": ...}, "optimizer": ..., "epoch": n}.
    torch.save({"model": {f"net.{k}": v for k, v in source.state_dict().items()}, "epoch": 3}, path)
    detector = published.load_sbi(path)
    assert detector.card.task is Task.FACE and detector.card.input_size == (380, 380)
    batch = torch.rand(1, 3, 380, 380)
    with torch.no_grad():
        expected = torch.softmax(source(batch), dim=1)[:, 1]
    torch.testing.assert_close(detector.score(batch), expected)


def _tiny_vit() -> VisionTransformer:
    return VisionTransformer(resolution=56, patch=14, width=64, layers=2, heads=4, output_dim=768)


class _TinyClip(nn.Module):
    """A CLIP-shaped model: image tower under `visual`, plus text-side parameters to ignore."""

    def __init__(self) -> None:
        super().__init__()
        self.visual = _tiny_vit()
        self.token_embedding = nn.Embedding(10, 8)
        self.logit_scale = nn.Parameter(torch.ones([]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.visual(x)


@pytest.mark.parametrize("archive", ["state_dict", "torchscript"])
def test_univfd_reads_clip_checkpoints_and_its_head(tmp_path, archive) -> None:
    torch.manual_seed(0)
    clip = _TinyClip().eval()
    path = tmp_path / "clip.pt"
    if archive == "torchscript":  # how OpenAI publishes CLIP
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.jit.trace(clip, torch.rand(1, 3, 56, 56)).save(str(path))
    else:
        torch.save(clip.state_dict(), path)
    head = nn.Linear(768, 1)
    head_path = tmp_path / "fc_weights.pth"
    torch.save(head.state_dict(), head_path)

    backbone = published.clip_visual_state(published.read_checkpoint(path))
    assert "token_embedding.weight" not in backbone and "conv1.weight" in backbone
    detector = published.UnivFD(published.univfd_head_state(published.read_checkpoint(head_path)), backbone, vit=_tiny_vit())
    batch = torch.rand(2, 3, 56, 56)
    mean = torch.tensor(published.CLIP_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(published.CLIP_STD).view(1, 3, 1, 1)
    with torch.no_grad():
        expected = torch.sigmoid(head(clip.visual((batch - mean) / std))[:, 0])
    torch.testing.assert_close(detector.score(batch), expected)


@pytest.mark.corpus
@needs_corpus
def test_published_univfd_head_fits_the_architecture() -> None:
    head = published.univfd_head_state(published.read_checkpoint(CORPUS / "weights/univfd/fc_weights.pth"))
    detector = published.UnivFD(head=head, vit=_tiny_vit())
    torch.testing.assert_close(detector.fc.weight, head["weight"].float())
    scores = detector.score(torch.rand(2, 3, 56, 56))
    assert scores.shape == (2,) and bool(((scores >= 0) & (scores <= 1)).all())


def test_wrong_checkpoints_are_refused_with_the_reason(tmp_path) -> None:
    with pytest.raises(published.PublishedWeightsError, match="no such"):
        published.load_cnndetection(tmp_path / "absent.pth")
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"\x00" * 100)
    with pytest.raises(published.PublishedWeightsError, match="not a readable"):
        published.load_cnndetection(garbage)
    other = tmp_path / "resnet_1000.pth"
    torch.save(ResNet50(num_classes=1000).state_dict(), other)
    with pytest.raises(published.PublishedWeightsError, match=r"wrong shape \(e.g. fc.bias, fc.weight\)"):
        published.load_cnndetection(other)
    sbi_without_prefix = tmp_path / "sbi.tar"
    torch.save({"model": OrderedDict(_conv_stem=torch.zeros(1))}, sbi_without_prefix)
    with pytest.raises(published.PublishedWeightsError, match="missing"):
        published.load_sbi(sbi_without_prefix)


class _Sneaky:
    def __reduce__(self):
        return (print, ("pickled code ran",))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_checkpoints_that_need_arbitrary_code_are_refused(tmp_path, capsys) -> None:
    path = tmp_path / "evil.pth"
    with open(path, "wb") as handle:
        pickle.dump({"model": _Sneaky()}, handle)
    with pytest.raises(published.PublishedWeightsError):
        published.load_cnndetection(path)
    assert "pickled code ran" not in capsys.readouterr().out
