"""Mutated media for the reliability suite and bench/bench_reliability.py.

Small seeds of every container the service reads are made at run time (Pillow
and PyAV; nothing is downloaded), then mutated three ways:

- `flip`: 1 to 32 random bits flipped anywhere in the file, or only in its
  first 512 bytes, where the headers are;
- `truncate`: the file cut at a random length;
- `header`: one field the format's parser reads, found by walking the file's
  structure (PNG chunks, JPEG segments, the RIFF/VP8 header of WebP, ISO BMFF
  boxes of MP4, EBML elements of Matroska/WebM), set to an "interesting"
  value: 0, 1, the largest, the sign bit, half or double the original, or a
  random one. A PNG chunk edit gets a valid CRC most of the time, so that the
  decoder reaches the field instead of stopping at the checksum.

Everything is derived from one `random.Random`, so a (seed, index) pair names
the same mutated file on every run.
"""

from __future__ import annotations

import random
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

FORMATS = ("jpeg", "png", "webp", "mp4", "mkv", "webm")
SUFFIX = {"jpeg": ".jpg", "png": ".png", "webp": ".webp", "mp4": ".mp4", "mkv": ".mkv", "webm": ".webm"}
KINDS = ("flip", "truncate", "header")


def make_seeds(directory: Path, size: tuple[int, int] = (96, 72), frames: int = 3, picture: int = 5) -> dict[str, list[Path]]:
    """Two small valid files per format, drawn here: a landscape still (baseline and progressive JPEG,
    RGB and interlaced palette PNG, lossy and lossless WebP), and short clips of it (H.264 and MPEG-4
    Part 2 in MP4, H.264 and VP9 in Matroska, VP8 and VP9 in WebM)."""
    from scripts.make_samples import scene
    from tests.pipeline.hostile_media import video

    directory.mkdir(parents=True, exist_ok=True)
    still = scene(seed=picture, size=size)
    out: dict[str, list[Path]] = {fmt: [] for fmt in FORMATS}

    def keep(fmt: str, path: Path) -> None:
        out[fmt].append(path)

    still.save(directory / "seed-baseline.jpg", quality=85)
    keep("jpeg", directory / "seed-baseline.jpg")
    still.save(directory / "seed-progressive.jpg", quality=85, progressive=True)
    keep("jpeg", directory / "seed-progressive.jpg")
    still.save(directory / "seed-rgb.png")
    keep("png", directory / "seed-rgb.png")
    still.quantize(64).save(directory / "seed-palette.png", interlace=1)
    keep("png", directory / "seed-palette.png")
    still.save(directory / "seed-lossy.webp", quality=80)
    keep("webp", directory / "seed-lossy.webp")
    still.save(directory / "seed-lossless.webp", lossless=True)
    keep("webp", directory / "seed-lossless.webp")
    for fmt, codec, container in (
        ("mp4", "libx264", "mp4"),
        ("mp4", "mpeg4", "mp4"),
        ("mkv", "libx264", "matroska"),
        ("mkv", "libvpx-vp9", "matroska"),
        ("webm", "libvpx", "webm"),
        ("webm", "libvpx-vp9", "webm"),
    ):
        keep(fmt, video(directory / f"seed-{codec}{SUFFIX[fmt]}", frames=frames, size=(64, 48), codec=codec, fmt=container))
    return out


@dataclass(frozen=True)
class Mutant:
    fmt: str
    kind: str  # flip | truncate | header
    detail: str  # what was changed, for the report
    data: bytes


def interesting(original: int, width_bytes: int, rng: random.Random) -> int:
    top = (1 << (8 * width_bytes)) - 1
    choices = [
        0,
        1,
        top,
        top >> 1,
        (top >> 1) + 1,
        min(top, original * 2 + 1),
        original // 2,
        (original + 1) & top,
        (original - 1) & top,
        rng.randrange(top + 1),
    ]
    value = rng.choice(choices)
    return value if value != original else (original ^ 1) & top


# ---- finding the fields ---------------------------------------------------------------------------
# Each walker returns (offset, width, endian, what) tuples: unsigned integer fields in the file.


def _png_fields(data: bytes) -> tuple[list[tuple], list[tuple[int, int]]]:
    """(integer fields, chunk spans (start of length field, end of CRC) to fix the CRC of)."""
    fields, chunks = [], []
    at = 8
    while at + 12 <= len(data):
        length = struct.unpack(">I", data[at : at + 4])[0]
        kind = data[at + 4 : at + 8]
        end = at + 12 + length
        if end > len(data):
            break
        fields.append((at, 4, ">", f"{kind.decode('latin1')} length"))
        if kind == b"IHDR" and length >= 13:
            body = at + 8
            fields += [
                (body, 4, ">", "IHDR width"),
                (body + 4, 4, ">", "IHDR height"),
                (body + 8, 1, ">", "IHDR bit depth"),
                (body + 9, 1, ">", "IHDR colour type"),
                (body + 10, 1, ">", "IHDR compression"),
                (body + 11, 1, ">", "IHDR filter"),
                (body + 12, 1, ">", "IHDR interlace"),
            ]
        if kind == b"IDAT" and length >= 2:
            fields += [(at + 8, 1, ">", "IDAT zlib CMF"), (at + 9, 1, ">", "IDAT zlib FLG")]
        chunks.append((at, end))
        at = end
    return fields, chunks


def _jpeg_fields(data: bytes) -> list[tuple]:
    fields = []
    at = 2
    while at + 4 <= len(data) and data[at] == 0xFF:
        marker = data[at + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            at += 2
            continue
        length = struct.unpack(">H", data[at + 2 : at + 4])[0]
        name = f"marker FF{marker:02X}"
        fields.append((at + 2, 2, ">", f"{name} length"))
        body = at + 4
        if marker in (0xC0, 0xC1, 0xC2) and length >= 8:
            fields += [
                (body, 1, ">", "SOF precision"),
                (body + 1, 2, ">", "SOF height"),
                (body + 3, 2, ">", "SOF width"),
                (body + 5, 1, ">", "SOF components"),
            ]
            for c in range(min(data[body + 5], 4)):
                fields += [
                    (body + 7 + 3 * c, 1, ">", f"SOF component {c} sampling"),
                    (body + 8 + 3 * c, 1, ">", f"SOF component {c} table"),
                ]
        elif marker == 0xDA and length >= 6:
            fields += [(body, 1, ">", "SOS components")]
            for c in range(min(data[body], 4)):
                fields.append((body + 2 + 2 * c, 1, ">", f"SOS component {c} tables"))
            break  # entropy-coded data follows
        elif marker == 0xDB:
            fields.append((body, 1, ">", "DQT precision/id"))
        elif marker == 0xC4:
            fields += [(body, 1, ">", "DHT class/id")] + [(body + 1 + i, 1, ">", f"DHT count {i + 1}") for i in range(16)]
        elif marker == 0xDD:
            fields.append((body, 2, ">", "DRI interval"))
        at = body + length - 2
    return [f for f in fields if f[0] + f[1] <= len(data)]


def _webp_fields(data: bytes) -> list[tuple]:
    fields = [(4, 4, "<", "RIFF size")]
    at = 12
    while at + 8 <= len(data):
        kind = data[at : at + 4]
        size = struct.unpack("<I", data[at + 4 : at + 8])[0]
        fields.append((at + 4, 4, "<", f"{kind.decode('latin1')} chunk size"))
        body = at + 8
        if kind == b"VP8 " and size >= 10:
            fields += [
                (body, 3, "<", "VP8 frame tag"),
                (body + 3, 3, "<", "VP8 start code"),
                (body + 6, 2, "<", "VP8 width"),
                (body + 8, 2, "<", "VP8 height"),
            ]
        elif kind == b"VP8L" and size >= 5:
            fields += [(body, 1, "<", "VP8L signature"), (body + 1, 4, "<", "VP8L size bits")]
        elif kind == b"VP8X" and size >= 10:
            fields += [(body, 1, "<", "VP8X flags"), (body + 4, 3, "<", "VP8X canvas width"), (body + 7, 3, "<", "VP8X canvas height")]
        at = body + size + (size & 1)
    return [f for f in fields if f[0] + f[1] <= len(data)]


_BMFF_CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl", b"edts", b"dinf", b"udta", b"mvex"}
_BMFF_FIELDS = {  # offsets from the start of the box's payload (after size and type)
    b"mvhd": [(12, 4, "timescale"), (16, 4, "duration")],
    b"tkhd": [(12, 4, "track id"), (20, 4, "duration"), (76, 4, "width"), (80, 4, "height")],
    b"mdhd": [(12, 4, "timescale"), (16, 4, "duration")],
    b"stsd": [(4, 4, "entry count"), (8 + 24 + 8, 2, "sample entry width"), (8 + 26 + 8, 2, "sample entry height")],
    b"stts": [(4, 4, "entry count"), (8, 4, "sample count"), (12, 4, "sample delta")],
    b"stss": [(4, 4, "entry count"), (8, 4, "first sync sample")],
    b"ctts": [(4, 4, "entry count"), (8, 4, "sample count"), (12, 4, "sample offset")],
    b"stsc": [(4, 4, "entry count"), (8, 4, "first chunk"), (12, 4, "samples per chunk"), (16, 4, "description index")],
    b"stsz": [(4, 4, "sample size"), (8, 4, "sample count"), (12, 4, "first entry size")],
    b"stco": [(4, 4, "entry count"), (8, 4, "first chunk offset")],
    b"elst": [(4, 4, "entry count"), (8, 4, "segment duration"), (12, 4, "media time")],
    b"hdlr": [(8, 4, "handler type")],
    b"avcC": [(0, 1, "configuration version"), (1, 1, "profile"), (4, 1, "NAL length size"), (5, 1, "SPS count"), (6, 2, "SPS length")],
}


def _bmff_fields(data: bytes, start: int = 0, end: int | None = None, depth: int = 0) -> list[tuple]:
    end = len(data) if end is None else end
    fields = []
    at = start
    while at + 8 <= end:
        size = struct.unpack(">I", data[at : at + 4])[0]
        kind = data[at + 4 : at + 8]
        if size < 8 or at + size > end:
            break
        label = kind.decode("latin1")
        fields += [(at, 4, ">", f"{label} box size"), (at + 4, 4, ">", f"{label} box type")]
        payload = at + 8
        for offset, width, name in _BMFF_FIELDS.get(kind, []):
            if payload + offset + width <= at + size:
                fields.append((payload + offset, width, ">", f"{label} {name}"))
        if kind in _BMFF_CONTAINERS and depth < 8:
            fields += _bmff_fields(data, payload, at + size, depth + 1)
        if kind == b"stsd" and depth < 8:  # avc1 / mp4v sample entry: child boxes after 78 bytes of fields
            entry = payload + 8
            if entry + 8 <= at + size:
                entry_size = struct.unpack(">I", data[entry : entry + 4])[0]
                fields += _bmff_fields(data, entry + 8 + 78, min(at + size, entry + entry_size), depth + 1)
        at += size
    return fields


_EBML_MASTERS = {
    0x1A45DFA3,
    0x18538067,
    0x114D9B74,
    0x1549A966,
    0x1654AE6B,
    0xAE,
    0xE0,
    0x1F43B675,
    0xA0,
    0x1C53BB6B,
    0xBB,
    0xB7,
    0x1254C367,
    0x7373,
    0x4DBB,
    0x6D80,
    0x6240,
    0x5034,
    0x5035,
}
_EBML_UINTS = {
    0xB0: "PixelWidth",
    0xBA: "PixelHeight",
    0x2AD7B1: "TimecodeScale",
    0xD7: "TrackNumber",
    0x83: "TrackType",
    0x23E383: "DefaultDuration",
    0xE7: "Cluster Timecode",
    0x4287: "DocTypeVersion",
    0x42F7: "EBMLReadVersion",
    0x42F2: "EBMLMaxIDLength",
    0x42F3: "EBMLMaxSizeLength",
    0xB3: "CueTime",
    0xF1: "CueClusterPosition",
    0x53AC: "SeekPosition",
    0x54B0: "DisplayWidth",
    0x54BA: "DisplayHeight",
    0x9C: "FlagLacing",
}


def _vint(data: bytes, at: int, keep_marker: bool) -> tuple[int, int] | None:
    """(value, length) of the EBML variable-length integer at `at`."""
    if at >= len(data) or data[at] == 0:
        return None
    length = 8 - data[at].bit_length() + 1
    if at + length > len(data):
        return None
    value = int.from_bytes(data[at : at + length], "big")
    if not keep_marker:
        value &= (1 << (7 * length)) - 1
    return value, length


def _ebml_fields(data: bytes, start: int = 0, end: int | None = None, depth: int = 0) -> list[tuple]:
    """Size fields (as ('vint', ...)), unsigned integers, floats (Duration) and strings (DocType, CodecID)."""
    end = len(data) if end is None else end
    fields = []
    at = start
    while at < end:
        ident = _vint(data, at, keep_marker=True)
        if ident is None:
            break
        eid, id_len = ident
        size = _vint(data, at + id_len, keep_marker=False)
        if size is None:
            break
        value, size_len = size
        body = at + id_len + size_len
        unknown = value == (1 << (7 * size_len)) - 1
        body_end = end if unknown else body + value
        if body_end > len(data):
            body_end = len(data)
        fields.append(("vint", at + id_len, size_len, f"element {eid:X} size"))
        if eid in _EBML_UINTS and 1 <= value <= 8:
            fields.append((body, value, ">", _EBML_UINTS[eid]))
        elif eid == 0x4489 and value in (4, 8):
            fields.append(("float", body, value, "Duration"))
        elif eid in (0x4282, 0x86) and value:
            fields.append(("string", body, value, "DocType" if eid == 0x4282 else "CodecID"))
        elif eid == 0xA3 and value >= 4:  # SimpleBlock: track number, timecode, flags
            fields += [(body + 1, 2, ">", "SimpleBlock timecode"), (body + 3, 1, ">", "SimpleBlock flags")]
        if eid in _EBML_MASTERS and depth < 8:
            fields += _ebml_fields(data, body, body_end, depth + 1)
        if unknown:
            break
        at = body + value
    return fields


# ---- mutations -----------------------------------------------------------------------------------


def flip(data: bytes, rng: random.Random) -> tuple[str, bytes]:
    out = bytearray(data)
    head_only = rng.random() < 0.4
    span = min(len(out), 512) if head_only else len(out)
    count = rng.choice([1, 1, 2, 4, 8, 32])
    for _ in range(count):
        at = rng.randrange(span)
        out[at] ^= 1 << rng.randrange(8)
    return f"{count} bit(s) flipped in the {'first 512 bytes' if head_only else 'file'}", bytes(out)


def truncate(data: bytes, rng: random.Random) -> tuple[str, bytes]:
    roll = rng.random()
    if roll < 0.2:
        cut = rng.randrange(1, min(len(data), 64))  # inside the headers
    elif roll < 0.4:
        cut = len(data) - rng.randrange(1, min(len(data), 16))  # the last bytes missing
    else:
        cut = rng.randrange(1, len(data))
    return f"cut to {cut} of {len(data)} bytes", data[:cut]


_CODECS = [b"V_MPEG4/ISO/AVC", b"V_VP8", b"V_VP9", b"V_AV1", b"V_MPEGH/ISO/HEVC", b"V_UNCOMPRESSED", b"A_OPUS", b"V_\xff\xfe"]


def header(fmt: str, data: bytes, rng: random.Random) -> tuple[str, bytes]:
    out = bytearray(data)
    chunks: list[tuple[int, int]] = []
    if fmt == "png":
        fields, chunks = _png_fields(data)
    elif fmt == "jpeg":
        fields = _jpeg_fields(data)
    elif fmt == "webp":
        fields = _webp_fields(data)
    elif fmt == "mp4":
        fields = _bmff_fields(data)
    else:
        fields = _ebml_fields(data)
    if not fields:
        return flip(data, rng)
    field = rng.choice(fields)
    if field[0] == "vint":
        _, at, length, what = field
        body_bits = 7 * length
        original = int.from_bytes(data[at : at + length], "big") & ((1 << body_bits) - 1)
        value = rng.choice(
            [0, 1, (1 << body_bits) - 1, (1 << body_bits) - 2, original * 2, original // 2, original + 1, rng.randrange(1 << body_bits)]
        ) & ((1 << body_bits) - 1)
        out[at : at + length] = ((1 << body_bits) | value).to_bytes(length, "big")  # same length, marker kept
        detail = f"{what} {original} -> {value}"
    elif field[0] == "float":
        _, at, length, what = field
        value = rng.choice([0.0, -1.0, float("nan"), float("inf"), 1e12, 1e-9, 3.4e38])
        out[at : at + length] = struct.pack(">d" if length == 8 else ">f", value)
        detail = f"{what} -> {value}"
    elif field[0] == "string":
        _, at, length, what = field
        text = (
            rng.choice(_CODECS + [b"webm", b"matroska", b"mkv\x00"])
            if rng.random() < 0.8
            else bytes(rng.randrange(256) for _ in range(length))
        )
        out[at : at + length] = text[:length].ljust(length, b"\x00")
        detail = f"{what} -> {text[:length]!r}"
    else:
        at, width, endian, what = field
        original = int.from_bytes(data[at : at + width], "big" if endian == ">" else "little")
        value = interesting(original, width, rng)
        out[at : at + width] = value.to_bytes(width, "big" if endian == ">" else "little")
        detail = f"{what} {original} -> {value}"
    if chunks and rng.random() < 0.8:
        for start, end in chunks:  # valid CRCs, so the decoder reads the edited field
            if start <= at < end:
                body = bytes(out[start + 4 : end - 4])
                out[end - 4 : end] = struct.pack(">I", zlib.crc32(body))
    return detail, bytes(out)


def mutate(fmt: str, data: bytes, rng: random.Random, kind: str | None = None) -> Mutant:
    kind = kind or rng.choices(KINDS, weights=(4, 2, 4))[0]
    if kind == "flip":
        detail, out = flip(data, rng)
    elif kind == "truncate":
        detail, out = truncate(data, rng)
    else:
        detail, out = header(fmt, data, rng)
    return Mutant(fmt, kind, detail, out)


def mutants(seeds: dict[str, list[Path]], per_format: int, seed: int = 16) -> list[Mutant]:
    """`per_format` distinct mutants of each format, taken in turn from its seeds (a mutation that changes
    nothing, or repeats one, is drawn again)."""
    out = []
    for fmt in FORMATS:
        rng = random.Random(f"{seed}:{fmt}")
        sources = [p.read_bytes() for p in seeds[fmt]]
        seen = set(sources)
        made = 0
        while made < per_format:
            mutant = mutate(fmt, sources[made % len(sources)], rng)
            if mutant.data in seen or not mutant.data:
                continue
            seen.add(mutant.data)
            out.append(mutant)
            made += 1
    return out


def write_mutants(directory: Path, mutants_: list[Mutant]) -> list[tuple[Path, Mutant]]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for index, mutant in enumerate(mutants_):
        path = directory / f"m{index:04d}-{mutant.fmt}-{mutant.kind}{SUFFIX[mutant.fmt]}"
        path.write_bytes(mutant.data)
        written.append((path, mutant))
    return written
