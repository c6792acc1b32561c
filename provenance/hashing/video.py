"""Perceptual hashes of sampled video frames and an alignment-tolerant distance.

Decoding keeps to budgets (hostile media, issue 16): sampled frames are
scaled by FFmpeg to at most `FRAME_PIXELS` before they become images, a
stream may have at most `MAX_FRAMES` frames and take `DECODE_SECONDS` to
decode, and any decoder failure is an `UnreadableMediaError`.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from statistics import median

import av

from provenance.hashing.distance import phash_distance
from provenance.hashing.errors import UnreadableMediaError
from provenance.hashing.image import image_hashes_batch

FRAME_PIXELS = 3840 * 2160  # 4K UHD frames are hashed as they are; larger ones scaled down
MAX_FRAMES = 100_000
DECODE_SECONDS = 60.0


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
    """(timestamp, frame) for every frame of the first video stream, within the frame and time budget."""
    try:
        container = av.open(str(path))
    except (av.FFmpegError, OSError) as exc:
        raise UnreadableMediaError(f"{path}: cannot open video ({exc})") from None
    with container:
        if not container.streams.video:
            raise UnreadableMediaError(f"{path}: no video stream")
        stream = container.streams.video[0]
        start = None
        deadline = time.monotonic() + DECODE_SECONDS
        try:
            for count, frame in enumerate(container.decode(stream), 1):
                if count > MAX_FRAMES:
                    raise UnreadableMediaError(f"{path}: video has more than {MAX_FRAMES:,} frames")
                if time.monotonic() > deadline:
                    raise UnreadableMediaError(f"{path}: decoding took longer than {DECODE_SECONDS:g} s (the limit)")
                if frame.time is None:
                    continue
                # Streams may start later than 0 (edit lists); time from the first frame.
                start = frame.time if start is None else start
                yield float(frame.time - start), frame
        except UnreadableMediaError:
            raise
        except av.FFmpegError as exc:
            raise UnreadableMediaError(f"{path}: cannot decode video ({exc})") from None
        except MemoryError:
            raise UnreadableMediaError(f"{path}: video too large to decode in the memory available") from None
        except Exception as exc:  # any other decoder failure is this file's
            raise UnreadableMediaError(f"{path}: cannot decode video ({type(exc).__name__}: {exc})") from None


def _frame_image(frame):
    """The frame as an RGB image, scaled by FFmpeg to at most FRAME_PIXELS pixels."""
    width, height = frame.width, frame.height
    if width * height <= FRAME_PIXELS:
        return frame.to_image()
    scale = math.sqrt(FRAME_PIXELS / (width * height))
    return frame.to_image(width=max(1, int(width * scale)), height=max(1, int(height * scale)), interpolation="AREA")


def _choose(path: Path, targets: list[float]) -> tuple[list[tuple[float, object]], float, int]:
    """For each target time the frame at or just before it (as a bounded image); the last timestamp; frames decoded."""
    chosen: list[tuple[float, object]] = []
    pending = list(targets)
    previous = None  # (timestamp, frame)
    image = None  # `previous` as an image, once chosen
    last, count = 0.0, 0
    for timestamp, frame in _decoded_frames(path):
        last, count = timestamp, count + 1
        # Keep the frame at or just before each target time.
        while pending and timestamp > pending[0] and previous is not None:
            image = _frame_image(previous[1]) if image is None else image
            chosen.append((previous[0], image))
            pending.pop(0)
        previous, image = (timestamp, frame), None
        if not pending:
            break
    while pending and previous is not None:
        image = _frame_image(previous[1]) if image is None else image
        chosen.append((previous[0], image))
        pending.pop(0)
    return chosen, last, count


def video_hashes(path: Path, frames: int = 16) -> VideoHashes:
    """Hash `frames` frames spread evenly over the clip (one decode pass, frames kept lazily).

    When the declared duration cannot be right (most targets lie after the last
    frame: a lying or broken header), the clip is decoded once more with the
    targets spread over the duration its frames actually span.
    """
    if frames < 1:
        raise ValueError("frames must be at least 1")
    path = Path(path)
    duration = _duration(path)
    if not duration:
        raise UnreadableMediaError(f"{path}: video has no known duration")
    targets = [duration * (i + 0.5) / frames for i in range(frames)]
    chosen, last, count = _choose(path, targets)
    if chosen and count > 1 and last > 0 and sum(t > last for t in targets) > frames // 2:
        duration = last * count / (count - 1)  # the last frame lasts one average frame interval
        chosen, _, _ = _choose(path, [duration * (i + 0.5) / frames for i in range(frames)])
    if not chosen:
        raise UnreadableMediaError(f"{path}: no decodable frames")
    images = [image for _, image in chosen]
    try:
        hashes = image_hashes_batch(images, dihedral=False)
    except MemoryError:
        raise UnreadableMediaError(f"{path}: frames too large to hash in the memory available") from None
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
    except UnreadableMediaError:
        raise
    except (av.FFmpegError, OSError) as exc:
        raise UnreadableMediaError(f"{path}: cannot open video ({exc})") from None
    except Exception as exc:  # any other failure to read the header is this file's
        raise UnreadableMediaError(f"{path}: cannot open video ({type(exc).__name__}: {exc})") from None


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
