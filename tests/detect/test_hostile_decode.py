"""Hostile media on the detection side (issue 16): bounded frames, budgets, one file's failure stays its own."""

from __future__ import annotations

import pytest
import torch
from PIL import Image

import detect.analyze as analyze_module
import detect.video as video_module
from detect.analyze import AnalysisError, Analyzer, decode_image
from detect.detectors import DetectorSet
from detect.ensemble import EnsembleConfig
from detect.video import VideoError, sample_frames
from tests.pipeline.hostile_media import mkv_with_duration, video


def _bare_analyzer() -> Analyzer:
    """No detectors at all: the decoding and the bookkeeping around it are what is tested."""
    return Analyzer(
        DetectorSet(image=[], face=[], unavailable=[], device=torch.device("cpu"),
                    ensemble=EnsembleConfig(weights={}), find_faces=None, batch_sizes={})
    )


def test_sampled_frames_are_scaled_to_the_budget(tmp_path, monkeypatch):
    clip = video(tmp_path / "clip.mp4", frames=10, size=(160, 120))
    monkeypatch.setattr(video_module, "FRAME_PIXELS", 4_800)
    frames = sample_frames(clip, 4)
    assert len(frames) == 4
    assert all(f.image.width * f.image.height <= 4_800 for f in frames)
    assert frames[0].image.width / frames[0].image.height == pytest.approx(160 / 120, rel=0.05)


def test_small_frames_keep_their_pixels(tmp_path):
    clip = video(tmp_path / "clip.mp4", frames=4, size=(160, 120))
    assert {f.image.size for f in sample_frames(clip, 4)} == {(160, 120)}


def test_time_budget(tmp_path, monkeypatch):
    clip = video(tmp_path / "clip.mp4", frames=10)
    monkeypatch.setattr(video_module, "DECODE_SECONDS", 0.0)
    with pytest.raises(VideoError, match="longer than"):
        sample_frames(clip, 4)


def test_lying_duration_still_gives_frames(tmp_path):
    frames = sample_frames(mkv_with_duration(tmp_path / "d.mkv", 1e12, frames=6), 4)
    assert 1 <= len(frames) <= 4


@pytest.mark.parametrize("exc", [RuntimeError("decoder bug"), IndexError("x"), MemoryError()])
def test_unexpected_decoder_errors_are_video_errors(tmp_path, monkeypatch, exc):
    clip = video(tmp_path / "clip.mp4", frames=10)

    def explode(*args, **kwargs):
        raise exc

    monkeypatch.setattr(video_module, "_decode_through", explode)
    with pytest.raises(VideoError, match="clip.mp4"):
        sample_frames(clip, 4)


def test_images_beyond_the_pixel_limit_are_refused_before_decoding(tmp_path, monkeypatch):
    path = tmp_path / "p.png"
    Image.new("RGB", (300, 200), (10, 20, 30)).save(path)
    monkeypatch.setattr(analyze_module, "MAX_PIXELS", 50_000)
    with pytest.raises(AnalysisError, match="beyond the limit"):
        decode_image(path)


def test_a_crashing_video_does_not_stop_the_batch(tmp_path, monkeypatch):
    good = video(tmp_path / "good.mp4", frames=6)
    bad = video(tmp_path / "bad.mp4", frames=6)
    still = tmp_path / "still.png"
    Image.new("RGB", (96, 96), (200, 10, 10)).save(still)
    real = video_module.sample_frames

    def flaky(path, count=16):
        if path.name == "bad.mp4":
            raise RuntimeError("unexpected failure inside a decoder")
        return real(path, count)

    monkeypatch.setattr(video_module, "sample_frames", flaky)
    verdicts = _bare_analyzer().analyze_files([good, bad, still], workers=0)
    assert [v.path for v in verdicts] == [good, bad, still]
    assert verdicts[0].report is not None and verdicts[2].report is not None
    assert verdicts[1].report is None and "bad.mp4" in verdicts[1].error and "\n" not in verdicts[1].error


def test_a_still_whose_decoding_crashes_does_not_stop_the_batch(tmp_path, monkeypatch):
    good, bad = tmp_path / "good.png", tmp_path / "bad.png"
    Image.new("RGB", (96, 96), (10, 200, 10)).save(good)
    Image.new("RGB", (96, 96), (10, 10, 200)).save(bad)
    import detect.batch as batch_module

    real = batch_module.decode_image

    def flaky(path, tile_sizes=()):
        if path.name == "bad.png":
            raise RuntimeError("unexpected failure inside a decoder")
        return real(path, tile_sizes)

    monkeypatch.setattr(batch_module, "decode_image", flaky)
    verdicts = _bare_analyzer().analyze_files([bad, good], workers=0)
    assert verdicts[0].report is None and "bad.png" in verdicts[0].error and "RuntimeError" in verdicts[0].error
    assert verdicts[1].report is not None
