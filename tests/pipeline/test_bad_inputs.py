"""Bad inputs: a clear one-line message, a non-zero exit, no traceback, nothing recorded changed."""

from __future__ import annotations

import os
import struct
import zlib

import pytest
from PIL import Image

from provenance.ledger import Ledger

from .cli_helpers import json_out, run_cli
from .conftest import make_photo


def _png_with_header(path, width, height):
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))
    return path


def _video(path, frames=30, codec="mpeg4"):
    import av
    import numpy as np

    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for i in range(frames):
            img = np.full((48, 64, 3), i * 8 % 255, dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


@pytest.fixture
def bad_files(tmp_path):
    good = make_photo(tmp_path / "good.png", seed=5)
    d = tmp_path / "bad"
    d.mkdir()
    files = {}
    files["zero-byte"] = d / "empty.jpg"
    files["zero-byte"].write_bytes(b"")
    raw = good.read_bytes()
    files["truncated image"] = d / "truncated.png"
    files["truncated image"].write_bytes(raw[: len(raw) // 2])
    video = _video(tmp_path / "clip.mp4").read_bytes()
    files["truncated video"] = d / "truncated.mp4"
    files["truncated video"].write_bytes(video[: len(video) // 3])
    files["not media"] = d / "notes.jpg"
    files["not media"].write_text("this is a text file with a media extension\n")
    bomb = d / "bomb.png"
    Image.new("1", (12_000, 12_000)).save(bomb)  # 144 Mpx, a few KiB on disk
    files["decompression bomb"] = bomb
    files["absurd dimensions"] = _png_with_header(d / "huge.png", 2**31 - 1, 2**31 - 1)
    files["directory"] = d / "adir.png"
    files["directory"].mkdir()
    files["fifo"] = d / "pipe.png"
    os.mkfifo(files["fifo"])
    (d / "loop_a.png").symlink_to(d / "loop_b.png")
    (d / "loop_b.png").symlink_to(d / "loop_a.png")
    files["symlink loop"] = d / "loop_a.png"
    files["missing"] = d / "missing.png"
    return good, files


@pytest.mark.slow
def test_bad_inputs_are_refused_without_damage(parts, bad_files):
    good, files = bad_files
    first = run_cli("mint", "--no-detect", "--json", good)
    assert first.returncode == 0, first.stderr
    ledger = Ledger.open(parts.settings.ledger_url)
    before = [(r.content_sha256, r.metadata_digest) for r in ledger.certificates()]

    proc = run_cli("mint", "--no-detect", "--json", *files.values())
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr + proc.stdout
    results = json_out(proc)
    assert len(results) == len(files)
    for (what, path), result in zip(files.items(), results):
        assert result["file"] == str(path)
        message = result["error"]
        assert message and "\n" not in message, (what, message)

    human = run_cli("mint", "--no-detect", *files.values())
    assert human.returncode == 1 and "Traceback" not in human.stderr
    assert len([line for line in human.stderr.splitlines() if line.startswith("✗")]) == len(files)

    check = run_cli("verify", *files.values())
    assert check.returncode == 1 and "Traceback" not in check.stderr + check.stdout

    assert [(r.content_sha256, r.metadata_digest) for r in Ledger.open(parts.settings.ledger_url).certificates()] == before
    assert run_cli("verify", good).returncode == 0


@pytest.mark.slow
def test_one_bad_file_does_not_stop_the_others(parts, bad_files, tmp_path):
    good, files = bad_files
    other = make_photo(tmp_path / "other.png", seed=6)
    proc = run_cli("mint", "--no-detect", "--json", files["truncated image"], good, other)
    assert proc.returncode == 1
    results = json_out(proc)
    assert "error" in results[0]
    assert results[1]["token_id"] and results[2]["token_id"]
