"""Video frame hashes (the media's one frame sample, hashed) and the alignment-tolerant distance."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from provenance.hashing import DEFAULT_PHASH_THRESHOLD
from provenance.hashing.frames import FrameHash, VideoHashes, video_distance
from provenance.media import VIDEO_FRAMES, MediaError, load_media
from provenance.perceptual import perceptual_hashes

from .conftest import photo_like


def _write_clip(path: Path, scenes: list[int], seconds_per_scene: float = 1.0, fps: int = 10, codec: str = "mpeg4") -> Path:
    """A clip of still-ish scenes (made pictures, slowly panning), encoded with PyAV."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = 160, 120, "yuv420p"
        for seed in scenes:
            base = np.asarray(photo_like(seed, (200, 120)))
            for i in range(int(seconds_per_scene * fps)):
                frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(base[:, i : i + 160]), format="rgb24")
                container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def _transcode(source: Path, target: Path, skip_seconds: float = 0.0, codec: str = "libx264", bit_rate: int = 300_000) -> Path:
    """Re-encode (and optionally trim the start of) a clip with PyAV, halving its size."""
    with av.open(str(source)) as src, av.open(str(target), "w") as dst:
        in_stream = src.streams.video[0]
        rate = in_stream.average_rate or Fraction(25)
        out = dst.add_stream(codec, rate=rate)
        out.width, out.height = in_stream.width // 2 // 2 * 2, in_stream.height // 2 // 2 * 2
        out.pix_fmt, out.bit_rate = "yuv420p", bit_rate
        out.codec_context.time_base = 1 / Fraction(rate)
        start, written = None, 0
        for frame in src.decode(in_stream):
            start = frame.time if start is None else start
            if frame.time - start < skip_seconds:
                continue
            small = frame.reformat(width=out.width, height=out.height, format="yuv420p")
            small.pts, small.time_base = written, out.codec_context.time_base
            written += 1
            dst.mux(out.encode(small))
        dst.mux(out.encode(None))
    return target


def video_hashes(path: Path) -> VideoHashes:
    """The clip's sampled frames hashed as a certificate carries them (`perceptual.frames`)."""
    media = load_media(path)
    rows = perceptual_hashes(media)["frames"]
    frames = tuple(FrameHash(f.time, r["phash"], r["pdq"], r["pdq_quality"]) for f, r in zip(media.sample, rows))
    return VideoHashes(media.duration_s or 0.0, frames)


def test_made_clip_copies_are_close_and_other_clips_far(tmp_path):
    original = _write_clip(tmp_path / "a.mp4", [1, 2, 3, 4])
    hashes = video_hashes(original)
    assert len(hashes.frames) == VIDEO_FRAMES
    assert [f.timestamp for f in hashes.frames] == sorted(f.timestamp for f in hashes.frames)
    reencoded = video_hashes(_transcode(original, tmp_path / "b.mp4"))
    trimmed = video_hashes(_transcode(original, tmp_path / "c.mp4", skip_seconds=1.5))
    other = video_hashes(_write_clip(tmp_path / "d.mp4", [7, 8, 9, 10]))
    assert video_distance(hashes, hashes) == 0
    assert video_distance(hashes, reencoded) <= DEFAULT_PHASH_THRESHOLD
    assert video_distance(hashes, trimmed) <= DEFAULT_PHASH_THRESHOLD
    assert video_distance(hashes, other) > DEFAULT_PHASH_THRESHOLD


def test_unreadable_videos_raise_project_error(tmp_path):
    (tmp_path / "x.mp4").write_bytes(b"not a video at all")
    for path in (tmp_path / "missing.mp4", tmp_path / "x.mp4"):
        with pytest.raises(MediaError):
            video_hashes(path)


def test_distance_needs_frames_on_both_sides():
    one = VideoHashes(1.0, (FrameHash(0.0, "0" * 16, "0" * 64, 100),))
    with pytest.raises(ValueError, match="at least one hashed frame"):
        video_distance(one, VideoHashes(0.0, ()))


@pytest.mark.corpus
@pytest.mark.slow
def test_corpus_clip_reencoded_and_trimmed(corpus, tmp_path):
    clip = corpus / "video/real/short_hamilton_clip.mp4"
    unrelated = corpus / "video/real/ffpp_004.mp4"
    original = video_hashes(clip)
    reencoded = video_hashes(_transcode(clip, tmp_path / "re.mp4"))
    trimmed = video_hashes(_transcode(clip, tmp_path / "trim.mp4", skip_seconds=3.0))
    assert video_distance(original, reencoded) <= DEFAULT_PHASH_THRESHOLD
    assert video_distance(original, trimmed) <= DEFAULT_PHASH_THRESHOLD
    assert video_distance(original, video_hashes(unrelated)) > DEFAULT_PHASH_THRESHOLD
