"""Which published models exist, where their weights are, and how to install more.

Weights are looked up in order: files the user added (under
`$PROVENANCE_HOME/models/<name>/`, sha256 recorded in `models/index.json`),
files bundled in the package, then the shared corpus folder when present
(`$PROVENANCE_CORPUS`, default the repository's sibling `shared/corpus`).
Nothing is ever downloaded implicitly: `fetch_model` is the only network path.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import httpx
import torch

from detect.base import Detector, Task
from detect.errors import DetectError
from detect.faces.mtcnn import WEIGHTS_DIR as MTCNN_DIR
from detect.models import published
from detect.models.backbones.clip_vit import VisionTransformer
from detect.models.mesonet import Meso4, MesoInception4, MesoNetDetector, MesoWeightsError

REPO_ROOT = Path(__file__).resolve().parents[1]
TRAINED_WEIGHTS = Path(__file__).resolve().parent / "weights"
INDEX = "index.json"
CHUNK = 1 << 20


class RegistryError(DetectError):
    """A model operation failed; the message says what to do."""


class UnknownModel(RegistryError, LookupError):
    pass


class ModelUnavailable(RegistryError):
    """The model's weights are not installed (the reason is the message)."""


@dataclass(frozen=True)
class ModelSpec:
    name: str
    task: Task
    description: str
    licence: str
    filename: str
    url: str | None = None  # where the authors publish the file
    sha256: str | None = None  # pinned checksum of that file, None when the authors publish none
    corpus_path: str | None = None  # relative to the shared corpus folder
    bundled: bool = False  # ships inside the package; cannot be added or fetched
    requires: tuple[str, ...] = ()  # other models this one needs to run
    trained_here: bool = False  # a head this project trained, shipped in detect/weights/ (bundled)


def _mesonet_spec(name: str, stem: str, sha256: str, trained_on: str) -> ModelSpec:
    return ModelSpec(
        name=name,
        task=Task.FACE,
        licence="Apache-2.0",
        filename=f"{stem}.h5",
        description=f"MesoNet {name.split('-')[0]} (Keras weights) trained on {trained_on}",
        url=f"https://github.com/DariusAf/MesoNet/raw/master/weights/{stem}.h5",
        sha256=sha256,
        corpus_path=f"weights/mesonet/{stem}.h5",
    )


SPECS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            name="mtcnn",
            task=Task.FACE,
            licence="MIT",
            filename="onet.pt",
            bundled=True,
            description="MTCNN face + landmark detector (P/R/O-Net from facenet-pytorch 2.6.0)",
        ),
        ModelSpec(
            name="effnet-lite0-probe",
            task=Task.IMAGE,
            licence="Apache-2.0",
            filename="effnet_probe_head.pt",
            bundled=True,
            trained_here=True,
            description="EfficientNet-Lite0 probe on image tiles, trained by this project (detect/model_cards/effnet_probe.md)",
        ),
        ModelSpec(
            name="effnet-lite0-face",
            task=Task.FACE,
            licence="Apache-2.0",
            filename="effnet_face_head.pt",
            bundled=True,
            trained_here=True,
            description="EfficientNet-Lite0 probe on aligned face crops vs landmark self-blends, trained by this "
            "project (detect/model_cards/effnet_face_probe.md)",
        ),
        ModelSpec(
            name="npr-cnn",
            task=Task.IMAGE,
            filename="artifact_image.pt",
            bundled=True,
            trained_here=True,
            licence="research and non-commercial use only (trained on ImageNet, FFHQ-derived and unlicensed generator output)",
            description="Neighbouring-pixel residual CNN on native image tiles, trained from scratch by this project "
            "(detect/model_cards/npr_cnn.md)",
        ),
        ModelSpec(
            name="npr-cnn-face",
            task=Task.FACE,
            filename="artifact_face.pt",
            bundled=True,
            trained_here=True,
            licence="research use only (trained on FaceForensics++ crops, whose terms allow research use only)",
            description="The same residual CNN on face crops, trained on FaceForensics++ manipulations "
            "(detect/model_cards/npr_cnn_face.md)",
        ),
        _mesonet_spec("meso4-df", "Meso4_DF", "036ed30d04ffd9c7506f825b97c86aa64915f5818931da96817b169aad790af5", "Deepfakes"),
        _mesonet_spec("meso4-f2f", "Meso4_F2F", "bcfda015d217b9f8d6557693edbdf9f4e79cfd22672541968dd0e2954462b5d7", "Face2Face"),
        _mesonet_spec(
            "mesoinception4-df", "MesoInception_DF", "234586d40058e76ef8b6f27ca4b63c06e31c2a5a69c0d8ba6f30b1468ab7bafa", "Deepfakes"
        ),
        _mesonet_spec(
            "mesoinception4-f2f", "MesoInception_F2F", "d4533ac8a3197dc35c47405d23d99e888c1d0135e267e03540c7451feaccff3f", "Face2Face"
        ),
        ModelSpec(
            name="cnndetection",
            task=Task.IMAGE,
            licence="CC BY-NC-SA 4.0",
            filename="blur_jpg_prob0.5.pth",
            description="CNNDetection ResNet-50 (Wang et al. 2020), blur+JPEG 0.5 checkpoint",
            url="https://www.dropbox.com/s/2g2jagq2jn1fd0i/blur_jpg_prob0.5.pth?dl=1",
        ),
        ModelSpec(
            name="sbi",
            task=Task.FACE,
            licence="research use",
            filename="sbi.tar",
            description="Self-Blended Images EfficientNet-B4 (Shiohara & Yamasaki 2022); weights from the authors' Google Drive",
        ),
        ModelSpec(
            name="univfd",
            task=Task.IMAGE,
            licence="no licence file published",
            filename="fc_weights.pth",
            description="UniversalFakeDetect linear head (Ojha et al. 2023); needs clip-vit-l14",
            url="https://github.com/WisconsinAIVision/UniversalFakeDetect/raw/main/pretrained_weights/fc_weights.pth",
            sha256="477100745713bcc957beb2b40859536859b6483fd6301b3b9293151b194c7847",
            corpus_path="weights/univfd/fc_weights.pth",
            requires=("clip-vit-l14",),
        ),
        ModelSpec(
            name="clip-vit-l14",
            task=Task.IMAGE,
            licence="MIT",
            filename="ViT-L-14.pt",
            description="OpenAI CLIP ViT-L/14 (backbone of univfd)",
            # OpenAI names each CLIP file by its own sha256.
            url="https://openaipublic.azureedge.net/clip/models/b8cca3fd41ae0c99ba7e8951adf17d267cdb84cd88be6f7c2e0eca1737a03836/ViT-L-14.pt",
            sha256="b8cca3fd41ae0c99ba7e8951adf17d267cdb84cd88be6f7c2e0eca1737a03836",
        ),
    )
}
ARTIFACT_MODELS = {"npr-cnn": "image", "npr-cnn-face": "face"}  # name -> detect.models.artifact kind
ALIASES = {"mesonet": "meso4-df", "meso4": "meso4-df", "mesoinception4": "mesoinception4-df", "clip": "clip-vit-l14"}


@dataclass(frozen=True)
class ModelStatus:
    spec: ModelSpec
    source: str  # "added", "bundled", "corpus" or "missing"
    path: Path | None
    sha256: str | None  # recorded (added) or pinned (corpus, bundled) checksum of the file in use

    @property
    def matches_published(self) -> bool | None:
        if self.spec.sha256 is None or self.sha256 is None:
            return None
        return self.sha256 == self.spec.sha256

    def to_dict(self) -> dict:
        return {
            "name": self.spec.name,
            "task": self.spec.task.value,
            "source": self.source,
            "path": str(self.path) if self.path else None,
            "sha256": self.sha256,
            "published_sha256": self.spec.sha256,
            "matches_published": self.matches_published,
            "licence": self.spec.licence,
            "description": self.spec.description,
            "url": self.spec.url,
            "requires": list(self.spec.requires),
        }


def spec_for(name: str) -> ModelSpec:
    key = ALIASES.get(name.lower(), name.lower())
    if key not in SPECS:
        raise UnknownModel(f"unknown model {name!r}; known: {', '.join(SPECS)}")
    return SPECS[key]


def models_dir(home: Path | None = None) -> Path:
    if home is None:
        home = Path(os.environ.get("PROVENANCE_HOME", "~/.local/share/provenance")).expanduser()
    return home / "models"


def corpus_dir() -> Path | None:
    configured = os.environ.get("PROVENANCE_CORPUS")
    path = Path(configured) if configured else (REPO_ROOT / "../shared/corpus").resolve()
    return path if path.is_dir() else None


def _read_index(root: Path) -> dict[str, dict]:
    path = root / INDEX
    if not path.exists():
        return {}
    try:
        index = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RegistryError(f"{path} is corrupt ({exc}); remove it and add the models again") from None
    return index if isinstance(index, dict) else {}


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def status(name: str, home: Path | None = None) -> ModelStatus:
    spec = spec_for(name)
    root = models_dir(home)
    entry = _read_index(root).get(spec.name)
    if entry:
        path = root / spec.name / entry["file"]
        if path.is_file():
            return ModelStatus(spec, "added", path, entry.get("sha256"))
    if spec.trained_here:
        return _trained_here_status(spec)
    if spec.bundled:
        return ModelStatus(spec, "bundled", MTCNN_DIR, _bundled_mtcnn_sha256())
    corpus = corpus_dir()
    if spec.corpus_path and corpus is not None and (corpus / spec.corpus_path).is_file():
        return ModelStatus(spec, "corpus", corpus / spec.corpus_path, spec.sha256)
    return ModelStatus(spec, "missing", None, None)


def _trained_here_status(spec: ModelSpec) -> ModelStatus:
    """A shipped head: its identity is the one the detector reports (backbone + head), when both are there."""
    path = TRAINED_WEIGHTS / spec.filename
    if not path.is_file():
        return ModelStatus(spec, "missing", None, None)
    if spec.name in ARTIFACT_MODELS:  # trained from scratch: the file alone is the model
        return ModelStatus(spec, "bundled", path, hashlib.sha256(path.read_bytes()).hexdigest())
    from detect.models.trained import TrainedModelError, backbone_path, combined_sha256

    try:
        digest = combined_sha256(backbone_path(), path.read_bytes())
    except (TrainedModelError, OSError):
        return ModelStatus(spec, "missing", None, None)  # the backbone package is not installed
    return ModelStatus(spec, "bundled", path, digest)


def _bundled_mtcnn_sha256() -> str:
    """One hash over pnet, rnet, onet in that order: the same identity MTCNN reports."""
    digest = hashlib.sha256()
    for name in ("pnet", "rnet", "onet"):
        digest.update((MTCNN_DIR / f"{name}.pt").read_bytes())
    return digest.hexdigest()


def list_models(home: Path | None = None) -> list[ModelStatus]:
    return [status(name, home) for name in SPECS]


def installed_weights(name: str, home: Path | None = None) -> Path | None:
    """The weights file in use for `name`, or None when it is not installed."""
    return status(name, home).path


# ------------------------------------------------------------------ validation


def _check_mesonet(spec: ModelSpec, path: Path) -> None:
    try:
        detector = MesoNetDetector(path)
    except MesoWeightsError as exc:
        raise RegistryError(str(exc)) from None
    expected = MesoInception4 if spec.name.startswith("mesoinception4") else Meso4
    if not isinstance(detector.model, expected):
        raise RegistryError(f"{path}: this is a {type(detector.model).__name__} file, not {spec.name}")


def _check_clip(path: Path) -> None:
    state = published.clip_visual_state(published.read_checkpoint(path))
    with torch.device("meta"):
        tower = VisionTransformer()
    published.check_layout(tower, state, "CLIP ViT-L/14 image tower")


def _check_univfd_head(path: Path) -> None:
    head = published.univfd_head_state(published.read_checkpoint(path))
    shapes = {k: tuple(v.shape) for k, v in head.items()}
    if shapes != {"weight": (1, 768), "bias": (1,)}:
        raise RegistryError(f"{path}: expected a 768 -> 1 linear head, found {shapes or 'no weight/bias tensors'}")


def validate(spec: ModelSpec, path: Path) -> None:
    """Raise RegistryError unless `path` loads as `spec`'s published checkpoint."""
    try:
        if spec.name.startswith("meso"):
            _check_mesonet(spec, path)
        elif spec.name == "cnndetection":
            published.load_cnndetection(path)
        elif spec.name == "sbi":
            published.load_sbi(path)
        elif spec.name == "univfd":
            _check_univfd_head(path)
        elif spec.name == "clip-vit-l14":
            _check_clip(path)
    except published.PublishedWeightsError as exc:
        raise RegistryError(str(exc)) from None


# ------------------------------------------------------------------ install


def _record(spec: ModelSpec, staged: Path, digest: str, source: str, home: Path | None) -> ModelStatus:
    """Move a validated staged file into place, then record it; the old file stays until then."""
    root = models_dir(home)
    target = root / spec.name / spec.filename
    os.replace(staged, target)
    index = _read_index(root)
    index[spec.name] = {"file": spec.filename, "sha256": digest, "source": source, "added": int(time.time())}
    _write_atomic(root / INDEX, json.dumps(index, indent=2, sort_keys=True).encode())
    return ModelStatus(spec, "added", target, digest)


def _stage_path(spec: ModelSpec, home: Path | None) -> Path:
    folder = models_dir(home) / spec.name
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{spec.filename}.", suffix=".part")
    os.close(fd)
    return Path(tmp)


def add_model(name: str, weights: Path, home: Path | None = None) -> ModelStatus:
    """Validate `weights` as `name`'s checkpoint and install a copy, recording its sha256."""
    spec = spec_for(name)
    if spec.bundled:
        raise RegistryError(f"{spec.name} ships with provenance; nothing to add")
    weights = Path(weights)
    if not weights.is_file():
        raise RegistryError(f"{weights}: no such file")
    validate(spec, weights)
    staged = _stage_path(spec, home)
    try:
        digest = _copy_hashing(weights, staged)
        return _record(spec, staged, digest, str(weights.resolve()), home)
    finally:
        staged.unlink(missing_ok=True)


def _copy_hashing(source: Path, target: Path) -> str:
    digest = hashlib.sha256()
    with open(source, "rb") as src, open(target, "wb") as dst:
        for block in iter(lambda: src.read(CHUNK), b""):
            digest.update(block)
            dst.write(block)
        dst.flush()
        os.fsync(dst.fileno())
    return digest.hexdigest()


Progress = Callable[[int, int | None], None]  # (bytes so far, total or None)


def fetch_model(
    name: str,
    home: Path | None = None,
    url: str | None = None,
    sha256: str | None = None,
    progress: Progress | None = None,
    timeout: float = 30.0,
) -> ModelStatus:
    """Download `name`'s published weights, check the pinned sha256, validate, install.

    `url` overrides the published address (a mirror); `sha256` pins a checksum
    for models whose authors publish none. Without any pinned checksum nothing
    is downloaded.
    """
    spec = spec_for(name)
    if spec.bundled:
        raise RegistryError(f"{spec.name} ships with provenance; nothing to fetch")
    url = url or spec.url
    expected = (sha256 or spec.sha256 or "").lower() or None
    if url is None:
        raise RegistryError(
            f"{spec.name} has no download address; get it from its authors and run: provenance models add {spec.name} --weights FILE"
        )
    if expected is None:
        raise RegistryError(
            f"no published sha256 is pinned for {spec.name}; pass --sha256 if you know it, "
            f"or download {url} yourself and run: provenance models add {spec.name} --weights FILE"
        )
    staged = _stage_path(spec, home)
    try:
        digest = hashlib.sha256()
        try:
            with httpx.stream("GET", url, follow_redirects=True, timeout=timeout) as response:
                if response.status_code != 200:
                    raise RegistryError(f"cannot download {spec.name}: {url} answered HTTP {response.status_code}")
                total = int(response.headers["content-length"]) if "content-length" in response.headers else None
                done = 0
                with open(staged, "wb") as handle:
                    for block in response.iter_bytes(CHUNK):
                        handle.write(block)
                        digest.update(block)
                        done += len(block)
                        if progress:
                            progress(done, total)
        except httpx.HTTPError as exc:
            raise RegistryError(
                f"cannot download {spec.name} from {url}: {exc or type(exc).__name__} (offline? add the file with: provenance models add {spec.name} --weights FILE)"
            ) from None
        if digest.hexdigest() != expected:
            raise RegistryError(f"{spec.name}: downloaded file has sha256 {digest.hexdigest()}, expected {expected}; nothing installed")
        validate(spec, staged)
        return _record(spec, staged, expected, url, home)
    finally:
        staged.unlink(missing_ok=True)


# ------------------------------------------------------------------ loading


def _install_hint(spec: ModelSpec) -> str:
    add = f"provenance models add {spec.name} --weights FILE"
    if spec.url and spec.sha256:
        return f"provenance models fetch {spec.name}, or {add}"
    return f"download the checkpoint from its authors, then {add}"


def load_detector(name: str, device: torch.device | None = None, home: Path | None = None) -> Detector:
    """A ready detector for `name`, or ModelUnavailable saying what is missing."""
    spec = spec_for(name)
    if spec.trained_here:
        return _load_trained_here(spec, device)
    if spec.bundled:
        raise RegistryError(f"{spec.name} is a face finder, not a detector")
    paths = {}
    for needed in (spec.name, *spec.requires):
        path = installed_weights(needed, home)
        if path is None:
            raise ModelUnavailable(f"{needed} weights not installed ({_install_hint(spec_for(needed))})")
        paths[needed] = path
    try:
        if spec.name.startswith("meso"):
            return MesoNetDetector(paths[spec.name], name=spec.name, device=device)
        if spec.name == "cnndetection":
            return published.load_cnndetection(paths[spec.name], device)
        if spec.name == "sbi":
            return published.load_sbi(paths[spec.name], device)
        if spec.name == "univfd":
            return published.load_univfd(paths["univfd"], paths["clip-vit-l14"], device)
    except (MesoWeightsError, published.PublishedWeightsError) as exc:
        raise ModelUnavailable(str(exc)) from None
    raise ModelUnavailable(f"{spec.name} is a component of another model, not a detector on its own")


def _load_trained_here(spec: ModelSpec, device: torch.device | None) -> Detector:
    from detect.models.face_probe import load_face_probe
    from detect.models.trained import TrainedModelError, load_trained

    if spec.name in ARTIFACT_MODELS:
        from detect.models.artifact import ArtifactModelError, load_artifact

        try:
            artifact = load_artifact(ARTIFACT_MODELS[spec.name], TRAINED_WEIGHTS / spec.filename)
        except ArtifactModelError as exc:
            raise ModelUnavailable(str(exc)) from None
        return artifact.to(device) if device is not None else artifact

    loader = load_face_probe if spec.task == Task.FACE else load_trained
    try:
        detector = loader(TRAINED_WEIGHTS / spec.filename)
    except TrainedModelError as exc:
        raise ModelUnavailable(str(exc)) from None
    return detector.to(device) if device is not None else detector
