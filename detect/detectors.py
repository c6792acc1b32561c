"""Which detectors the default ensemble runs, and how a batch goes through one.

The default set works on a fresh machine: the spectral detector and the
project's trained CNN ship in `detect/weights/`. MesoNet runs when its
published weights are found (the corpus folder or a user-added file);
otherwise it is listed as unavailable with the reason, never dropped silently.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch

from detect.base import Detector
from detect.device import autocast_context, pick_batch_size, pick_device, to_device
from detect.ensemble import EnsembleConfig, load_ensemble
from detect.models.spectral import SpectralError, load_spectral
from detect.models.trained import TrainedModelError, load_trained

REPO_ROOT = Path(__file__).resolve().parents[1]
CORPUS_MESONET = (REPO_ROOT / "../shared/corpus/weights/mesonet/Meso4_DF.h5").resolve()


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


def _mesonet(device: torch.device) -> Detector | Unavailable:
    path = _mesonet_weights()
    if path is None:
        return Unavailable("meso4-df", "1.0", "weights not found (provenance models add mesonet --weights Meso4_DF.h5)")
    try:
        from detect.models.mesonet import MesoNetDetector, MesoWeightsError
    except ImportError:
        return Unavailable("meso4-df", "1.0", "MesoNet port not available")
    try:
        return MesoNetDetector(path, device=device)
    except MesoWeightsError as exc:
        return Unavailable("meso4-df", "1.0", str(exc))


def _mesonet_weights() -> Path | None:
    try:
        from detect.registry import installed_weights  # user-added weights, when the registry exists

        path = installed_weights("mesonet")
        if path is not None:
            return Path(path)
    except (ImportError, LookupError):
        pass
    return CORPUS_MESONET if CORPUS_MESONET.is_file() else None


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
    for name, loader, error in (("spectral", load_spectral, SpectralError), ("artefact_cnn", load_trained, TrainedModelError)):
        try:
            image.append(loader().to(device))
        except error as exc:
            unavailable.append(Unavailable(name, "1", str(exc)))
    face: list[Detector] = []
    meso = _mesonet(device)
    (unavailable if isinstance(meso, Unavailable) else face).append(meso)
    return DetectorSet(
        image=image,
        face=face,
        unavailable=unavailable,
        ensemble=ensemble or load_ensemble(),
        device=device,
        find_faces=_find_faces(),
    )
