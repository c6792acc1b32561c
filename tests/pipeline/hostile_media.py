"""Crafted media for the hostile-input tests and bench/bench_hostile_media.py.

Each builder writes a real, small file whose headers lie (a Matroska Duration
of 1e12, a PNG IHDR claiming huge dimensions) or, for the bench, a genuinely
large one. Nothing here is downloaded: the files are made with PyAV and Pillow.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np


def video(
    path: Path,
    frames: int = 6,
    size: tuple[int, int] = (64, 48),
    codec: str = "mpeg4",
    fmt: str | None = None,
    rate: int = 10,
    noise: bool = False,
) -> Path:
    """A clip of `frames` frames (grey ramps, or random noise when `noise`)."""
    import av

    width, height = size
    rng = np.random.default_rng(1)
    with av.open(str(path), "w", format=fmt) as out:
        stream = out.add_stream(codec, rate=rate)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        if codec == "libx264":
            stream.options = {"preset": "ultrafast"}
        for i in range(frames):
            if noise:
                img = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
            else:
                img = np.empty((height, width, 3), dtype=np.uint8)
                img[...] = (np.arange(width, dtype=np.uint32)[None, :, None] * 7 + i * 40) % 256
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def mkv_with_duration(path: Path, seconds_in_ms: float = 1e12, frames: int = 6) -> Path:
    """A valid Matroska clip whose Segment Info Duration (EBML id 0x4489) says `seconds_in_ms` ticks.

    With the default TimecodeScale of 1 ms, 1e12 claims about 31,700 years while
    the clip holds `frames` frames at 10 fps.
    """
    video(path, frames=frames, fmt="matroska")
    data = bytearray(path.read_bytes())
    at = data.find(b"\x44\x89")
    if at < 0:
        raise RuntimeError("no Duration element in the Matroska file PyAV wrote")
    size = data[at + 2] & 0x7F  # one-byte EBML size: 0x84 or 0x88
    if size == 8:
        data[at + 3 : at + 11] = struct.pack(">d", seconds_in_ms)
    elif size == 4:
        data[at + 3 : at + 7] = struct.pack(">f", seconds_in_ms)
    else:
        raise RuntimeError(f"unexpected Duration size {size}")
    path.write_bytes(bytes(data))
    return path


def png_header(path: Path, width: int, height: int, idat: bytes | None = None) -> Path:
    """A PNG whose IHDR claims width x height RGB; IDAT holds `idat` (a little zlib data by default)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    body = idat if idat is not None else zlib.compress(b"\0" * 64)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", body) + chunk(b"IEND", b""))
    return path


def big_png(path: Path, side: int) -> Path:
    """A real side x side RGB PNG that decodes fully (rows of a repeating pattern; compresses well)."""
    row = (np.arange(side * 3, dtype=np.uint32) % 251).astype(np.uint8).tobytes()
    raw = zlib.compressobj(1)
    parts = [raw.compress(b"\0" + row) for _ in range(side)]
    parts.append(raw.flush())
    return png_header(path, side, side, idat=b"".join(parts))
