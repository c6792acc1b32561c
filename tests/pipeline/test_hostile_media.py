"""Hostile media (issue 16): lying headers, oversized pictures, decoders that fail.

Every decoding failure is one file's clear error (never a traceback, never the
end of a run), and decoding keeps to a memory, frame and time budget. The
files are crafted here and kept tiny; the budgets are lowered per test where a
real oversized file would be slow. bench/bench_hostile_media.py measures the
real thing (peak RSS and seconds of an 8000x8000 video, a 9400x9400 PNG).
"""

from __future__ import annotations

import pytest
from PIL import Image

import provenance.media as media_module
from provenance.hashing.distance import phash_distance
from provenance.media import MediaError, load_media
from provenance.perceptual import perceptual_hashes
from scripts.make_samples import scene

from .cli_helpers import json_out, run_cli
from .conftest import make_photo
from .hostile_media import mkv_with_duration, png_header, video


@pytest.fixture
def long_mkv(tmp_path):
    return mkv_with_duration(tmp_path / "duration.mkv", 1e12, frames=6)


# ---- a Duration header of 1e12 ---------------------------------------------


def test_absurd_declared_duration_still_samples_the_frames(long_mkv):
    media = load_media(long_mkv)
    assert media.kind == "video" and media.frame_count == 6
    # The frames are sampled by number when the header's duration cannot be right.
    assert 3 <= len(media.frames) <= 6
    assert len({frame.tobytes() for frame in media.frames}) == len(media.frames)  # distinct frames, not one repeated
    assert media.duration_s < 10  # measured from the frames, not the header's 31,700 years
    hashes = perceptual_hashes(media)
    assert len(hashes["frames"]) == len(media.frames)


def test_absurd_duration_sample_is_spread_over_the_clip_by_frame_number(long_mkv):
    media = load_media(long_mkv)
    indices = [frame.index for frame in media.sample]
    assert indices == sorted(set(indices)) and indices[0] <= 1 and indices[-1] >= 4
    assert len({frame.time for frame in media.sample}) == len(indices)


def test_hash_command_survives_absurd_duration_and_isolates_bad_files(long_mkv, tmp_path):
    good = make_photo(tmp_path / "good.png", seed=21)
    cut = tmp_path / "cut.mp4"
    data = video(tmp_path / "clip.mp4", frames=30).read_bytes()
    cut.write_bytes(data[: len(data) // 3])
    proc = run_cli("hash", "--json", long_mkv, cut, good)
    assert "Traceback" not in proc.stderr + proc.stdout
    assert proc.returncode == 1  # the truncated file
    records = json_out(proc)
    assert [r["file"] for r in records] == [str(long_mkv), str(cut), str(good)]
    assert records[0]["frames"] and "error" not in records[0]
    assert "\n" not in records[1]["error"]
    assert records[2]["phash"]


# ---- any decoder failure is the file's error ---------------------------------


def _clip(tmp_path):
    return video(tmp_path / "clip.mp4", frames=8)


def _photo(tmp_path):
    return make_photo(tmp_path / "p.png", seed=2)


@pytest.mark.parametrize(
    "make, decoder, exc",
    [
        (_clip, "_sample_frames", IndexError("tuple index out of range")),
        (_clip, "_sample_frames", RuntimeError("boom")),
        (_clip, "_sample_frames", MemoryError()),
        (_photo, "_bounded", RuntimeError("decoder bug")),
        (_photo, "_bounded", MemoryError()),
    ],
)
def test_unexpected_decoder_errors_become_media_errors(tmp_path, monkeypatch, make, decoder, exc):
    path = make(tmp_path)

    def explode(*args, **kwargs):
        raise exc

    monkeypatch.setattr(media_module, decoder, explode)
    with pytest.raises(MediaError) as info:
        load_media(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_hashing_failure_is_a_media_error(tmp_path, monkeypatch):
    import provenance.perceptual as perceptual

    media = load_media(make_photo(tmp_path / "p.png", seed=2))

    def explode(*args, **kwargs):
        raise ValueError("pdq failed")

    monkeypatch.setattr(perceptual, "image_hashes", explode)
    with pytest.raises(MediaError, match="p.png"):
        perceptual_hashes(media)


# ---- memory budget ---------------------------------------------------------------


@pytest.mark.parametrize("fmt, suffix", [("PNG", ".png"), ("JPEG", ".jpg"), ("WEBP", ".webp")])
def test_large_images_are_kept_at_a_bounded_size(tmp_path, monkeypatch, fmt, suffix):
    path = tmp_path / f"big{suffix}"
    scene(seed=8, size=(640, 480)).save(path, format=fmt, quality=95) if fmt != "PNG" else scene(seed=8, size=(640, 480)).save(path)
    full = perceptual_hashes(load_media(path))
    monkeypatch.setattr(media_module, "WORK_PIXELS", 40_000)
    media = load_media(path)
    assert (media.width, media.height) == (640, 480)  # what the file is
    frame = media.first_frame
    assert frame.mode == "RGB" and frame.width * frame.height <= 40_000
    assert frame.width / frame.height == pytest.approx(640 / 480, rel=0.05)
    reduced = perceptual_hashes(media)
    assert phash_distance(full["phash"], reduced["phash"]) <= 6


def test_small_images_are_not_resampled(tmp_path):
    path = make_photo(tmp_path / "p.png", seed=3)
    with Image.open(path) as original:
        assert load_media(path).first_frame.tobytes() == original.convert("RGB").tobytes()


def test_video_frames_are_kept_at_a_bounded_size(tmp_path, monkeypatch):
    clip = video(tmp_path / "clip.mp4", frames=10, size=(160, 120))
    full = load_media(clip)
    monkeypatch.setattr(media_module, "FRAME_PIXELS", 4_800)
    media = load_media(clip)
    assert (media.width, media.height) == (160, 120)
    assert all(f.width * f.height <= 4_800 for f in media.frames)
    assert len(media.frames) == len(full.frames) and media.frame_count == 10


# ---- frame, pixel and time budgets ------------------------------------------------


def test_frame_budget(tmp_path, monkeypatch):
    clip = video(tmp_path / "clip.mp4", frames=12)
    monkeypatch.setattr(media_module, "MAX_VIDEO_FRAMES", 5)
    with pytest.raises(MediaError, match="more than 5 frames"):
        load_media(clip)


def test_pixel_budget_counts_frames(tmp_path, monkeypatch):
    clip = video(tmp_path / "clip.mp4", frames=12)  # 64x48
    monkeypatch.setattr(media_module, "MAX_VIDEO_PIXELS", 64 * 48 * 6)
    with pytest.raises(MediaError, match="pixel budget"):
        load_media(clip)


def test_time_budget(tmp_path, monkeypatch):
    clip = video(tmp_path / "clip.mp4", frames=12)
    monkeypatch.setattr(media_module, "DECODE_SECONDS", 0.0)
    with pytest.raises(MediaError, match="longer than"):
        load_media(clip)


def test_header_claiming_huge_dimensions_is_refused_before_decoding(tmp_path):
    with pytest.raises(MediaError, match="beyond the limit|too large"):
        load_media(png_header(tmp_path / "claims.png", 20_000, 20_000))


# ---- the commands, end to end ---------------------------------------------------


@pytest.mark.slow
def test_mint_and_verify_survive_absurd_duration(parts, long_mkv, tmp_path):
    good = make_photo(tmp_path / "good.png", seed=22)
    proc = run_cli("mint", "--no-detect", "--json", long_mkv, good)
    assert "Traceback" not in proc.stderr + proc.stdout
    assert proc.returncode == 0, proc.stderr
    results = json_out(proc)
    assert [r["file"] for r in results] == [str(long_mkv), str(good)]
    assert all(r["token_id"] for r in results)
    check = run_cli("verify", "--json", long_mkv)
    assert "Traceback" not in check.stderr + check.stdout
    assert check.returncode == 0, check.stdout + check.stderr


@pytest.mark.slow
def test_mint_isolates_a_file_whose_decoder_fails(parts, tmp_path):
    good = make_photo(tmp_path / "good.png", seed=23)
    cut = tmp_path / "cut.mkv"
    data = mkv_with_duration(tmp_path / "whole.mkv", 1e12, frames=20).read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    proc = run_cli("mint", "--no-detect", "--json", "--batch", "5", cut, good)
    assert "Traceback" not in proc.stderr + proc.stdout
    results = json_out(proc)
    assert results[1]["token_id"]
    if "error" in results[0]:
        assert proc.returncode == 1 and "\n" not in results[0]["error"]
