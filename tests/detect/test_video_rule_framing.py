"""The video rule is calibrated on faces framed as inference frames them in a video frame."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from detect.base import LandmarkDetector
from detect.train.synth import h264
from tests.detect.ens_helpers import CORPUS, needs_corpus

pytestmark = [pytest.mark.corpus, needs_corpus]


def _tight_crop(analyzer, tmp_path):
    """A FaceForensics++-style crop of the corpus portrait: the face box widened by 1.3, stored as PNG."""
    photo = Image.open(CORPUS / "images/real/obama.jpg").convert("RGB")
    (face,) = analyzer.set.find_faces(photo)
    cx, cy = face.centre
    half = max(face.width, face.height) * 1.3 / 2
    crop = photo.crop((round(cx - half), round(cy - half), round(cx + half), round(cy + half)))
    path = tmp_path / "roi.png"
    crop.save(path)
    return path, crop


def test_a_calibration_crop_is_scored_as_inference_scores_the_same_compressed_picture(analyzer, tmp_path):
    from detect.train.fit_video import compressed_row

    path, crop = _tight_crop(analyzer, tmp_path)
    row = compressed_row(analyzer.set, path, 30)
    assert row is not None
    report = analyzer.analyze_image(Image.fromarray(h264(np.asarray(crop), 30)))
    assert report.faces == 1
    inference = {d.name: d.score for d in report.detectors if not d.skipped}
    names = {d.card.name for d in analyzer.set.face if not isinstance(d, LandmarkDetector)}
    assert names and set(row) == names
    for name in names:
        assert row[name] == pytest.approx(inference[name], abs=1e-5), name


def test_a_calibration_crop_without_a_found_face_is_left_out(analyzer, tmp_path):
    from detect.train.fit_video import compressed_row

    path = tmp_path / "flat.png"
    Image.new("RGB", (299, 299), (128, 120, 110)).save(path)
    assert compressed_row(analyzer.set, path, 30) is None
