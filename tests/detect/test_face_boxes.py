"""Face boxes in the verdict: where the faces the face detectors scored are, with each face's own score."""

from __future__ import annotations

import pytest
from PIL import Image

from detect.base import Task
from tests.detect.ens_helpers import CORPUS, needs_corpus
from tests.detect.test_video import _Ramp, clip  # noqa: F401  (clip: the module's moving-face video fixture)

pytestmark = [pytest.mark.corpus, needs_corpus]


def _face_detectors(analyzer) -> set[str]:
    return {d.card.name for d in analyzer.set.face if d.card.task is Task.FACE}


@pytest.fixture(scope="module")
def two_people(analyzer):
    path = CORPUS / "images/real/two_people.jpg"
    return path, analyzer.analyze_file(path)


def test_every_face_found_has_a_box_inside_the_picture(two_people):
    path, report = two_people
    with Image.open(path) as img:
        width, height = img.size
    assert report.faces >= 2 and len(report.face_boxes) == report.faces
    for face in report.face_boxes:
        x0, y0, x1, y1 = face.box
        assert 0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height, face
        assert (x1 - x0) >= 20 and (y1 - y0) >= 20  # a face, not a speck
        assert face.frame is None and face.score is not None and 0.0 <= face.score <= 1.0
    as_dict = report.to_dict()
    assert as_dict["faces"] == len(as_dict["face_boxes"])  # the count stays, the boxes come beside it
    assert all(len(b["box"]) == 4 and "frame" not in b for b in as_dict["face_boxes"])


def test_a_face_score_is_the_fusion_of_the_face_detectors_on_that_face(analyzer):
    """With one face, the max over faces is that face: its own score is the face detectors' fusion of the report's scores."""
    report = analyzer.analyze_image(Image.open(CORPUS / "images/real/obama.jpg").convert("RGB"))
    assert report.faces == 1 and len(report.face_boxes) == 1
    face_scores = {d.name: d.score for d in report.detectors if d.name in _face_detectors(analyzer) and not d.skipped}
    assert face_scores, "no face detector scored the face"
    assert report.face_boxes[0].score == pytest.approx(analyzer.ensemble.fuse(face_scores))


def test_a_sideways_stored_portrait_gets_boxes_on_the_upright_picture(analyzer, tmp_path):
    photo = Image.open(CORPUS / "images/real/obama.jpg").convert("RGB")
    exif = Image.Exif()
    exif[0x0112] = 6  # stored turned, shown upright
    path = tmp_path / "phone.jpg"
    photo.transpose(Image.Transpose.ROTATE_90).save(path, exif=exif, quality=95)
    (upright,) = analyzer.analyze_image(photo).face_boxes
    (stored,) = analyzer.analyze_file(path).face_boxes
    assert stored.box == pytest.approx(upright.box, abs=photo.width * 0.03)


def test_a_video_names_the_boxes_of_the_frames_behind_its_score(clip):  # noqa: F811
    import torch

    from detect.analyze import Analyzer
    from detect.detectors import DetectorSet
    from detect.ensemble import EnsembleConfig
    from detect.faces import find_faces

    detectors = DetectorSet(
        image=[],
        face=[_Ramp("up", True)],
        unavailable=[],
        device=torch.device("cpu"),
        ensemble=EnsembleConfig(weights={"up": 1.0}),
        find_faces=find_faces,
        batch_sizes={"up": 64},
    )
    report = Analyzer(detectors).analyze_file(clip)
    assert report.faces == 1 and report.frames
    assert [b.frame for b in report.face_boxes] == list(report.frames)  # one face in each frame named
    for face in report.face_boxes:
        x0, y0, x1, y1 = face.box
        assert 0 <= x0 < x1 <= 320 and 0 <= y0 < y1 <= 240
        # The face drifts right 3 px a frame from x = 40 (see test_video's clip): the box follows it.
        assert abs((x0 + x1) / 2 - (40 + 3 * face.frame + 60)) < 25
        assert face.score is not None and 0.0 < face.score < 1.0
    assert all("frame" in b for b in report.to_dict()["face_boxes"])
