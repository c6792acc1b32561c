"""Perceptual hashes of sampled video frames and an alignment-tolerant distance."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from statistics import median

import av

from provenance.hashing.distance import phash_distance
from provenance.hashing.errors import UnreadableMediaError
from provenance.hashing.image import image_hashes_batch


@dataclass(frozen=True)
class FrameHash:
    timestamp: float  # seconds from the start of the stream
    phash: str
    pdq: str
    pdq_quality: int

    def to_dict(self) -> dict[str, object]:
        return {"timestamp": round(self.timestamp, 4), "phash": self.phash, "pdq": self.pdq, "pdq_quality": self.pdq_quality}


@dataclass(frozen=True)
class VideoHashes:
    duration: float
    frames: tuple[FrameHash, ...]

    def to_dict(self) -> dict[str, object]:
        return {"duration": round(self.duration, 4), "frames": [f.to_dict() for f in self.frames]}

    @classmethod
    def from_dict(cls, data: dict) -> VideoHashes:
        frames = tuple(
            FrameHash(float(f["timestamp"]), str(f["phash"]), str(f["pdq"]), int(f["pdq_quality"])) for f in data["frames"]
        )
        return cls(float(data["duration"]), frames)


def _decoded_frames(path: Path):
    """(timestamp, PIL image) for every frame of the first video stream."""
    try:
        container = av.open(str(path))
    except (av.FFmpegError, OSError) as exc:
        raise UnreadableMediaError(f"{path}: cannot open video ({exc})") from None
    with container:
        if not container.streams.video:
            raise UnreadableMediaError(f"{path}: no video stream")
        stream = container.streams.video[0]
        start = None
        try:
            for frame in container.decode(stream):
                if frame.time is None:
                    continue
                # Streams may start later than 0 (edit lists); time from the first frame.
                start = frame.time if start is None else start
                yield float(frame.time - start), frame
        except av.FFmpegError as exc:
            raise UnreadableMediaError(f"{path}: cannot decode video ({exc})") from None


def video_hashes(path: Path, frames: int = 16) -> VideoHashes:
    """Hash `frames` frames spread evenly over the clip (one decode pass, frames kept lazily)."""
    if frames < 1:
        raise ValueError("frames must be at least 1")
    path = Path(path)
    duration = _duration(path)
    if not duration:
        raise UnreadableMediaError(f"{path}: video has no known duration")
    targets = [duration * (i + 0.5) / frames for i in range(frames)]
    chosen: list[tuple[float, object]] = []
    pending = list(targets)
    previous = None
    for timestamp, frame in _decoded_frames(path):
        # Keep the frame at or just before each target time.
        while pending and timestamp > pending[0] and previous is not None:
            chosen.append(previous)
            pending.pop(0)
        previous = (timestamp, frame)
        if not pending:
            break
    while pending and previous is not None:
        chosen.append(previous)
        pending.pop(0)
    if not chosen:
        raise UnreadableMediaError(f"{path}: no decodable frames")
    images = [frame.to_image() for _, frame in chosen]
    hashes = image_hashes_batch(images, dihedral=False)
    return VideoHashes(duration, tuple(FrameHash(t, h.phash, h.pdq, h.pdq_quality) for (t, _), h in zip(chosen, hashes)))


def _duration(path: Path) -> float | None:
    if not path.is_file():
        raise UnreadableMediaError(f"{path}: no such file")
    try:
        with av.open(str(path)) as probe:
            if not probe.streams.video:
                raise UnreadableMediaError(f"{path}: no video stream")
            stream = probe.streams.video[0]
            if stream.duration:
                return float(stream.duration * stream.time_base)
            return probe.duration / 1_000_000 if probe.duration else None
    except (av.FFmpegError, OSError) as exc:
        raise UnreadableMediaError(f"{path}: cannot open video ({exc})") from None


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
