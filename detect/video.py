"""Videos: evenly sampled frames, faces tracked across them, one score per video.

Aggregation rule (documented because it decides verdicts): a face track's
score is the mean of its per-frame scores, since a swapped identity stays
swapped and averaging damps one-frame flukes; the video's score is the highest
track score among tracks seen in at least `min_track` sampled frames (all
tracks when none is that long); the frames named are that track's
highest-scoring frames.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Callable, Sequence

import av
import numpy as np
from PIL import Image

from detect.faces import Face

# Up to this many frames we decode straight through, which gives exact frame
# numbers; longer videos are sampled by seeking to timestamps.
SEQUENTIAL_LIMIT = 1500
# Hostile media (issue 16): sampled frames are scaled by FFmpeg to at most this
# many pixels before they become images (4K UHD passes unchanged; an 8000x8000
# clip took 2.2 GB), and sampling one video may take at most DECODE_SECONDS.
FRAME_PIXELS = 3840 * 2160
DECODE_SECONDS = 60.0


class VideoError(Exception):
    """The file is not a decodable video."""


@dataclass(frozen=True)
class VideoFrame:
    index: int  # frame number from the start, 0-based
    time: float  # seconds
    image: Image.Image


@dataclass(frozen=True)
class VideoInfo:
    frames: int  # counted or estimated from duration x rate
    fps: float
    duration: float
    width: int
    height: int


def _open(path: Path) -> av.container.InputContainer:
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError, UnicodeDecodeError) as exc:
        raise VideoError(f"{path}: cannot open as video ({exc})") from None
    if not container.streams.video:
        container.close()
        raise VideoError(f"{path}: no video stream")
    return container


def probe(path: Path) -> VideoInfo:
    with _open(Path(path)) as container:
        return _info(container.streams.video[0], container)


def _info(stream: av.video.stream.VideoStream, container: av.container.InputContainer) -> VideoInfo:
    fps = float(stream.average_rate or stream.guessed_rate or 25)
    if stream.duration is not None and stream.time_base is not None:
        duration = float(stream.duration * stream.time_base)
    else:
        duration = (container.duration or 0) / av.time_base
    frames = stream.frames or int(round(duration * fps))
    return VideoInfo(frames, fps, duration, stream.codec_context.width, stream.codec_context.height)


def _targets(total: int, count: int) -> list[int]:
    if total <= 0:
        return []
    return sorted({int(round(i)) for i in np.linspace(0, total - 1, min(count, total))})


def sample_frames(path: Path, count: int = 16) -> list[VideoFrame]:
    """`count` frames spread evenly from the first to the last (fewer if the video is shorter)."""
    path = Path(path)
    with _open(path) as container:
        deadline = _Deadline(path)
        try:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"  # FFmpeg's own decoding threads
            info = _info(stream, container)
            if 0 < info.frames <= SEQUENTIAL_LIMIT:
                frames = _decode_through(container, stream, set(_targets(info.frames, count)), deadline)
            elif info.frames > 0:
                frames = _decode_by_seeking(container, stream, info, count, deadline)
            else:
                frames = []
            if not frames and not _still_image(container):
                # No frame count or duration in the header (a stream recorded live, a damaged header), or
                # one that does not describe the stream: count the frames, then take them by number, as
                # provenance.media does when it hashes the file.
                frames = _by_counting(path, count, deadline)
        except VideoError:
            raise
        except av.error.FFmpegError as exc:
            raise VideoError(f"{path}: decoding failed ({exc})") from None
        except MemoryError:
            raise VideoError(f"{path}: video too large to decode in the memory available") from None
        except Exception as exc:  # any other decoder failure is this file's, never the batch's
            reason = " ".join(str(exc).split())[:160]
            raise VideoError(f"{path}: decoding failed ({type(exc).__name__}: {reason})") from None
    if not frames:
        raise VideoError(f"{path}: no decodable frames")
    return frames


class _Deadline:
    def __init__(self, path: Path):
        self.path, self.at = path, time.monotonic() + DECODE_SECONDS

    def check(self) -> None:
        if time.monotonic() > self.at:
            raise VideoError(f"{self.path}: decoding took longer than {DECODE_SECONDS:g} s (the limit)")


def _frame_image(frame) -> Image.Image:
    """The frame as an RGB image, scaled by FFmpeg to at most FRAME_PIXELS pixels."""
    width, height = frame.width, frame.height
    if width * height <= FRAME_PIXELS:
        return frame.to_image()
    scale = math.sqrt(FRAME_PIXELS / (width * height))
    return frame.to_image(width=max(1, int(width * scale)), height=max(1, int(height * scale)), interpolation="AREA")


def _decode_through(container, stream, wanted: set[int], deadline: _Deadline) -> list[VideoFrame]:
    frames = []
    last = max(wanted)
    for index, frame in enumerate(container.decode(stream)):
        deadline.check()
        if index in wanted:
            frames.append(VideoFrame(index, float(frame.time or 0.0), _frame_image(frame)))
        if index >= last:
            break
    return frames


def _still_image(container) -> bool:
    """FFmpeg opens a still picture (PNG, JPEG, ...) as a one-frame "video": not one here."""
    name = container.format.name or ""
    return name.endswith("_pipe") or name == "image2"


def _by_counting(path: Path, count: int, deadline: _Deadline) -> list[VideoFrame]:
    with _open(path) as container:
        stream = container.streams.video[0]
        total = 0
        for _ in container.decode(stream):
            deadline.check()
            total += 1
    if not total:
        return []
    with _open(path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        return _decode_through(container, stream, set(_targets(total, count)), deadline)


def _decode_by_seeking(container, stream, info: VideoInfo, count: int, deadline: _Deadline) -> list[VideoFrame]:
    frames: list[VideoFrame] = []
    time_base = stream.time_base or Fraction(1, 1000)
    for target in _targets(info.frames, count):
        seconds = target / info.fps
        container.seek(int(seconds / time_base), stream=stream, backward=True)
        for frame in container.decode(stream):
            deadline.check()
            if frame.time is not None and frame.time + 0.5 / info.fps >= seconds:
                index = int(round(frame.time * info.fps))
                if not frames or index > frames[-1].index:
                    frames.append(VideoFrame(index, float(frame.time), _frame_image(frame)))
                break
    return frames


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
        pairs = [
            (_distance(face, track[-1][1]), fi, ti)
            for fi, face in enumerate(faces)
            for ti, track in enumerate(open_tracks)
        ]
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


def aggregate(tracks: Sequence[Track], scores: dict[tuple[int, int], float], min_track: int = 2, top_frames: int = 3) -> tuple[float, tuple[int, ...]]:
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
