"""Media in, a verdict out: the entry point the rest of the project calls.

    from detect.analyze import analyze_file, analyze_image
    report = analyze_file("photo.jpg")      # -> detect.base.VerdictReport
    report.to_dict()                        # label, score, threshold, detectors, faces, frames

Whole-image detectors score native-resolution tiles (mean over tiles); face
detectors score aligned face crops (max over faces: one manipulated face makes
the image manipulated). Every detector appears in the report, either with its
score or as skipped with the reason.
"""

from __future__ import annotations

import functools
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from detect.base import Detector, DetectorResult, Label, VerdictReport
from detect.detectors import DetectorSet, load_default_detectors
from detect.ensemble import EnsembleConfig
from detect.tiles import tiles, to_rgb_array

MAX_TILES = 8  # per image and detector: enough coverage, bounded cost on huge images
# An image above this many pixels is refused before it is decoded (provenance.media's limit):
# decoding 100 Mpx already takes about 1.7 GB here (pixels, array, face search).
MAX_PIXELS = 100_000_000
FACE_MARGIN = 0.3
VIDEO_SUFFIXES = {".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg"}


class AnalysisError(Exception):
    """The input cannot be analysed (unreadable, not an image or video)."""


@dataclass(frozen=True)
class FileVerdict:
    """One file's outcome in a batch: a report, or the error that stopped it."""

    path: Path
    report: VerdictReport | None = None
    error: str = ""


@dataclass
class _Decoded:
    """A decoded still: pixels plus the tiles each whole-image input size needs.

    `faces` is None until faces have been searched for (the batch pipeline
    does it in its decoding workers on the CPU, see detect.batch).
    """

    rgb: np.ndarray
    tiles: dict[int, torch.Tensor] = field(default_factory=dict)
    faces: list | None = None
    notes: tuple[str, ...] = ()  # why the detectors cannot judge this input (see out_of_scope)


# Below this many pixels on the shorter side the artifact traces are too few to judge.
MIN_SIDE = 64
# A JPEG saved below this quality has had its fine detail, where the traces live, quantised away.
MIN_JPEG_QUALITY = 40


def jpeg_quality(image: Image.Image) -> int | None:
    """The IJG quality a JPEG's luma table corresponds to (None: not a JPEG or no table)."""
    tables = getattr(image, "quantization", None) or {}
    if 0 not in tables or len(tables[0]) != 64:
        return None
    # Scaling keeps the order of the entries, so sorted tables compare whatever the storage order;
    # entries clamped at 255 (low qualities) say nothing about the scale and are left out.
    table = np.sort(np.asarray(tables[0], dtype=np.float64))
    usable = table < 255
    if not usable.any():
        return 1
    scale = float(np.median(table[usable] / _IJG_LUMA_SORTED[usable]))  # IJG scale factor / 100
    quality = (200 - 100 * scale) / 2 if scale <= 1 else 50 / scale
    return int(round(min(100.0, max(1.0, quality))))


# The IJG standard luminance table (quality 50), sorted.
_IJG_LUMA_SORTED = np.sort(np.array([
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56,
    14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
], dtype=np.float64))


def out_of_scope(width: int, height: int, quality: int | None) -> tuple[str, ...]:
    """Reasons an input lies outside what the detectors were trained on: its verdict is `uncertain`."""
    notes = []
    if min(width, height) < MIN_SIDE:
        notes.append(f"too small to judge ({width}x{height} px; the detectors need {MIN_SIDE} px or more)")
    if quality is not None and quality < MIN_JPEG_QUALITY:
        notes.append(f"heavily compressed (JPEG quality about {quality}): compression erases the traces the detectors look for")
    return tuple(notes)


def decode_image(data: bytes | Path, tile_sizes: Iterable[int] = ()) -> _Decoded:
    """Decode an image file (path or bytes) and cut its tiles; raises AnalysisError."""
    try:
        source = io.BytesIO(data) if isinstance(data, (bytes, bytearray)) else data
        with Image.open(source) as image:
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise AnalysisError(f"image dimensions {width}x{height} are beyond the limit ({MAX_PIXELS:,} pixels)")
            image.load()
            rgb = to_rgb_array(image)
            quality = jpeg_quality(image)
    except AnalysisError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise AnalysisError(f"not a readable image ({exc})") from None
    except MemoryError:
        raise AnalysisError("image too large to decode in the memory available") from None
    except Exception as exc:  # any other decoder failure is this file's, never the batch's
        raise AnalysisError(f"not a readable image ({type(exc).__name__}: {' '.join(str(exc).split())[:160]})") from None
    notes = out_of_scope(rgb.shape[1], rgb.shape[0], quality)
    return _Decoded(rgb=rgb, tiles={s: tiles(rgb, s, MAX_TILES) for s in tile_sizes}, notes=notes)


class Analyzer:
    """Loaded detectors plus the ensemble; reuse one for many files."""

    def __init__(self, detectors: DetectorSet | None = None):
        self.set = detectors or load_default_detectors()

    @property
    def ensemble(self) -> EnsembleConfig:
        return self.set.ensemble

    def tile_sizes(self) -> list[int]:
        return sorted({d.card.input_size[0] for d in self.set.image})

    # -------------------------------------------------------------- stills

    def _image_scores(self, decoded: _Decoded) -> list[DetectorResult]:
        results = []
        for detector in self.set.image:
            batch = decoded.tiles.get(detector.card.input_size[0])
            if batch is None:
                batch = tiles(decoded.rgb, detector.card.input_size[0], MAX_TILES)
            probabilities = self.set.run(detector, batch)
            results.append(_result(detector, float(probabilities.mean())))
        return results

    def _face_scores(self, decoded: _Decoded) -> tuple[list[DetectorResult], int]:
        if not self.set.face:
            return [], 0  # no face-task detector: faces are never searched for
        if self.set.find_faces is None:
            return [_skipped(d, "face detector not available") for d in self.set.face], 0
        faces = decoded.faces if decoded.faces is not None else self.set.find_faces(Image.fromarray(decoded.rgb))
        if not faces:
            return [_skipped(d, "no face found") for d in self.set.face], 0
        results = []
        crops: dict[int, torch.Tensor] = {}  # by input size: detectors of one size share the crops
        for detector in self.set.face:
            if hasattr(detector, "score_faces"):
                # Detectors that need landmarks (corneal highlights) score Face objects.
                values = [v for v in detector.score_faces(faces) if v is not None]
                if values:
                    results.append(_result(detector, float(max(values))))
                else:
                    results.append(_skipped(detector, detector.skip_reason(faces)))
                continue
            size = detector.card.input_size[0]
            if size not in crops:
                crops[size] = torch.stack([_crop_tensor(face, size) for face in faces])
            results.append(_result(detector, float(self.set.run(detector, crops[size]).max())))
        return results, len(faces)

    def verdict(
        self, results: Sequence[DetectorResult], faces: int = 0, frames: Sequence[int] = (), notes: Sequence[str] = ()
    ) -> VerdictReport:
        scored = {r.name: r.score for r in results if not r.skipped and r.score is not None}
        skipped = [DetectorResult(name=u.name, version=u.version, skipped=True, reason=u.reason) for u in self.set.unavailable]
        score = self.ensemble.fuse(scored)
        # An input the detectors were not trained for keeps its score but never a confident label.
        label = Label.UNCERTAIN if notes else self.ensemble.label(score)
        return VerdictReport(
            notes=tuple(notes),
            label=label,
            score=score,
            threshold=self.ensemble.threshold,
            detectors=tuple(results) + tuple(skipped),
            faces=faces,
            frames=tuple(frames),
        )

    def detector_results(self, decoded: _Decoded) -> tuple[list[DetectorResult], int]:
        image_results = self._image_scores(decoded)
        face_results, faces = self._face_scores(decoded)
        return image_results + face_results, faces

    def analyze_decoded(self, decoded: _Decoded) -> VerdictReport:
        results, faces = self.detector_results(decoded)
        return self.verdict(results, faces, notes=decoded.notes)

    def analyze_image(self, image: Image.Image) -> VerdictReport:
        rgb = to_rgb_array(image)
        notes = out_of_scope(rgb.shape[1], rgb.shape[0], jpeg_quality(image))
        return self.analyze_decoded(_Decoded(rgb=rgb, notes=notes))

    # -------------------------------------------------------------- files

    def analyze_file(self, path: str | Path) -> VerdictReport:
        path = Path(path)
        if not path.is_file():
            raise AnalysisError(f"{path}: no such file")
        if path.suffix.lower() in VIDEO_SUFFIXES:
            return self.analyze_video(path)
        return self.analyze_decoded(decode_image(path, self.tile_sizes()))

    def analyze_video(self, path: Path) -> VerdictReport:
        from detect.video_analysis import analyze_video

        return analyze_video(self, path)

    def analyze_files(
        self, paths: Sequence[str | Path], progress: Callable[[int], None] | None = None, workers: int | None = None
    ) -> list[FileVerdict]:
        """Analyse many files; stills are decoded and tiled in worker processes.

        One file's failure is recorded in its FileVerdict and never stops the
        others. `progress(n)` is called after each file with n = files done.
        """
        from detect.batch import decoded_stills

        paths = [Path(p) for p in paths]
        verdicts: dict[int, FileVerdict] = {}
        stills = [i for i, p in enumerate(paths) if p.suffix.lower() not in VIDEO_SUFFIXES]
        done = 0
        # On the CPU the decoding workers also find the faces, overlapping MTCNN with the models
        # running here; on CUDA MTCNN runs here, on the GPU (workers must not touch CUDA).
        faces_in_workers = bool(self.set.face) and self.set.find_faces is _default_find_faces() and self.set.device.type == "cpu"
        for index, decoded, error in decoded_stills(
            [paths[i] for i in stills], self.tile_sizes(), workers, self.set.device, find_faces=faces_in_workers
        ):
            position = stills[index]
            if error:
                verdicts[position] = FileVerdict(paths[position], error=error)
            else:
                verdicts[position] = FileVerdict(paths[position], report=self.analyze_decoded(decoded))
            done += 1
            if progress:
                progress(done)
        for position, path in enumerate(paths):
            if position in verdicts:
                continue
            try:
                verdicts[position] = FileVerdict(path, report=self.analyze_file(path))
            except AnalysisError as exc:
                verdicts[position] = FileVerdict(path, error=str(exc))
            except MemoryError:
                verdicts[position] = FileVerdict(path, error=f"{path}: too large to analyse in the memory available")
            except Exception as exc:  # one file's failure is recorded, never the end of the batch
                reason = " ".join(str(exc).split())[:160]
                verdicts[position] = FileVerdict(path, error=f"{path}: analysis failed ({type(exc).__name__}: {reason})")
            done += 1
            if progress:
                progress(done)
        return [verdicts[i] for i in range(len(paths))]


def _default_find_faces():
    try:
        from detect.faces import find_faces
    except ImportError:
        return None
    return find_faces


def _crop_tensor(face, size: int) -> torch.Tensor:
    crop = face.crop(size, margin=FACE_MARGIN)
    return torch.from_numpy(np.asarray(crop.convert("RGB"), dtype=np.uint8).copy()).permute(2, 0, 1).float() / 255.0


def _result(detector: Detector, score: float) -> DetectorResult:
    return DetectorResult(
        name=detector.card.name, version=detector.card.version, score=score, weights_sha256=detector.card.weights_sha256
    )


def _skipped(detector: Detector, reason: str) -> DetectorResult:
    return DetectorResult(name=detector.card.name, version=detector.card.version, skipped=True, reason=reason)


@functools.lru_cache(maxsize=1)
def default_analyzer() -> Analyzer:
    """The default detectors, loaded once per process (they are read-only afterwards)."""
    return Analyzer()


def analyze_image(image: Image.Image) -> VerdictReport:
    return default_analyzer().analyze_image(image)


def analyze_file(path: str | Path) -> VerdictReport:
    return default_analyzer().analyze_file(path)


def analyze_files(paths: Sequence[str | Path], progress: Callable[[int], None] | None = None) -> list[FileVerdict]:
    return default_analyzer().analyze_files(paths, progress=progress)


__all__ = ["AnalysisError", "Analyzer", "FileVerdict", "analyze_file", "analyze_files", "analyze_image"]
