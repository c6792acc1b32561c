"""Faces tracked across a video's sampled frames, and one score per video.

The frames come from the media's one sample (`provenance.media`); this module
only links and aggregates. Aggregation rule (documented because it decides
verdicts): a face track's score is the mean of its per-frame scores, since a
swapped identity stays swapped and averaging damps one-frame flukes; the
video's score is the highest track score among tracks seen in at least
`min_track` sampled frames (all tracks when none is that long); the frames
named are that track's highest-scoring frames.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from detect.faces import Face

# ------------------------------------------------------------------ tracking


@dataclass(frozen=True)
class Track:
    id: int
    faces: tuple[tuple[int, Face], ...]  # (frame index, face), in frame order

    @property
    def frames(self) -> tuple[int, ...]:
        return tuple(index for index, _ in self.faces)


def _distance(a: Face, b: Face) -> float:
    """Centre distance in units of the larger face's width; inf when sizes differ more than 2x."""
    wa, wb = max(a.width, 1.0), max(b.width, 1.0)
    if max(wa, wb) > 2 * min(wa, wb):
        return float("inf")
    (ax, ay), (bx, by) = a.centre, b.centre
    return float(np.hypot(ax - bx, ay - by) / max(wa, wb))


def track_faces(detections: Sequence[tuple[int, Sequence[Face]]], max_shift: float = 0.8) -> list[Track]:
    """Link faces across sampled frames, greedily, nearest first.

    A face continues the track whose latest face is nearest, when the centres
    are within `max_shift` face widths and the sizes within 2x; otherwise it
    starts a new track. Sampled frames can be a second apart, so box overlap
    would split a face that moved; centre distance in face widths does not.
    """
    tracks: list[list[tuple[int, Face]]] = []
    for index, faces in sorted(detections, key=lambda item: item[0]):
        open_tracks = [t for t in tracks if t[-1][0] < index]
        pairs = [(_distance(face, track[-1][1]), fi, ti) for fi, face in enumerate(faces) for ti, track in enumerate(open_tracks)]
        used_faces, used_tracks = set(), set()
        for distance, fi, ti in sorted(pairs):
            if distance <= max_shift and fi not in used_faces and ti not in used_tracks:
                open_tracks[ti].append((index, faces[fi]))
                used_faces.add(fi)
                used_tracks.add(ti)
        for fi, face in enumerate(faces):
            if fi not in used_faces:
                tracks.append([(index, face)])
    return [Track(i, tuple(t)) for i, t in enumerate(tracks)]


# ------------------------------------------------------------------ aggregation


def aggregate(
    tracks: Sequence[Track], scores: dict[tuple[int, int], float], min_track: int = 2, top_frames: int = 3
) -> tuple[float, tuple[int, ...]]:
    """Video score and driving frames from per-face scores keyed by (track id, frame index)."""
    long_enough = [t for t in tracks if len(t.faces) >= min_track] or list(tracks)
    if not long_enough:
        raise ValueError("no face tracks to aggregate")
    means = {t.id: float(np.mean([scores[(t.id, i)] for i in t.frames])) for t in long_enough}
    best = max(long_enough, key=lambda t: (means[t.id], len(t.faces)))
    ranked = sorted(best.frames, key=lambda i: scores[(best.id, i)], reverse=True)
    return means[best.id], tuple(ranked[:top_frames])


FaceScorer = Callable[[Sequence[Face]], Sequence[float]]


def score_tracks(tracks: Sequence[Track], score_faces: FaceScorer) -> dict[tuple[int, int], float]:
    """Every tracked face scored once, in one batch, keyed by (track id, frame index) as `aggregate` takes them."""
    keyed = [((t.id, index), face) for t in tracks for index, face in t.faces]
    values = score_faces([face for _, face in keyed])
    return {key: float(value) for (key, _), value in zip(keyed, values)}
