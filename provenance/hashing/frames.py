"""Comparing two videos by the perceptual hashes of their sampled frames.

The frames are the media's one sample (`provenance.media`), hashed by
`provenance.perceptual`; this module only compares. A re-encoded, trimmed or
re-timed copy keeps most of its frames' pictures, so each frame is matched
to its closest frame in the other clip wherever it lies.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import median

from provenance.hashing.distance import phash_distance


@dataclass(frozen=True)
class FrameHash:
    timestamp: float  # seconds from the start of the stream (not compared)
    phash: str
    pdq: str
    pdq_quality: int


@dataclass(frozen=True)
class VideoHashes:
    duration: float
    frames: tuple[FrameHash, ...]


def _directed(a: VideoHashes, b: VideoHashes) -> float:
    return median(min(phash_distance(fa.phash, fb.phash) for fb in b.frames) for fa in a.frames)


def video_distance(a: VideoHashes, b: VideoHashes) -> float:
    """pHash bits between two clips, tolerant of trimming and frame-rate changes.

    For each sampled frame of one clip take its closest frame in the other (in
    any position, so a trimmed or re-timed copy aligns), and summarise by the
    median; the direction from the clip whose frames the other contains wins,
    so a trimmed excerpt still scores as close to its source.
    """
    if not a.frames or not b.frames:
        raise ValueError("both videos need at least one hashed frame")
    return float(min(_directed(a, b), _directed(b, a)))
