"""MTCNN face detection and aligned crops, on real photos."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from detect.faces import find_faces
from detect.faces.face import LEFT_EYE, MOUTH_LEFT, MOUTH_RIGHT, NOSE, RIGHT_EYE
from detect.faces.mtcnn import WEIGHTS_DIR
from detect.faces.nms import nms

DATA = Path(__file__).resolve().parent / "data"
CORPUS = Path(__file__).resolve().parents[2] / "../shared/corpus"
needs_corpus = pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus is not present")

# The sha256 of the files in facenet-pytorch 2.6.0's wheel (facenet_pytorch/data/).
PUBLISHED_SHA256 = {
    "pnet.pt": "a2a71925e0b9996a42f63e47efc1ca19043e69558b5c523b978d611dfae49c8f",
    "rnet.pt": "bbb937de72efc9ef83b186c49f5f558467a1d7e3453a8ece0d71a886633f6a86",
    "onet.pt": "165bfbe42940416ccfb977545cf0e976d5bf321f67083ae2aaaa5c764280118d",
}


@pytest.fixture(scope="module")
def astronaut() -> Image.Image:
    return Image.open(DATA / "astronaut.jpg").convert("RGB")


def assert_plausible_face(face) -> None:
    x1, y1, x2, y2 = face.box
    (lx, ly), (rx, ry), (nx, ny), (mlx, mly), (mrx, mry) = face.landmarks
    assert x1 < lx < rx < x2 and y1 < ly < ny < mly < y2 and ny < mry < y2
    assert mlx < mrx
    assert 0.9 <= face.confidence <= 1.0


def test_bundled_weights_are_the_published_files() -> None:
    for name, digest in PUBLISHED_SHA256.items():
        assert hashlib.sha256((WEIGHTS_DIR / name).read_bytes()).hexdigest() == digest


@pytest.fixture(scope="module")
def astronaut_face(astronaut):
    faces = find_faces(astronaut)
    assert len(faces) == 1
    return faces[0]


def test_one_face_with_landmarks_in_order(astronaut_face) -> None:
    face = astronaut_face
    assert_plausible_face(face)
    # The astronaut's head is in the upper-middle of the 512x512 picture.
    cx, cy = face.centre
    assert 150 < cx < 300 and 50 < cy < 200
    assert 60 < face.width < 160


def test_blank_and_noise_images_have_no_faces() -> None:
    rng = np.random.default_rng(0)
    assert find_faces(Image.new("RGB", (320, 240), (128, 128, 128))) == []
    noise = Image.fromarray(rng.integers(0, 256, (240, 320, 3), dtype=np.uint8))
    assert find_faces(noise) == []


def test_large_image_is_searched_downscaled_and_boxes_come_back_in_its_pixels(astronaut, astronaut_face) -> None:
    big = find_faces(astronaut.resize((1536, 1536), Image.Resampling.BICUBIC), max_side=512)[0]
    np.testing.assert_allclose(np.array(big.box) / 3, np.array(astronaut_face.box), atol=2)
    np.testing.assert_allclose(np.array(big.landmarks) / 3, np.array(astronaut_face.landmarks), atol=2)


def test_aligned_crop_levels_the_eyes_of_a_rotated_face(astronaut) -> None:
    rotated = astronaut.rotate(25, resample=Image.Resampling.BICUBIC, center=(220, 120))
    face = find_faces(rotated)[0]
    assert abs(np.degrees(face.roll)) > 15  # the eye line really is tilted
    crop = face.crop(256, margin=0.3)
    assert crop.size == (256, 256) and crop.mode == "RGB"
    points = face.landmarks_in_crop(256, margin=0.3)
    assert abs(points[LEFT_EYE, 1] - points[RIGHT_EYE, 1]) < 1e-6
    assert points[LEFT_EYE, 0] < 128 < points[RIGHT_EYE, 0]
    # The crop holds the face: re-detecting on it finds one face whose eyes sit where we mapped them.
    again = find_faces(crop)
    assert len(again) == 1
    np.testing.assert_allclose(np.array(again[0].landmarks[:2]), points[:2], atol=12)


def test_margin_widens_the_crop(astronaut, astronaut_face) -> None:
    face = astronaut_face
    tight = face.landmarks_in_crop(128, margin=0.0)
    loose = face.landmarks_in_crop(128, margin=1.0)
    tight_eyes = tight[RIGHT_EYE, 0] - tight[LEFT_EYE, 0]
    loose_eyes = loose[RIGHT_EYE, 0] - loose[LEFT_EYE, 0]
    assert loose_eyes == pytest.approx(tight_eyes / 2, rel=1e-6)
    unaligned = face.crop(128, margin=0.2, align=False)
    expected = astronaut.crop(tuple(round(v) for v in _square(face.box, 1.2))).resize((128, 128))
    diff = np.abs(np.asarray(unaligned, dtype=float) - np.asarray(expected, dtype=float)).mean()
    assert diff < 12


def _square(box, grow):
    x1, y1, x2, y2 = box
    side = max(x2 - x1, y2 - y1) * grow
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    return (cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2)


def test_nms_drops_overlapping_boxes_and_keeps_separate_ones() -> None:
    import torch

    boxes = torch.tensor([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30], [0, 0, 4, 4]], dtype=torch.float)
    scores = torch.tensor([0.9, 0.95, 0.5, 0.8])
    assert nms(boxes, scores, 0.5).tolist() == [1, 3, 2]
    # "min" mode treats a box inside another as a duplicate.
    assert nms(boxes, scores, 0.5, mode="min").tolist() == [1, 2]


@pytest.mark.corpus
@needs_corpus
@pytest.mark.parametrize(
    "name, count",
    [
        ("two_people.jpg", 2),
        ("obama.jpg", 1),
        ("biden.jpg", 1),
        ("lin-manuel-miranda.png", 1),
        ("skimage_coffee.png", 0),
        ("skimage_chelsea.png", 0),
    ],
)
def test_corpus_photos_face_counts(name: str, count: int) -> None:
    faces = find_faces(Image.open(CORPUS / "images/real" / name))
    assert len(faces) == count
    for face in faces:
        assert_plausible_face(face)


@pytest.mark.corpus
@needs_corpus
def test_group_photo_has_several_separate_faces() -> None:
    faces = find_faces(Image.open(CORPUS / "images/real/multiface.jpg"))
    assert len(faces) >= 4
    centres = np.array([f.centre for f in faces])
    gaps = np.linalg.norm(centres[:, None] - centres[None], axis=2) + np.eye(len(faces)) * 1e9
    assert gaps.min() > 40  # no duplicate detections of one face
    for face in faces:
        assert face.landmarks[NOSE][1] < face.landmarks[MOUTH_LEFT][1] + 1
        assert face.landmarks[MOUTH_LEFT][0] < face.landmarks[MOUTH_RIGHT][0]


@pytest.mark.parametrize("size", [(5000, 1), (1, 1), (11, 400)])
def test_images_too_thin_for_any_face_have_none(size) -> None:
    # A 5000x1 strip used to be reduced to zero rows before the search and raised.
    assert find_faces(Image.new("RGB", size, (120, 90, 60))) == []
