"""Validating and loading media files.

Type is decided by content (magic bytes), never by extension, and a file is
only accepted once it fully decodes within size limits: a truncated image, a
decompression bomb or a header claiming absurd dimensions is a `MediaError`
with a one-line reason.
"""

from __future__ import annotations

import hashlib
import os
import stat
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from .errors import ProvenanceError

MAX_PIXELS = 100_000_000  # an image above this is treated as a decompression bomb
MAX_SIDE = 30_000
MAX_FILE_BYTES = 4 * 1024**3
VIDEO_FRAMES = 16

IMAGE_MIME = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "GIF": "image/gif", "TIFF": "image/tiff"}
VIDEO_MIME = {"mp4": "video/mp4", "mov": "video/quicktime", "webm": "video/webm", "avi": "video/x-msvideo"}


class MediaError(ProvenanceError):
    """A file that is not acceptable media; the message says why."""


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
    frames: tuple[Image.Image, ...] = field(default=(), repr=False, compare=False)  # RGB; one for images

    @property
    def first_frame(self) -> Image.Image:
        return self.frames[0]

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
    digest = hashlib.sha256()
    with open(path, "rb") as src:
        while chunk := src.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def load_media(path: Path) -> MediaFile:
    path = Path(path)
    size = check_path(path)
    with open(path, "rb") as src:
        head = src.read(64)
    video = _video_container(head)
    if video:
        return _load_video(path, size, video)
    return _load_image(path, size)


def _video_container(head: bytes) -> str | None:
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        return "mov" if brand == b"qt  " else "mp4"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "webm"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "avi"
    return None


def _load_image(path: Path, size: int) -> MediaFile:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as probe:
                fmt = probe.format
                width, height = probe.size
                _check_dimensions(path, width, height)
                probe.verify()
            with Image.open(path) as img:
                img.seek(0)  # GIF and multi-page TIFF: the first frame
                rgb = img.convert("RGB")
                rgb.load()
    except MediaError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise MediaError(f"{path}: image too large (decompression bomb guard)") from None
    except Image.UnidentifiedImageError:
        raise MediaError(f"{path}: not a supported image or video") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise MediaError(f"{path}: damaged image ({_short(exc)})") from None
    if fmt not in IMAGE_MIME:
        raise MediaError(f"{path}: image format {fmt} is not supported (JPEG, PNG, WebP, GIF, TIFF)")
    return MediaFile(
        path=path, kind="image", mime=IMAGE_MIME[fmt], size=size, sha256=sha256_file(path),
        width=width, height=height, frames=(rgb,),
    )


def _check_dimensions(path: Path, width: int, height: int) -> None:
    if width <= 0 or height <= 0:
        raise MediaError(f"{path}: image has no pixels")
    if width > MAX_SIDE or height > MAX_SIDE or width * height > MAX_PIXELS:
        raise MediaError(f"{path}: image dimensions {width}x{height} are beyond the limit ({MAX_PIXELS:,} pixels)")


def _load_video(path: Path, size: int, container_kind: str) -> MediaFile:
    import av  # PyAV is only needed for video

    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise MediaError(f"{path}: no video stream")
            stream = container.streams.video[0]
            width, height = stream.codec_context.width, stream.codec_context.height
            _check_dimensions(path, width, height)
            duration = _declared_duration(container, stream)
            count, images, last_t = _sample_frames(container, stream, duration)
    except MediaError:
        raise
    except (av.FFmpegError, OSError, ValueError, IndexError) as exc:
        raise MediaError(f"{path}: damaged video ({_short(exc)})") from None
    if not count:
        raise MediaError(f"{path}: video has no decodable frames")
    return MediaFile(
        path=path, kind="video", mime=VIDEO_MIME[container_kind], size=size, sha256=sha256_file(path),
        width=width, height=height, duration_s=round(duration or last_t, 3), frame_count=count, frames=images,
    )


def _declared_duration(container, stream) -> float | None:
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration:
        return container.duration / 1_000_000
    return None


def _sample_frames(container, stream, duration: float | None) -> tuple[int, tuple[Image.Image, ...], float]:
    """Decode the whole stream (a truncated file fails here) keeping VIDEO_FRAMES evenly spaced frames."""
    targets = [duration * (i + 0.5) / VIDEO_FRAMES for i in range(VIDEO_FRAMES)] if duration else []
    kept: list[Image.Image] = []
    count, t = 0, 0.0
    for frame in container.decode(stream):
        t = float(frame.pts * stream.time_base) if frame.pts is not None else float(count)
        count += 1
        if count > 100_000:
            raise MediaError("video has more than 100,000 frames")
        if targets and len(kept) < len(targets) and t >= targets[len(kept)]:
            kept.append(frame.to_image().convert("RGB"))
        elif not targets and count <= VIDEO_FRAMES:
            kept.append(frame.to_image().convert("RGB"))
    return count, tuple(kept), t


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:160]
