"""Corneal specular highlights: same reflections in both eyes score low, different ones high."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from PIL import Image, ImageDraw

from detect.base import Detector
from detect.faces import find_faces
from detect.faces.face import Face
from detect.models.corneal import CornealDetector, eye_pair

DATA = Path(__file__).resolve().parent / "data"
CORPUS = Path(__file__).resolve().parents[2] / "../shared/corpus"
needs_corpus = pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus is not present")

EYES = ((150.0, 150.0), (250.0, 150.0))


def _rotate(point, angle, centre=(200.0, 150.0)):
    (x, y), (cx, cy) = point, centre
    c, s = math.cos(angle), math.sin(angle)
    return (cx + c * (x - cx) - s * (y - cy), cy + s * (x - cx) + c * (y - cy))


def synthetic_face(highlights, angle: float = 0.0, scale: float = 1.0) -> Face:
    """Skin, two dark irises, and a white reflection at the given offsets from each iris centre.

    `angle` rotates the whole face (reflections included) about the point between the eyes.
    """
    size = (int(400 * scale), int(300 * scale))
    image = Image.new("RGB", size, (200, 160, 140))
    draw = ImageDraw.Draw(image)
    eyes = [_rotate(e, angle) for e in EYES]
    for (ex, ey), offset in zip(eyes, highlights):
        ex, ey = ex * scale, ey * scale
        draw.ellipse([ex - 22 * scale, ey - 10 * scale, ex + 22 * scale, ey + 10 * scale], fill=(235, 235, 230))  # sclera
        draw.ellipse([ex - 9 * scale, ey - 9 * scale, ex + 9 * scale, ey + 9 * scale], fill=(70, 50, 40))  # iris
        draw.ellipse([ex - 4 * scale, ey - 4 * scale, ex + 4 * scale, ey + 4 * scale], fill=(15, 15, 15))  # pupil
        if offset is not None:
            hx, hy = _rotate((offset[0], offset[1]), angle, (0.0, 0.0))
            hx, hy = ex + hx * scale, ey + hy * scale
            draw.ellipse([hx - 2 * scale, hy - 2 * scale, hx + 2 * scale, hy + 2 * scale], fill=(255, 255, 255))
    rest = [_rotate(p, angle) for p in ((200.0, 190.0), (170.0, 230.0), (230.0, 230.0))]
    landmarks = tuple((x * scale, y * scale) for x, y in eyes + rest)
    return Face(box=(100 * scale, 80 * scale, 300 * scale, 280 * scale), landmarks=landmarks, confidence=1.0, image=image)


@pytest.fixture(scope="module")
def detector() -> CornealDetector:
    return CornealDetector()


def test_matching_reflections_score_low_and_mismatched_high(detector) -> None:
    assert isinstance(detector, Detector)
    same = synthetic_face([(2, -3), (2, -3)])
    moved = synthetic_face([(2, -3), (-3, 2)])
    low, high = detector.score_faces([same, moved])
    assert low is not None and high is not None
    assert low < 0.2
    assert high > 0.8


def test_rotation_of_the_whole_face_does_not_change_the_verdict(detector) -> None:
    tilted_same = synthetic_face([(2, -3), (2, -3)], angle=math.radians(20))
    tilted_moved = synthetic_face([(2, -3), (-3, 2)], angle=math.radians(20))
    low, high = detector.score_faces([tilted_same, tilted_moved])
    assert low < 0.3 and high > 0.8  # rasterising the tilted discs moves them by up to a pixel


def test_undefined_without_a_highlight_in_both_eyes(detector) -> None:
    one_eye = synthetic_face([(2, -3), None])
    assert detector.score_faces([one_eye]) == [None]
    assert detector.skip_reason([one_eye]) == "no distinct corneal highlight in both eyes"
    pair = eye_pair(one_eye)
    assert pair is not None and pair.shape == (3, 64, 128)
    assert math.isnan(float(detector.score(pair.unsqueeze(0))[0]))


def test_small_eyes_are_not_scored(detector) -> None:
    small = synthetic_face([(2, -3), (2, -3)], scale=0.3)
    assert eye_pair(small) is None
    assert detector.score_faces([small]) == [None]
    assert detector.skip_reason([small]).startswith("eyes too small")


def test_batch_scores_are_per_pair_and_in_range(detector) -> None:
    faces = [synthetic_face([(2, -3), (2, -3)]), synthetic_face([(-4, -3), (4, 3)]), synthetic_face([(2, 3), (2, 3)])]
    batch = torch.stack([eye_pair(f) for f in faces])
    scores = detector.score(batch)
    assert scores.shape == (3,)
    assert bool(((scores >= 0) & (scores <= 1)).all())
    assert scores[1] > scores[0] and scores[1] > scores[2]
    assert detector.card.weights_sha256 == CornealDetector().card.weights_sha256  # identity is its parameters


def test_real_photo_gives_a_defined_score() -> None:
    face = find_faces(Image.open(DATA / "astronaut.jpg"))[0]
    (value,) = CornealDetector().score_faces([face])
    assert value is not None and 0.0 <= value <= 1.0


@pytest.mark.corpus
@needs_corpus
def test_real_portrait_with_visible_reflections_is_not_flagged() -> None:
    # Obama's portrait shows the same two window reflections in both eyes.
    face = find_faces(Image.open(CORPUS / "images/real/obama.jpg"))[0]
    (value,) = CornealDetector().score_faces([face])
    assert value is not None and value < 0.7  # measured 0.56: both reflections found, partly overlapping
