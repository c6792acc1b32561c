"""Face tracking and per-video aggregation over the media's one frame sample, on videos encoded here and the corpus clips."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from detect.faces import find_faces
from detect.faces.face import Face
from detect.video import Track, aggregate, score_tracks, track_faces
from provenance.media import VIDEO_FRAMES, MediaError, load_media

DATA = Path(__file__).resolve().parent / "data"
CORPUS = Path(__file__).resolve().parents[2] / "../shared/corpus"
needs_corpus = pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus is not present")

FRAMES = 50


def _marker(index: int) -> int:
    return 20 + 4 * index  # grey level of the corner block that numbers each frame


def _frame_image(index: int, face: Image.Image) -> Image.Image:
    canvas = Image.new("RGB", (320, 240), (90, 110, 90))
    canvas.paste(face, (40 + 3 * index, 40))  # the face drifts right, 3 px a frame
    canvas.paste(Image.new("RGB", (24, 24), (_marker(index),) * 3), (0, 0))
    return canvas


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    """50 frames at 25 fps: a real face moving across, frame numbers written in the corner."""
    face = Image.open(DATA / "astronaut.jpg").crop((150, 30, 300, 200)).resize((120, 136))
    path = tmp_path_factory.mktemp("video") / "clip.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25, options={"crf": "12"})
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        for index in range(FRAMES):
            frame = av.VideoFrame.from_image(_frame_image(index, face))
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def _number(image: Image.Image) -> int:
    level = float(np.asarray(image)[4:20, 4:20].mean())
    return int(round((level - 20) / 4))


def test_the_one_sample_is_spread_over_the_clip_and_numbers_its_frames(clip) -> None:
    media = load_media(clip)
    frames = media.sample
    assert (media.frame_count, media.width, media.height) == (FRAMES, 320, 240)
    indices = [f.index for f in frames]
    assert len(indices) == VIDEO_FRAMES and indices == sorted(set(indices))
    assert indices[0] <= 2 and indices[-1] >= FRAMES - 3  # from the start to the end
    assert [_number(f.image) for f in frames] == indices  # the index is the frame's number in the stream
    assert all(f.time == pytest.approx(f.index / 25, abs=1e-3) for f in frames)


def test_unreadable_files_are_media_errors(tmp_path) -> None:
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x01" * 500)
    with pytest.raises(MediaError):
        load_media(junk)
    with pytest.raises(MediaError):
        load_media(tmp_path / "absent.mp4")


def _face(box) -> Face:
    x1, y1, x2, y2 = box
    eyes = ((x1 + 0.3 * (x2 - x1), y1 + 0.4 * (y2 - y1)), (x1 + 0.7 * (x2 - x1), y1 + 0.4 * (y2 - y1)))
    rest = (
        (x1 + 0.5 * (x2 - x1), y1 + 0.6 * (y2 - y1)),
        (x1 + 0.35 * (x2 - x1), y1 + 0.8 * (y2 - y1)),
        (x1 + 0.65 * (x2 - x1), y1 + 0.8 * (y2 - y1)),
    )
    return Face(box=box, landmarks=eyes + rest, confidence=1.0, image=Image.new("RGB", (1, 1)))


def test_tracks_follow_moving_faces_and_split_distinct_people() -> None:
    left = [_face((10 + 5 * i, 10, 60 + 5 * i, 70)) for i in range(4)]
    right = [_face((200, 20 + 4 * i, 250, 80 + 4 * i)) for i in range(4)]
    detections = [(0, [left[0], right[0]]), (10, [right[1], left[1]]), (20, [left[2]]), (30, [left[3], right[3]])]
    tracks = track_faces(detections)
    by_first = {t.faces[0][1].box: t for t in tracks}
    assert by_first[left[0].box].frames == (0, 10, 20, 30)
    assert [f.box for _, f in by_first[left[0].box].faces] == [f.box for f in left]
    # The right face is missed at frame 20 and has moved less than its width by frame 30: still one track.
    assert by_first[right[0].box].frames == (0, 10, 30)
    assert len(tracks) == 2


def test_aggregate_takes_the_worst_consistent_track_and_names_its_frames() -> None:
    a = Track(0, tuple((i, _face((0, 0, 10, 10))) for i in (0, 10, 20, 30)))
    b = Track(1, tuple((i, _face((50, 0, 60, 10))) for i in (0, 10, 20)))
    fluke = Track(2, ((20, _face((90, 0, 99, 10))),))  # one frame only: ignored
    scores = {(0, 0): 0.1, (0, 10): 0.2, (0, 20): 0.1, (0, 30): 0.2, (1, 0): 0.7, (1, 10): 0.9, (1, 20): 0.8, (2, 20): 0.99}
    score, frames = aggregate([a, b, fluke], scores)
    assert score == pytest.approx(0.8)
    assert frames == (10, 20, 0)


def test_tracked_faces_are_scored_in_one_batch_and_name_the_frames_that_drove_it(clip) -> None:
    # The real face finder runs on the decoded frames; the scorer reads where it
    # found the face, which drifts right, so later frames score higher.
    seen = []

    def scorer(faces):
        seen.append(len(faces))
        return [float(face.box[0]) / 320 for face in faces]

    frames = load_media(clip).sample
    indices = [frame.index for frame in frames]
    tracks = track_faces([(frame.index, find_faces(frame.image)) for frame in frames])
    assert len(tracks) == 1
    scores = score_tracks(tracks, scorer)
    assert seen == [len(frames)]  # every face scored in one batch
    assert sorted(index for _, index in scores) == indices
    score, driving = aggregate(tracks, scores)
    assert driving == tuple(indices[-3:][::-1])
    assert score == pytest.approx(np.mean(list(scores.values())))


def _faceless_clip(path: Path, size: tuple[int, int], frames: int, codec: str) -> Path:
    """Flat frames of a slowly changing colour, at 10 fps: no face anywhere."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=10)
        stream.width, stream.height, stream.pix_fmt = *size, "yuv420p"
        for i in range(frames):
            for packet in stream.encode(av.VideoFrame.from_image(Image.new("RGB", size, (10 * i, 50, 90)))):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def test_video_without_faces_has_no_tracks(tmp_path) -> None:
    path = _faceless_clip(tmp_path / "plain.mp4", (64, 48), 5, "mpeg4")
    frames = load_media(path).sample
    assert frames
    assert track_faces([(frame.index, find_faces(frame.image)) for frame in frames]) == []
    with pytest.raises(ValueError, match="no face tracks"):
        aggregate([], {})


@pytest.mark.corpus
@pytest.mark.slow
@needs_corpus
def test_faceforensics_clip_gives_one_face_track() -> None:
    frames = load_media(CORPUS / "video/real/ffpp_004.mp4").sample
    assert len(frames) == VIDEO_FRAMES
    tracks = track_faces([(f.index, find_faces(f.image, max_side=640)) for f in frames])
    longest = max(tracks, key=lambda t: len(t.faces))
    assert longest.frames == tuple(f.index for f in frames)


class _Ramp:
    """A face-crop detector whose scores rise (or fall) with the order of the crops it is given."""

    def __init__(self, name: str, rising: bool):
        from detect.base import ModelCard, Task

        self.card = ModelCard(name, "1", Task.FACE, (64, 64), None, "test", "test")
        self.rising = rising

    def score(self, batch):
        import torch

        ramp = torch.linspace(0.1, 0.9, len(batch))
        return ramp if self.rising else ramp.flip(0)


@pytest.mark.parametrize("weighted, expected_late", [("up", True), ("down", False)])
def test_video_verdict_names_the_frames_the_weighted_detectors_drove(clip, weighted, expected_late) -> None:
    import torch

    from detect.analyze import Analyzer
    from detect.detectors import DetectorSet
    from detect.ensemble import EnsembleConfig
    from detect.video_analysis import TOP_FRAMES

    weights = {"up": 0.0, "down": 0.0} | {weighted: 1.0}
    detectors = DetectorSet(
        image=[],
        face=[_Ramp("up", True), _Ramp("down", False)],
        unavailable=[],
        device=torch.device("cpu"),
        ensemble=EnsembleConfig(weights=weights),
        find_faces=find_faces,
        batch_sizes={"up": 64, "down": 64},
    )
    report = Analyzer(detectors).analyze_file(clip)
    sampled = [f.index for f in load_media(clip).sample]  # the frames a certificate of the clip hashes
    assert len(report.frames) == TOP_FRAMES
    expected = sampled[-TOP_FRAMES:][::-1] if expected_late else sampled[:TOP_FRAMES]
    assert list(report.frames) == expected  # the zero-weight detector does not pick them
    assert {d.name for d in report.detectors} == {"up", "down"}


class _Constant:
    """A whole-image detector that scores every tile the same."""

    def __init__(self, value: float):
        from detect.base import ModelCard, Task

        self.card = ModelCard("flat", "1", Task.IMAGE, (64, 64), None, "test", "test")
        self.value = value

    def score(self, batch):
        import torch

        return torch.full((len(batch),), self.value)


def _set_with_video_rule():
    import torch

    from detect.detectors import DetectorSet
    from detect.ensemble import EnsembleConfig

    # Stills: the whole-image detector and the falling face detector; videos with faces: the rising one alone.
    video = EnsembleConfig(weights={"flat": 0.0, "down": 0.0, "up": 1.0}, low=0.2, threshold=0.3, high=0.4, rule="video")
    still = EnsembleConfig(weights={"flat": 1.0, "down": 1.0, "up": 0.0}, low=0.45, threshold=0.5, high=0.55, video=video)
    return DetectorSet(
        image=[_Constant(0.2)],
        face=[_Ramp("up", True), _Ramp("down", False)],
        unavailable=[],
        device=torch.device("cpu"),
        ensemble=still,
        find_faces=find_faces,
        batch_sizes={"up": 64, "down": 64, "flat": 64},
    )


def test_a_video_with_faces_is_judged_by_the_video_rule_and_one_without_like_a_still(clip, tmp_path) -> None:
    from detect.analyze import Analyzer
    from detect.video_analysis import TOP_FRAMES

    detectors = _set_with_video_rule()
    video = detectors.ensemble.video
    report = Analyzer(detectors).analyze_file(clip)
    scores = {d.name: d.score for d in report.detectors if not d.skipped}
    assert set(scores) == {"flat", "up", "down"}
    assert report.threshold == video.threshold and report.score == pytest.approx(video.fuse(scores))
    # The frames named are those the video rule's detector drove (the rising one: the late frames).
    sampled = [f.index for f in load_media(clip).sample]
    assert list(report.frames) == sampled[-TOP_FRAMES:][::-1]

    plain = _faceless_clip(tmp_path / "plain.mp4", (128, 96), 12, "libx264")
    report = Analyzer(detectors).analyze_file(plain)
    assert report.threshold == detectors.ensemble.threshold  # no face: fused like a still
    assert report.score == pytest.approx(detectors.ensemble.fuse({"flat": 0.2}))
