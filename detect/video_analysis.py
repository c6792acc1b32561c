"""Videos: frames sampled evenly, faces tracked, scores aggregated, frames named.

The frames are the media's one sample (`provenance.media`: the frames its
certificate hashes), handed in as they are; face tracking and the per-track
aggregation rule come from `detect.video` (a track's score is the mean over its
frames; the video takes its highest track). Here each detector gets one
video-level score:

- whole-image detectors: the mean of their per-frame scores;
- face-crop detectors: `detect.video.aggregate` over the face tracks;
- landmark detectors (corneal highlights): the mean over frames of the
  frame's highest usable face score (it has no score where an eye lacks a
  highlight, so it cannot be tracked per face).

The ensemble fuses those like a still's, except that a video in which a
face-task detector scored a face is fused by the ensemble's video rule when it
has one (`EnsembleConfig.video`, fitted on compressed face crops by
detect/train/fit_video.py). The frames named are those that
drove the verdict: each sampled frame gets the ensemble's fused score of that
frame alone (whole-image scores of the frame, the highest face score in it
for each face-crop detector), and the frames with the highest fused scores
are named. So a face detector the ensemble gives weight 0 (see
detect/weights/ensemble.json's reasons) does not pick the frames either.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence

import numpy as np
import torch
from PIL import Image

from detect.base import DetectorResult, FaceBox, LandmarkDetector
from detect.detectors import DetectorSet
from detect.ensemble import EnsembleConfig
from detect.scoring import face_boxes, face_crop_tensor, scored, skipped
from detect.stills import MAX_TILES
from detect.tiles import tiles, to_rgb_array
from detect.video import aggregate, score_tracks, track_faces

TOP_FRAMES = 3


class Frame(Protocol):
    """A sampled video frame: `provenance.media.SampledFrame` is one."""

    @property
    def index(self) -> int: ...  # frame number from the start, 0-based

    @property
    def image(self) -> Image.Image: ...  # RGB


@dataclass(frozen=True)
class VideoScores:
    results: list[DetectorResult]
    faces: int  # the most faces found in one frame
    frames: tuple[int, ...]  # the frames that drove the verdict, highest fused score first
    face_boxes: tuple[FaceBox, ...] = ()  # the faces of those frames, each with its frame and own score
    ensemble: EnsembleConfig | None = None  # the configuration it was fused with (the video rule when faces were scored)


def score_video(detectors: DetectorSet, frames: Sequence[Frame]) -> VideoScores:
    """Every detector's video-level score over `frames`, and the frames that drove them."""
    results: list[DetectorResult] = []
    rgbs = {frame.index: to_rgb_array(frame.image) for frame in frames}
    image_scores: dict[str, dict[int, float]] = {}
    for detector in detectors.image:
        size = detector.card.input_size[0]
        per_frame = {i: float(detectors.run(detector, tiles(rgb, size, MAX_TILES)).mean()) for i, rgb in rgbs.items()}
        image_scores[detector.card.name] = per_frame
        results.append(scored(detector, float(np.mean(list(per_frame.values())))))
    frame_scores: dict[int, dict[str, float]] = {i: {n: v[i] for n, v in image_scores.items()} for i in rgbs}

    detections = []
    if detectors.face and detectors.find_faces is not None:
        detections = [(frame.index, detectors.find_faces(frame.image)) for frame in frames]
    tracks = track_faces(detections) if detections else []
    faces = max((len(found) for _, found in detections), default=0)
    per_face: dict[int, dict[str, float]] = {}  # by id() of a found face: its score by detector name
    for detector in detectors.face:
        if detectors.find_faces is None:
            results.append(skipped(detector, "face detector not available"))
        elif not tracks:
            results.append(skipped(detector, "no face found in the sampled frames"))
        elif isinstance(detector, LandmarkDetector):
            best_per_frame: list[float] = []
            for _, found in detections:
                each = detector.score_faces(found) if found else []
                for face, value in zip(found, each):
                    if value is not None:
                        per_face.setdefault(id(face), {})[detector.card.name] = float(value)
                usable = [v for v in each if v is not None]
                if usable:
                    best_per_frame.append(max(usable))
            if best_per_frame:
                results.append(scored(detector, float(np.mean(best_per_frame))))
            else:
                results.append(skipped(detector, detector.skip_reason([f for _, found in detections for f in found])))
        else:
            size = detector.card.input_size[0]

            def crops_scored(found, detector=detector, size=size) -> list[float]:
                return detectors.run(detector, torch.stack([face_crop_tensor(face, size) for face in found])).tolist()

            scores = score_tracks(tracks, crops_scored)
            score, _frames_used = aggregate(tracks, scores)
            results.append(scored(detector, score))
            by_key = {(t.id, index): face for t in tracks for index, face in t.faces}
            for key, value in scores.items():
                per_face.setdefault(id(by_key[key]), {})[detector.card.name] = value
            for (_track, index), value in scores.items():
                per = frame_scores[index]
                per[detector.card.name] = max(value, per.get(detector.card.name, 0.0))

    # A face-task detector that scored a face puts the video under the video rule (face swaps in compressed
    # video, detect/train/fit_video.py): it also picks the frames and scores the boxes.
    face_names = {d.card.name for d in detectors.face}
    ensemble = detectors.ensemble.for_video(any(r.name in face_names and not r.skipped and r.score is not None for r in results))
    fused = {i: ensemble.fuse(scores) for i, scores in frame_scores.items()}
    top = tuple(sorted(fused, key=lambda i: (-fused[i], i))[:TOP_FRAMES])
    found_in = dict(detections)
    boxes = tuple(
        box
        for index in top
        for box in face_boxes(found_in.get(index, []), [per_face.get(id(f), {}) for f in found_in.get(index, [])], ensemble, index)
    )
    return VideoScores(results, faces, top, boxes, ensemble)
