"""Face boxes: signed into the certificate's detector verdict, read back from it (or a rescan), drawn on their picture."""

from __future__ import annotations

import copy
import json
import shutil

import pytest
from PIL import Image

from provenance.certify import Certifier, CertifyOptions
from provenance.metadata import MetadataError, validate
from provenance.scanning import DetectorScanner
from tests.detect.ens_helpers import CORPUS
from tests.detect.test_video import clip  # noqa: F401  (the moving-face video fixture)
from tests.pipeline.test_metadata import _doc

FACES = CORPUS / "images/real/two_people.jpg"
needs_faces = pytest.mark.skipif(not FACES.is_file(), reason="../shared/corpus is absent")


def with_boxes(doc: dict, boxes) -> dict:
    out = copy.deepcopy(doc)
    out["provenance"]["detection"]["face_boxes"] = boxes
    return out


def test_metadata_with_and_without_face_boxes_fits_the_schema():
    doc = _doc()
    assert "face_boxes" not in doc["provenance"]["detection"]
    validate(doc)  # an older certificate, without boxes
    validate(with_boxes(doc, []))
    validate(with_boxes(doc, [{"box": [1, 2, 3.5, 4], "score": 0.25}, {"box": [0, 0, 1, 1], "score": None}]))
    validate(with_boxes(_doc("video"), [{"box": [1, 2, 3, 4], "score": 0.5, "frame": 12}]))


@pytest.mark.parametrize(
    "boxes",
    [
        [{"box": [1, 2, 3], "score": 0.1}],
        [{"box": [1, 2, 3, 4], "score": 1.5}],
        [{"box": [-1, 2, 3, 4], "score": 0.1}],
        [{"box": [1, 2, 3, 4]}],
        [{"box": [1, 2, 3, 4], "score": 0.1, "frame": -1}],
        {"box": [1, 2, 3, 4], "score": 0.1},
    ],
)
def test_malformed_face_boxes_do_not_fit_the_schema(boxes):
    with pytest.raises(MetadataError, match="schema"):
        validate(with_boxes(_doc(), boxes))


def test_drawn_boxes_drop_what_is_malformed_and_clip_to_the_picture():
    from provenance.face_boxes import drawn

    entries = [
        {"box": [50, 25, 150, 75], "score": 0.5},
        {"box": [150, 50, 300, 120], "score": None},  # past the right edge: clipped
        {"box": [10, 10, 5, 20], "score": 0.1},  # empty
        {"box": ["1", 2, 3, 4], "score": 0.1},
        {"box": [1, 2, 3, 4], "score": 0.1, "frame": 3},  # a video frame's, not the still's
        "box",
    ]
    boxes = drawn(entries, (200, 100))
    assert [(b.left, b.top, b.width, b.height, b.score) for b in boxes] == [(25, 25, 50, 50, 0.5), (75, 50, 25, 50, None)]
    assert [b.frame for b in drawn(entries, (200, 100), frame=3)] == [3]
    assert drawn({"box": [1, 2, 3, 4]}, (200, 100)) == [] and drawn(entries, (0, 100)) == []


@pytest.fixture
def face_certified(parts, tmp_path):
    """two_people.jpg certified with the real detector ensemble; its signed detection."""
    photo = tmp_path / "two_people.jpg"
    shutil.copyfile(FACES, photo)
    (minted,) = Certifier(parts.chain, parts.store, parts.ledger, DetectorScanner()).certify([photo], CertifyOptions())
    assert minted.error is None, minted.error
    detection = json.loads(parts.store.cat(minted.metadata_cid))["provenance"]["detection"]
    return photo, minted, detection


def _box_shares(detection: dict, size: tuple[int, int]) -> list[tuple[float, float, float, float]]:
    w, h = size
    return [
        (100 * x0 / w, 100 * y0 / h, 100 * (x1 - x0) / w, 100 * (y1 - y0) / h)
        for x0, y0, x1, y1 in (b["box"] for b in detection["face_boxes"])
    ]


@needs_faces
def test_boxes_round_trip_through_the_signed_metadata_onto_their_picture(parts, face_certified, tmp_path):
    from provenance.server.render import build_view
    from provenance.server.service import VerificationService

    photo, minted, detection = face_certified
    with Image.open(photo) as img:
        size = img.size
    boxes = detection["face_boxes"]
    assert detection["faces"] >= 2 and len(boxes) == detection["faces"]
    for b in boxes:
        x0, y0, x1, y1 = b["box"]
        assert 0 <= x0 < x1 <= size[0] and 0 <= y0 < y1 <= size[1]
        assert 0.0 <= b["score"] <= 1.0

    service = VerificationService(parts.settings, parts)
    exact = build_view(service.verify_file(photo, photo.name), photo, service)
    assert exact.status == "verified" and exact.detection.source == "signed metadata"
    drawn = [(b.left, b.top, b.width, b.height) for b in exact.received.boxes]
    assert drawn == pytest.approx(_box_shares(detection, size))
    assert [b.score for b in exact.received.boxes] == [b["score"] for b in boxes]

    # A smaller copy: the boxes belong to the certified picture, drawn on it, not on the copy.
    copy_path = tmp_path / "smaller.jpg"
    with Image.open(photo) as img:
        img.resize((size[0] // 2, size[1] // 2)).save(copy_path, quality=88)
    modified = build_view(service.verify_file(copy_path, copy_path.name), copy_path, service)
    assert modified.status == "modified" and modified.certified is not None
    assert modified.received.boxes == []
    assert [(b.left, b.top, b.width, b.height) for b in modified.certified.boxes] == pytest.approx(_box_shares(detection, size))

    # With a rescan the boxes are the fresh scan's, of the copy itself, on the copy.
    rescanned = build_view(service.verify_file(copy_path, copy_path.name, rescan=True), copy_path, service)
    assert rescanned.detection.source == "rescan" and rescanned.certified.boxes == []
    assert len(rescanned.received.boxes) >= 2
    for signed in exact.received.boxes:  # the same faces, found again on the half-size copy (shares of its size)
        assert any(
            abs(f.left - signed.left) < 3 and abs(f.top - signed.top) < 3 and abs(f.width - signed.width) < 3
            for f in rescanned.received.boxes
        )


def test_a_video_gets_its_boxes_on_the_frames_behind_the_score(parts, clip):  # noqa: F811
    """The moving-face clip of tests/detect/test_video, certified with the detectors: each frame shown carries its face."""
    from provenance.server.render import build_view
    from provenance.server.service import VerificationService

    (minted,) = Certifier(parts.chain, parts.store, parts.ledger, DetectorScanner()).certify([clip], CertifyOptions())
    assert minted.error is None, minted.error
    detection = json.loads(parts.store.cat(minted.metadata_cid))["provenance"]["detection"]
    assert {b["frame"] for b in detection["face_boxes"]} == set(detection["frames"])
    service = VerificationService(parts.settings, parts)
    view = build_view(service.verify_file(clip, "clip.mp4"), clip, service)
    assert view.status == "verified" and view.frames
    for thumb in view.frames:
        index = int(thumb.caption.removeprefix("frame "))
        (box,) = thumb.boxes
        assert box.frame == index
        # The face is pasted at x = 40 + 3 px a frame, 120 px wide, in a 320 px frame (test_video's clip).
        assert abs((box.left + box.width / 2) - 100 * (40 + 3 * index + 60) / 320) < 8
