"""Videos: score evenly sampled frames, aggregate per detector, name the frames.

Each sampled frame goes through the same detectors as a still. A detector's
video score is the mean of its frame scores (over the frames where it ran:
face detectors only see frames with faces), and the ensemble fuses those as
for a still. The frames reported are the ones whose own fused score was
highest, i.e. the frames that pushed the verdict towards "manipulated".
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from detect.base import DetectorResult, VerdictReport

if TYPE_CHECKING:
    from detect.analyze import Analyzer

FRAMES = 8
TOP_FRAMES = 3


def sample_frames(path: Path, count: int = FRAMES) -> list[tuple[int, np.ndarray]]:
    """(frame index, RGB array) for `count` frames spread evenly over the video."""
    import av

    from detect.analyze import AnalysisError

    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            total = stream.frames
            if not total:
                total = sum(1 for _ in container.decode(stream))
                container.seek(0)
            wanted = sorted({int(round(i * (total - 1) / max(1, count - 1))) for i in range(count)}) if total else []
            frames, wanted_set = [], set(wanted)
            for index, frame in enumerate(container.decode(stream)):
                if index in wanted_set:
                    frames.append((index, frame.to_ndarray(format="rgb24")))
                if index >= wanted[-1]:
                    break
    except (av.FFmpegError, IndexError, OSError) as exc:
        raise AnalysisError(f"{path}: not a readable video ({exc})") from None
    if not frames:
        raise AnalysisError(f"{path}: the video has no decodable frames")
    return frames


def analyze_video(analyzer: "Analyzer", path: Path) -> VerdictReport:
    from detect.analyze import _Decoded

    per_detector: dict[str, list[DetectorResult]] = {}
    frame_scores: list[tuple[float, int]] = []
    faces = 0
    for index, rgb in sample_frames(path):
        results, frame_faces = analyzer.detector_results(_Decoded(rgb=rgb))
        faces = max(faces, frame_faces)
        for result in results:
            per_detector.setdefault(result.name, []).append(result)
        frame_scores.append((analyzer.verdict(results).score, index))
    combined = [_combine(results) for results in per_detector.values()]
    top = [index for _, index in sorted(frame_scores, reverse=True)[:TOP_FRAMES]]
    return replace(analyzer.verdict(combined, faces=faces), frames=tuple(sorted(top)))


def _combine(results: list[DetectorResult]) -> DetectorResult:
    scored = [r for r in results if not r.skipped]
    if not scored:
        return results[0]
    return replace(scored[0], score=float(np.mean([r.score for r in scored])))
