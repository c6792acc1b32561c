"""Videos: frames sampled evenly, faces tracked, scores aggregated, frames named.

Frame sampling, face tracking and the per-track aggregation rule come from
`detect.video` (a track's score is the mean over its frames; the video takes
its highest track). Here each detector gets one video-level score:

- whole-image detectors: the mean of their per-frame scores;
- face-crop detectors: `detect.video.aggregate` over the face tracks;
- landmark detectors (corneal highlights): the mean over frames of the
  frame's highest usable face score (it has no score where an eye lacks a
  highlight, so it cannot be tracked per face).

The ensemble fuses those like a still's. The frames named are those that
drove the verdict: each sampled frame gets the ensemble's fused score of that
frame alone (whole-image scores of the frame, the highest face score in it
for each face-crop detector), and the frames with the highest fused scores
are named. So a face detector the ensemble gives weight 0 (see
detect/weights/ensemble.json's reasons) does not pick the frames either.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from detect.base import DetectorResult, VerdictReport

if TYPE_CHECKING:
    from detect.analyze import Analyzer

FRAMES = 8
TOP_FRAMES = 3


def analyze_video(analyzer: "Analyzer", path: Path) -> VerdictReport:
    from detect.analyze import AnalysisError, _crop_tensor, _result, _skipped
    from detect.tiles import tiles, to_rgb_array
    from detect.video import VideoError, aggregate, sample_frames, score_tracks, track_faces

    try:
        frames = sample_frames(path, FRAMES)
    except VideoError as exc:
        raise AnalysisError(str(exc)) from None

    results: list[DetectorResult] = []
    rgbs = {frame.index: to_rgb_array(frame.image) for frame in frames}
    image_scores: dict[str, dict[int, float]] = {}
    for detector in analyzer.set.image:
        size = detector.card.input_size[0]
        per_frame = {i: float(analyzer.set.run(detector, tiles(rgb, size, 8)).mean()) for i, rgb in rgbs.items()}
        image_scores[detector.card.name] = per_frame
        results.append(_result(detector, float(np.mean(list(per_frame.values())))))
    frame_scores: dict[int, dict[str, float]] = {i: {n: v[i] for n, v in image_scores.items()} for i in rgbs}

    detections = []
    if analyzer.set.face and analyzer.set.find_faces is not None:
        detections = [(frame.index, analyzer.set.find_faces(frame.image)) for frame in frames]
    tracks = track_faces(detections) if detections else []
    faces = max((len(found) for _, found in detections), default=0)
    for detector in analyzer.set.face:
        if analyzer.set.find_faces is None:
            results.append(_skipped(detector, "face detector not available"))
        elif not tracks:
            results.append(_skipped(detector, "no face found in the sampled frames"))
        elif hasattr(detector, "score_faces"):
            per_frame = []
            for _, found in detections:
                usable = [v for v in detector.score_faces(found) if v is not None] if found else []
                if usable:
                    per_frame.append(max(usable))
            if per_frame:
                results.append(_result(detector, float(np.mean(per_frame))))
            else:
                results.append(_skipped(detector, detector.skip_reason([f for _, found in detections for f in found])))
        else:
            size = detector.card.input_size[0]
            scores = score_tracks(
                tracks, lambda faces: analyzer.set.run(detector, torch.stack([_crop_tensor(face, size) for face in faces])).tolist()
            )
            score, _frames_used = aggregate(tracks, scores)
            results.append(_result(detector, score))
            for (_track, index), value in scores.items():
                per = frame_scores[index]
                per[detector.card.name] = max(value, per.get(detector.card.name, 0.0))

    fused = {i: analyzer.ensemble.fuse(scores) for i, scores in frame_scores.items()}
    top = tuple(sorted(fused, key=lambda i: (-fused[i], i))[:TOP_FRAMES])
    return analyzer.verdict(results, faces=faces, frames=top)
