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
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import torch
from PIL import Image

from detect.base import DetectorResult, FaceBox, Label, LandmarkDetector, VerdictReport
from detect.batch import decoded_stills
from detect.detectors import DetectorSet, load_default_detectors
from detect.ensemble import EnsembleConfig
from detect.scoring import face_boxes, face_crop_tensor, scored, skipped
from detect.stills import MAX_TILES, AnalysisError, DecodedStill, decode_image, still_of
from detect.tiles import tiles
from detect.video_analysis import Frame, score_video

VIDEO_SUFFIXES = {".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg"}


@dataclass(frozen=True)
class FileVerdict:
    """One file's outcome in a batch: a report, or the error that stopped it."""

    path: Path
    report: VerdictReport | None = None
    error: str = ""


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

    def _image_scores(self, decoded: DecodedStill) -> list[DetectorResult]:
        results = []
        for detector in self.set.image:
            batch = decoded.tiles.get(detector.card.input_size[0])
            if batch is None:
                batch = tiles(decoded.rgb, detector.card.input_size[0], MAX_TILES)
            probabilities = self.set.run(detector, batch)
            results.append(scored(detector, float(probabilities.mean())))
        return results

    def _face_scores(self, decoded: DecodedStill) -> tuple[list[DetectorResult], int, tuple[FaceBox, ...]]:
        """Face-task detectors' results (max over faces), the face count, and each face's box and own score."""
        if not self.set.face:
            return [], 0, ()  # no face-task detector: faces are never searched for
        if self.set.find_faces is None:
            return [skipped(d, "face detector not available") for d in self.set.face], 0, ()
        faces = decoded.faces if decoded.faces is not None else self.set.find_faces(Image.fromarray(decoded.rgb))
        if not faces:
            return [skipped(d, "no face found") for d in self.set.face], 0, ()
        results = []
        per_face: list[dict[str, float]] = [{} for _ in faces]  # each face's score by detector name
        crops: dict[int, torch.Tensor] = {}  # by input size: detectors of one size share the crops
        for detector in self.set.face:
            if isinstance(detector, LandmarkDetector):
                # Detectors that need landmarks (corneal highlights) score Face objects.
                each = detector.score_faces(faces)
                for mine, value in zip(per_face, each):
                    if value is not None:
                        mine[detector.card.name] = float(value)
                values = [v for v in each if v is not None]
                if values:
                    results.append(scored(detector, float(max(values))))
                else:
                    results.append(skipped(detector, detector.skip_reason(faces)))
                continue
            size = detector.card.input_size[0]
            if size not in crops:
                crops[size] = torch.stack([face_crop_tensor(face, size) for face in faces])
            probabilities = self.set.run(detector, crops[size])
            for mine, value in zip(per_face, probabilities.tolist()):
                mine[detector.card.name] = float(value)
            results.append(scored(detector, float(probabilities.max())))
        return results, len(faces), face_boxes(faces, per_face, self.ensemble)

    def verdict(
        self,
        results: Sequence[DetectorResult],
        faces: int = 0,
        frames: Sequence[int] = (),
        notes: Sequence[str] = (),
        boxes: Sequence[FaceBox] = (),
        ensemble: EnsembleConfig | None = None,
    ) -> VerdictReport:
        """The fused verdict; `ensemble` replaces the set's own configuration (a video's rule)."""
        ensemble = ensemble or self.ensemble
        scored = {r.name: r.score for r in results if not r.skipped and r.score is not None}
        skipped = [DetectorResult(name=u.name, version=u.version, skipped=True, reason=u.reason) for u in self.set.unavailable]
        score = ensemble.fuse(scored)
        # An input the detectors were not trained for keeps its score but never a confident label.
        label = Label.UNCERTAIN if notes else ensemble.label(score)
        return VerdictReport(
            notes=tuple(notes),
            label=label,
            score=score,
            threshold=ensemble.threshold,
            detectors=tuple(results) + tuple(skipped),
            faces=faces,
            frames=tuple(frames),
            face_boxes=tuple(boxes),
        )

    def detector_results(self, decoded: DecodedStill) -> tuple[list[DetectorResult], int]:
        results, faces, _boxes = self._scored(decoded)
        return results, faces

    def _scored(self, decoded: DecodedStill) -> tuple[list[DetectorResult], int, tuple[FaceBox, ...]]:
        image_results = self._image_scores(decoded)
        face_results, faces, boxes = self._face_scores(decoded)
        return image_results + face_results, faces, boxes

    def analyze_decoded(self, decoded: DecodedStill) -> VerdictReport:
        results, faces, boxes = self._scored(decoded)
        return self.verdict(results, faces, notes=decoded.notes, boxes=boxes)

    def analyze_image(self, image: Image.Image) -> VerdictReport:
        """A decoded picture, as its decoder gave it (mode, EXIF orientation and JPEG tables are read)."""
        return self.analyze_decoded(still_of(image))

    def analyze_frames(self, frames: Sequence[Frame]) -> VerdictReport:
        """A video's sampled frames (the media's one sample, `provenance.media.MediaFile.sample`)."""
        if not frames:
            raise AnalysisError("no decodable frames")
        video = score_video(self.set, frames)
        # Fused with what score_video chose: the video rule when faces were scored, else the stills' configuration.
        return self.verdict(video.results, faces=video.faces, frames=video.frames, boxes=video.face_boxes, ensemble=video.ensemble)

    # -------------------------------------------------------------- files

    def analyze_file(self, path: str | Path) -> VerdictReport:
        path = Path(path)
        if not path.is_file():
            raise AnalysisError(f"{path}: no such file")
        if path.suffix.lower() in VIDEO_SUFFIXES:
            return self.analyze_video(path)
        return self.analyze_decoded(decode_image(path, self.tile_sizes()))

    def analyze_video(self, path: Path) -> VerdictReport:
        """A video file, sampled by the one frame sampler that hashing uses too."""
        # provenance.media is a leaf (Pillow, PyAV, the error root): detect reaches no chain, IPFS or ledger through it.
        from provenance.media import MediaError, load_media

        try:
            media = load_media(path)
        except MediaError as exc:
            raise AnalysisError(str(exc)) from None
        if media.kind != "video":
            return self.analyze_image(media.sample[0].decoded)
        return self.analyze_frames(media.sample)

    def analyze_files(
        self, paths: Sequence[str | Path], progress: Callable[[int], None] | None = None, workers: int | None = None
    ) -> list[FileVerdict]:
        """Analyse many files; stills are decoded and tiled in worker processes.

        One file's failure is recorded in its FileVerdict and never stops the
        others. `progress(n)` is called after each file with n = files done.
        """
        files = [Path(p) for p in paths]
        verdicts: dict[int, FileVerdict] = {}
        stills = [i for i, p in enumerate(files) if p.suffix.lower() not in VIDEO_SUFFIXES]
        done = 0
        # On the CPU the faces are found with the decoding: in the workers when there are any, else here
        # while the next still decodes in a thread (detect.batch), either way before the models run; on
        # CUDA MTCNN runs in analyze_decoded, on the GPU (workers must not touch CUDA).
        faces_in_workers = bool(self.set.face) and self.set.find_faces is _default_find_faces() and self.set.device.type == "cpu"
        for index, decoded, error in decoded_stills(
            [files[i] for i in stills], self.tile_sizes(), workers, self.set.device, find_faces=faces_in_workers
        ):
            position = stills[index]
            if error or decoded is None:
                verdicts[position] = FileVerdict(files[position], error=error)
            else:
                verdicts[position] = FileVerdict(files[position], report=self.analyze_decoded(decoded))
            done += 1
            if progress:
                progress(done)
        for position, path in enumerate(files):
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
        return [verdicts[i] for i in range(len(files))]


def _default_find_faces():
    try:
        from detect.faces import find_faces
    except ImportError:
        return None
    return find_faces


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


__all__ = [
    "MAX_TILES",
    "AnalysisError",
    "Analyzer",
    "DecodedStill",
    "FileVerdict",
    "analyze_file",
    "analyze_files",
    "analyze_image",
]
