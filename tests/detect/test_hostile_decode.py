"""Hostile media on the detection side (issue 16): bounded frames, budgets, one file's failure stays its own."""

from __future__ import annotations

import pytest
import torch
from PIL import Image

import detect.stills as stills_module
import provenance.media as media_module
from detect.analyze import AnalysisError, Analyzer
from detect.detectors import DetectorSet
from detect.ensemble import EnsembleConfig
from detect.stills import decode_image
from tests.pipeline.hostile_media import mkv_with_duration, video


def _bare_analyzer() -> Analyzer:
    """No detectors at all: the decoding and the bookkeeping around it are what is tested."""
    return Analyzer(
        DetectorSet(
            image=[],
            face=[],
            unavailable=[],
            device=torch.device("cpu"),
            ensemble=EnsembleConfig(weights={}),
            find_faces=None,
            batch_sizes={},
        )
    )


# Videos are sampled by provenance.media (the one sampler, with its frame, pixel and time budgets,
# tested in tests/pipeline/test_hostile_media.py); here: its failures are the file's AnalysisError.


def test_time_budget(tmp_path, monkeypatch):
    clip = video(tmp_path / "clip.mp4", frames=10)
    monkeypatch.setattr(media_module, "DECODE_SECONDS", 0.0)
    with pytest.raises(AnalysisError, match="longer than"):
        _bare_analyzer().analyze_file(clip)


def test_lying_duration_still_gives_frames(tmp_path):
    report = _bare_analyzer().analyze_file(mkv_with_duration(tmp_path / "d.mkv", 1e12, frames=6))
    assert 1 <= len(report.frames) <= 3


@pytest.mark.parametrize("exc", [RuntimeError("decoder bug"), IndexError("x"), MemoryError()])
def test_unexpected_decoder_errors_are_analysis_errors(tmp_path, monkeypatch, exc):
    clip = video(tmp_path / "clip.mp4", frames=10)

    def explode(*args, **kwargs):
        raise exc

    monkeypatch.setattr(media_module, "_sample_frames", explode)
    with pytest.raises(AnalysisError, match="clip.mp4"):
        _bare_analyzer().analyze_file(clip)


def test_images_beyond_the_pixel_limit_are_refused_before_decoding(tmp_path, monkeypatch):
    path = tmp_path / "p.png"
    Image.new("RGB", (300, 200), (10, 20, 30)).save(path)
    monkeypatch.setattr(stills_module, "MAX_PIXELS", 50_000)
    with pytest.raises(AnalysisError, match="beyond the limit"):
        decode_image(path)


def test_a_crashing_video_does_not_stop_the_batch(tmp_path, monkeypatch):
    good = video(tmp_path / "good.mp4", frames=6)
    bad = video(tmp_path / "bad.mp4", frames=6)
    still = tmp_path / "still.png"
    Image.new("RGB", (96, 96), (200, 10, 10)).save(still)
    real = media_module.load_media

    def flaky(path):
        if path.name == "bad.mp4":
            raise RuntimeError("unexpected failure inside a decoder")
        return real(path)

    monkeypatch.setattr(media_module, "load_media", flaky)
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
