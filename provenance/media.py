"""Validating and loading media files.

Type is decided by content (magic bytes), never by extension, and a file is
only accepted once it fully decodes within size limits: a truncated image, a
decompression bomb or a header claiming absurd dimensions is a `MediaError`
with a one-line reason. So is any other failure of a decoder on the file: one
hostile file never stops the others of a run.

Budgets (hostile media, issue 16): what is kept of a picture is bounded (an
image above `WORK_PIXELS` is reduced by whole-pixel averaging, JPEGs already
while decoding; sampled video frames are scaled by FFmpeg to at most
`FRAME_PIXELS` before they become arrays), and so are a video's frames
(`MAX_VIDEO_FRAMES`), its decoded pixels, counting every frame
(`MAX_VIDEO_PIXELS`), and the time spent decoding it (`DECODE_SECONDS`).
Hashes are computed on what is kept, so certify and verify see the same
pixels. Memory and time of the worst cases: bench/bench_hostile_media.py.

Read once (issue 19): `load_media` opens the file once and does everything
from that one descriptor: the type from its first bytes, the sha256 in one
pass, then one decode (Pillow is handed the open file; PyAV too). The
`MediaFile` it returns carries the frame sample that hashing *and* the
detectors use (this is the project's one frame sampler: `detect` scores
`MediaFile.sample`, never a sample of its own), so a video certificate's
hashed frames are the frames its verdict was computed on.
"""

from __future__ import annotations

import hashlib
import math
import os
import stat
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import BinaryIO, Iterator

from PIL import Image

from .errors import ProvenanceError

MAX_PIXELS = 100_000_000  # an image above this is treated as a decompression bomb
MAX_SIDE = 30_000
MAX_FILE_BYTES = 4 * 1024**3
VIDEO_FRAMES = 16
# A decoded image above this many pixels is kept reduced to at most this many
# (a 24 Mpx, 6000x4000 photo is kept as it is): hashing a 90 Mpx PNG at full
# size took 2.9 GB.
WORK_PIXELS = 24_000_000
# Sampled video frames are scaled to at most this many pixels while they are
# converted (4K UHD passes unchanged); 16 of them are kept.
FRAME_PIXELS = 3840 * 2160
MAX_VIDEO_FRAMES = 100_000
# Frames x coded pixels a video may make the decoder produce: 50 Gpx is about
# 24,000 1080p frames (13 minutes at 30 fps) or 780 frames of 8000x8000.
MAX_VIDEO_PIXELS = 50_000_000_000
# Wall-clock limit for decoding one video (both passes when a second is needed).
DECODE_SECONDS = 60.0

IMAGE_MIME = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "GIF": "image/gif", "TIFF": "image/tiff"}
VIDEO_MIME = {"mp4": "video/mp4", "mov": "video/quicktime", "webm": "video/webm", "avi": "video/x-msvideo"}


class MediaError(ProvenanceError):
    """A file that is not acceptable media; the message says why."""


@dataclass(frozen=True)
class SampledFrame:
    """One frame of the sample: hashed into the certificate and scored by the detectors.

    `image` is RGB. `decoded` is the picture as the decoder gave it, before it
    became RGB: an image file's mode, EXIF orientation and JPEG tables, which
    the detectors read (they turn the picture upright, put alpha on white and
    judge JPEG quality); for video frames it is `image` itself.
    """

    index: int  # frame number from the start of the stream, 0-based (0 for an image)
    time: float  # seconds from the start (0.0 for an image)
    image: Image.Image = field(repr=False, compare=False)
    decoded: Image.Image = field(repr=False, compare=False)


@dataclass(frozen=True)
class MediaFile:
    path: Path
    kind: str  # "image" | "video"
    mime: str
    size: int
    sha256: str  # hex
    width: int
    height: int
    duration_s: float | None = None
    frame_count: int | None = None
    sample: tuple[SampledFrame, ...] = field(default=(), repr=False, compare=False)  # one for images

    @property
    def frames(self) -> tuple[Image.Image, ...]:
        """The sampled frames' RGB pictures, in stream order."""
        return tuple(frame.image for frame in self.sample)

    @property
    def first_frame(self) -> Image.Image:
        return self.sample[0].image

    def without_pixels(self) -> MediaFile:
        """The same facts without the decoded frames (they are the bulk of its memory)."""
        return replace(self, sample=())

    def describe(self) -> dict:
        out = {"mime": self.mime, "kind": self.kind, "size": self.size, "width": self.width, "height": self.height}
        if self.kind == "video":
            out |= {"duration_s": self.duration_s, "frames": self.frame_count}
        return out


def check_path(path: Path) -> int:
    """Reject what is not a readable regular file; returns its size."""
    try:
        info = path.stat()  # follows symlinks; a loop raises ELOOP
    except FileNotFoundError:
        raise MediaError(f"{path}: no such file") from None
    except OSError as exc:
        raise MediaError(f"{path}: {exc.strerror or exc}") from None
    if stat.S_ISDIR(info.st_mode):
        raise MediaError(f"{path}: is a directory, not a media file")
    if not stat.S_ISREG(info.st_mode):
        raise MediaError(f"{path}: not a regular file")
    if info.st_size == 0:
        raise MediaError(f"{path}: empty file")
    if info.st_size > MAX_FILE_BYTES:
        raise MediaError(f"{path}: larger than {MAX_FILE_BYTES // 1024**3} GiB")
    if not os.access(path, os.R_OK):
        raise MediaError(f"{path}: permission denied")
    return info.st_size


def sha256_file(path: Path) -> str:
    with open(path, "rb") as src:
        return _sha256_of(src)


def _sha256_of(src: BinaryIO) -> str:
    """The sha256 of everything from the start of `src`, which is left at its start again."""
    digest = hashlib.sha256()
    src.seek(0)
    while chunk := src.read(1 << 20):
        digest.update(chunk)
    src.seek(0)
    return digest.hexdigest()


@contextmanager
def _opened(path: Path) -> Iterator[tuple[BinaryIO, int, str, str | None]]:
    """The checked file, open once: (its descriptor at the start, size, sha256, video container or None)."""
    size = check_path(path)
    try:
        src = open(path, "rb")
    except OSError as exc:
        raise MediaError(f"{path}: {exc.strerror or exc}") from None
    with src:
        head = src.read(64)
        yield src, size, _sha256_of(src), _video_container(head)


def load_media(path: Path) -> MediaFile:
    """Validate, hash and decode one file, opened once (see the module's docstring)."""
    path = Path(path)
    with _opened(path) as (src, size, sha256, video):
        if video:
            return _load_video(path, src, size, sha256, video)
        return _load_image(path, src, size, sha256)


def probe_media(path: Path) -> MediaFile:
    """Type, size, sha256 and dimensions from the header, without decoding a pixel; `sample` is empty.

    For verification only: a file whose sha256 is certified content needs
    nothing more (those bytes decoded in full when they were certified), and
    any other file is then loaded with `load_media`, which applies every check.
    So a header that lies is caught there, never trusted here.
    """
    path = Path(path)
    with _opened(path) as (src, size, sha256, container):
        try:
            if container:
                import av

                with av.open(src) as opened:
                    if not opened.streams.video:
                        raise MediaError(f"{path}: no video stream")
                    codec = opened.streams.video[0].codec_context
                    width, height, mime = codec.width, codec.height, VIDEO_MIME[container]
            else:
                with Image.open(src) as img:
                    (width, height), fmt = img.size, img.format
                if fmt not in IMAGE_MIME:
                    raise MediaError(f"{path}: image format {fmt} is not supported (JPEG, PNG, WebP, GIF, TIFF)")
                mime = IMAGE_MIME[fmt]
        except MediaError:
            raise
        except Image.UnidentifiedImageError:
            raise MediaError(f"{path}: not a supported image or video") from None
        except Exception as exc:  # any header a decoder refuses is this file's problem, said in one line
            raise MediaError(f"{path}: damaged {'video' if container else 'image'} ({_short(exc)})") from None
    _check_dimensions(path, width, height)
    return MediaFile(path=path, kind="video" if container else "image", mime=mime, size=size, sha256=sha256, width=width, height=height)


def _video_container(head: bytes) -> str | None:
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        return "mov" if brand == b"qt  " else "mp4"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "webm"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "avi"
    return None


def _load_image(path: Path, src: BinaryIO, size: int, sha256: str) -> MediaFile:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            # Structure first (verify() checks what decoding does not, PNG chunk CRCs): it leaves the
            # image unusable, so the pixels are decoded by a second parse of the same open file.
            probe = Image.open(src)
            fmt = probe.format
            width, height = probe.size
            _check_dimensions(path, width, height)
            probe.verify()
            src.seek(0)
            img = Image.open(src)
            img.seek(0)  # GIF and multi-page TIFF: the first frame
            decoded = _bounded(img)
            rgb = decoded if decoded.mode == "RGB" else decoded.convert("RGB")
    except MediaError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise MediaError(f"{path}: image too large (decompression bomb guard)") from None
    except Image.UnidentifiedImageError:
        raise MediaError(f"{path}: not a supported image or video") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise MediaError(f"{path}: damaged image ({_short(exc)})") from None
    except MemoryError:
        raise MediaError(f"{path}: image too large to decode in the memory available") from None
    except Exception as exc:  # any other decoder failure is this file's, never the run's
        raise MediaError(f"{path}: cannot decode image ({type(exc).__name__}: {_short(exc)})") from None
    if fmt not in IMAGE_MIME:
        raise MediaError(f"{path}: image format {fmt} is not supported (JPEG, PNG, WebP, GIF, TIFF)")
    return MediaFile(
        path=path,
        kind="image",
        mime=IMAGE_MIME[fmt],
        size=size,
        sha256=sha256,
        width=width,
        height=height,
        sample=(SampledFrame(0, 0.0, rgb, decoded),),
    )


def _bounded(img: Image.Image) -> Image.Image:
    """The decoded image, reduced to at most WORK_PIXELS pixels (the decoder's own image when it is smaller).

    A reduced image is RGB or grey; one that is not reduced keeps its mode, EXIF and JPEG tables.
    """
    width, height = img.size
    if width * height <= WORK_PIXELS:
        img.load()
        return img
    if img.format == "JPEG":
        # libjpeg scales by 1/2, 1/4 or 1/8 while decoding: the full picture is never in memory.
        factor = math.sqrt(width * height / WORK_PIXELS)
        img.draft("RGB", (math.ceil(width / factor), math.ceil(height / factor)))
    img.load()
    if img.mode not in ("RGB", "RGBA", "L", "LA"):
        img = img.convert("RGB")  # palette, bilevel, CMYK, 16-bit: Image.reduce averages the channels it knows
    factor = math.ceil(math.sqrt(img.width * img.height / WORK_PIXELS))
    while factor > 1 and math.ceil(img.width / factor) * math.ceil(img.height / factor) > WORK_PIXELS:
        factor += 1
    reduced = img.reduce(factor) if factor > 1 else img
    return reduced.convert("RGB")


def _check_dimensions(path: Path, width: int, height: int) -> None:
    if width <= 0 or height <= 0:
        raise MediaError(f"{path}: image has no pixels")
    if width > MAX_SIDE or height > MAX_SIDE or width * height > MAX_PIXELS:
        raise MediaError(f"{path}: image dimensions {width}x{height} are beyond the limit ({MAX_PIXELS:,} pixels)")


class _Budget:
    """The frame, pixel and time budget of decoding one video."""

    def __init__(self, path: Path, width: int, height: int):
        self.path = path
        self.pixels_per_frame = width * height
        self.deadline = time.monotonic() + DECODE_SECONDS
        self.frames = 0

    def check_declared(self, frames: int) -> None:
        if frames and frames * self.pixels_per_frame > MAX_VIDEO_PIXELS:
            raise MediaError(
                f"{self.path}: video declares {frames:,} frames of {self.pixels_per_frame:,} pixels,"
                f" beyond the decoding pixel budget ({MAX_VIDEO_PIXELS:,} pixels)"
            )

    def spend(self, first_pass: bool = True) -> None:
        """Count one decoded frame; raise once a budget is exhausted (a second pass spends pixels and time only)."""
        self.frames += 1
        if first_pass and self.frames > MAX_VIDEO_FRAMES:
            raise MediaError(f"{self.path}: video has more than {MAX_VIDEO_FRAMES:,} frames")
        if self.frames * self.pixels_per_frame > MAX_VIDEO_PIXELS:
            raise MediaError(
                f"{self.path}: video decodes to more than {MAX_VIDEO_PIXELS:,} pixels"
                f" ({self.frames:,} frames so far), beyond the decoding pixel budget"
            )
        if time.monotonic() > self.deadline:
            raise MediaError(f"{self.path}: decoding the video took longer than {DECODE_SECONDS:g} s (the limit)")


def _load_video(path: Path, src: BinaryIO, size: int, sha256: str, container_kind: str) -> MediaFile:
    import av  # PyAV is only needed for video

    try:
        with av.open(src) as container:
            if not container.streams.video:
                raise MediaError(f"{path}: no video stream")
            stream = container.streams.video[0]
            width, height = stream.codec_context.width, stream.codec_context.height
            _check_dimensions(path, width, height)
            budget = _Budget(path, width, height)
            budget.check_declared(stream.frames)
            duration = _declared_duration(container, stream)
            count, images, last_t = _sample_frames(container, stream, duration, budget)
        if count and len(images) < max(1, min(count, VIDEO_FRAMES) // 2):
            # The declared duration does not describe the frames (a lying or broken
            # header): sample them by their number instead, and measure the duration.
            src.seek(0)
            with av.open(src) as container:
                stream = container.streams.video[0]
                images = _frames_by_number(container, stream, count, budget)
            duration = None
    except MediaError:
        raise
    except (av.FFmpegError, OSError, ValueError, IndexError) as exc:
        raise MediaError(f"{path}: damaged video ({_short(exc)})") from None
    except MemoryError:
        raise MediaError(f"{path}: video too large to decode in the memory available") from None
    except Exception as exc:  # any other decoder failure is this file's, never the run's
        raise MediaError(f"{path}: cannot decode video ({type(exc).__name__}: {_short(exc)})") from None
    if not count or not images:
        raise MediaError(f"{path}: video has no decodable frames")
    return MediaFile(
        path=path,
        kind="video",
        mime=VIDEO_MIME[container_kind],
        size=size,
        sha256=sha256,
        width=width,
        height=height,
        duration_s=round(duration or last_t, 3),
        frame_count=count,
        sample=images,
    )


def _declared_duration(container, stream) -> float | None:
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration:
        return container.duration / 1_000_000
    return None


def _frame_image(frame) -> Image.Image:
    """An RGB image of a decoded frame, scaled by FFmpeg to at most FRAME_PIXELS pixels."""
    width, height = frame.width, frame.height
    if width * height <= FRAME_PIXELS:
        return frame.to_image().convert("RGB")
    scale = math.sqrt(FRAME_PIXELS / (width * height))
    size = {"width": max(1, int(width * scale)), "height": max(1, int(height * scale))}
    return frame.to_image(**size, interpolation="AREA")


def _sampled(frame, index: int, seconds: float) -> SampledFrame:
    image = _frame_image(frame)
    return SampledFrame(index, seconds, image, image)


def _frame_time(frame, stream, index: int) -> float:
    return float(frame.pts * stream.time_base) if frame.pts is not None and stream.time_base else float(index)


def _sample_frames(container, stream, duration: float | None, budget: _Budget) -> tuple[int, tuple[SampledFrame, ...], float]:
    """Decode the whole stream (a truncated file fails here) keeping VIDEO_FRAMES evenly spaced frames."""
    targets = [duration * (i + 0.5) / VIDEO_FRAMES for i in range(VIDEO_FRAMES)] if duration else []
    kept: list[SampledFrame] = []
    count, t = 0, 0.0
    for frame in container.decode(stream):
        t = _frame_time(frame, stream, count)
        count += 1
        budget.spend()
        if targets and len(kept) < len(targets) and t >= targets[len(kept)]:
            kept.append(_sampled(frame, count - 1, t))
        elif not targets and count <= VIDEO_FRAMES:
            kept.append(_sampled(frame, count - 1, t))
    return count, tuple(kept), t


def _frames_by_number(container, stream, count: int, budget: _Budget) -> tuple[SampledFrame, ...]:
    """Decode again, keeping min(count, VIDEO_FRAMES) frames evenly spaced by their number."""
    wanted = min(count, VIDEO_FRAMES)
    targets = sorted({min(count - 1, int(count * (i + 0.5) / wanted)) for i in range(wanted)})
    kept: list[SampledFrame] = []
    for index, frame in enumerate(container.decode(stream)):
        budget.spend(first_pass=False)
        if len(kept) < len(targets) and index == targets[len(kept)]:
            kept.append(_sampled(frame, index, _frame_time(frame, stream, index)))
        if len(kept) == len(targets):
            break
    return tuple(kept)


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:160]
