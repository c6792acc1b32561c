"""Which detectors the default ensemble runs, and how a batch goes through one.

The default set works on a fresh machine: the project's artifact CNNs
(whole-image tiles and face crops, trained from scratch), the spectral
detector and the two trained probes ship in `detect/weights/`, the corneal-highlight check needs no weights. Published detectors (MesoNet, CNNDetection, UnivFD, SBI)
run when the model registry finds their weights (user-added, or the corpus
folder); otherwise each is listed as unavailable with the reason, never
dropped silently.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import torch

from detect.base import Detector, Task
from detect.device import autocast_context, pick_batch_size, pick_device, to_device
from detect.ensemble import EnsembleConfig, load_ensemble
from detect.models.artifact import KINDS as ARTIFACT_KINDS
from detect.models.artifact import ArtifactModelError, load_artifact
from detect.models.face_probe import NAME as FACE_PROBE
from detect.models.face_probe import load_face_probe
from detect.models.spectral import SpectralError, load_spectral
from detect.models.trained import TrainedModelError, load_trained

# Published detectors the ensemble runs whenever their weights are installed
# (`provenance models add|fetch NAME`); MesoNet is also found in the corpus.
PUBLISHED = ("meso4-df", "cnndetection", "univfd", "sbi")


@dataclass(frozen=True)
class Unavailable:
    """A detector the ensemble would run but cannot, and why."""

    name: str
    version: str
    reason: str


@dataclass
class DetectorSet:
    image: list[Detector]
    face: list[Detector]
    unavailable: list[Unavailable]
    ensemble: EnsembleConfig
    device: torch.device
    find_faces: Callable | None = None
    batch_sizes: dict[str, int] = field(default_factory=dict)

    def run(self, detector: Detector, batch: torch.Tensor) -> torch.Tensor:
        """Score a CPU batch on the set's device in device-sized chunks; (N,) float on the CPU."""
        name = detector.card.name
        if name not in self.batch_sizes:
            self.batch_sizes[name] = pick_batch_size(self.device, detector.card.input_size)
        outputs = []
        for chunk in batch.split(self.batch_sizes[name]):
            with torch.inference_mode(), autocast_context(self.device):
                outputs.append(detector.score(to_device(chunk, self.device)).float().cpu())
        return torch.cat(outputs)


def _published(name: str, device: torch.device) -> Detector | Unavailable:
    """A registry model (user-added, bundled or corpus weights), or why it cannot run."""
    try:
        from detect import registry
    except ImportError as exc:
        return Unavailable(name, "-", f"model registry not available ({exc})")
    try:
        return registry.load_detector(name, device=device)
    except registry.RegistryError as exc:
        return Unavailable(name, "-", str(exc))


def _corneal() -> Detector | Unavailable:
    try:
        from detect.models.corneal import CornealDetector
    except ImportError:
        return Unavailable("corneal-highlights", "-", "corneal highlight detector not available")
    return CornealDetector()


def _find_faces() -> Callable | None:
    try:
        from detect.faces import find_faces
    except ImportError:
        return None
    return find_faces


def load_default_detectors(device: torch.device | None = None, ensemble: EnsembleConfig | None = None) -> DetectorSet:
    device = device or pick_device()
    image: list[Detector] = []
    unavailable: list[Unavailable] = []
    for name, loader, error in (("spectral", load_spectral, SpectralError), ("effnet-lite0-probe", load_trained, TrainedModelError)):
        try:
            image.append(loader().to(device))
        except error as exc:
            unavailable.append(Unavailable(name, "1", str(exc)))
    face: list[Detector] = []
    for kind in ("image", "face"):
        try:
            (image if kind == "image" else face).append(load_artifact(kind).to(device))
        except ArtifactModelError as exc:
            unavailable.append(Unavailable(ARTIFACT_KINDS[kind][0], "1", str(exc)))
    try:
        face.append(load_face_probe().to(device))
    except TrainedModelError as exc:
        unavailable.append(Unavailable(FACE_PROBE, "1", str(exc)))
    for candidate in [_published(name, device) for name in PUBLISHED] + [_corneal()]:
        if isinstance(candidate, Unavailable):
            unavailable.append(candidate)
        else:
            (face if candidate.card.task == Task.FACE else image).append(candidate)
    return DetectorSet(
        image=image,
        face=face,
        unavailable=unavailable,
        ensemble=ensemble or load_ensemble(),
        device=device,
        find_faces=_find_faces(),
    )
