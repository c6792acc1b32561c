"""Landmark self-blends (SBI), landmark cut-out, H.264 augmentation, and the shipped face-level probe."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from detect.base import Task
from detect.faces import Face
from detect.models.face_probe import DEFAULT_HEAD, INPUT_SIZE, NAME, load_face_probe
from detect.models.trained import TrainedModelError, backbone_path, combined_sha256, save_head
from detect.train import sbi
from detect.train.face_data import FacePools, draw_face
from tests.detect.ens_helpers import CORPUS, needs_corpus, textured_image

CARD = Path(__file__).resolve().parents[2] / "detect" / "model_cards" / "effnet_face_probe.md"
# A frontal face in a 224 crop: left eye, right eye, nose, mouth left, mouth right.
LANDMARKS = np.array([[82.0, 95.0], [142.0, 95.0], [112.0, 128.0], [88.0, 158.0], [136.0, 158.0]])


def _photo(seed: int = 0, size: int = 224) -> np.ndarray:
    return np.asarray(textured_image(seed, size))


@pytest.mark.parametrize("seed", range(8))
def test_self_blend_changes_pixels_only_inside_a_mask_on_the_face(seed):
    photo = _photo(seed)
    out, mask = sbi.self_blend_face(np.random.default_rng(seed), photo, LANDMARKS)
    assert out.shape == photo.shape and out.dtype == np.uint8
    assert mask.shape == photo.shape[:2] and mask.min() >= 0 and mask.max() <= 1
    changed = (out != photo).any(axis=2)
    assert not (changed & (mask == 0)).any()  # outside the mask: the very same pixels
    assert changed.mean() > 0.02
    # The mask lies on the face: its mass is centred between eyes and mouth, none far outside the landmarks.
    ys, xs = np.nonzero(mask)
    weights = mask[ys, xs]
    centre = np.array([np.average(xs, weights=weights), np.average(ys, weights=weights)])
    assert np.linalg.norm(centre - LANDMARKS.mean(axis=0)) < 25
    eye_distance = LANDMARKS[1, 0] - LANDMARKS[0, 0]
    low, high = LANDMARKS.min(axis=0) - 1.5 * eye_distance, LANDMARKS.max(axis=0) + 1.5 * eye_distance
    assert xs.min() >= low[0] and xs.max() <= high[0] and ys.min() >= low[1] and ys.max() <= high[1]
    for corner in (mask[:15, :15], mask[:15, -15:], mask[-15:, :15], mask[-15:, -15:]):
        assert corner.max() == 0  # the crop's corners are background


def test_self_blend_follows_the_face_when_it_moves():
    shifted = LANDMARKS + np.array([40.0, -30.0])
    _out, mask = sbi.self_blend_face(np.random.default_rng(1), _photo(1, 300), shifted)
    ys, xs = np.nonzero(mask)
    centre = np.array([xs.mean(), ys.mean()])
    assert np.linalg.norm(centre - shifted.mean(axis=0)) < 25


@pytest.mark.parametrize("part", ["left_eye", "right_eye", "eyes", "nose", "mouth", "lower_face"])
def test_cutout_blanks_the_named_facial_part_only(part):
    photo = _photo(2)
    rng = np.random.default_rng(0)
    _name, centre, _radii = sbi.cutout_region(np.random.default_rng(0), LANDMARKS, part)
    out = sbi.face_cutout(rng, photo, LANDMARKS, part)
    changed = (out != photo).any(axis=2)
    assert 0.003 < changed.mean() < 0.35
    ys, xs = np.nonzero(changed)
    assert np.linalg.norm(np.array([xs.mean(), ys.mean()]) - centre) < 6
    assert len(np.unique(out[changed].reshape(-1, 3), axis=0)) == 1  # one flat fill


def _synthetic_pools() -> FacePools:
    faces = []
    for seed in range(3):
        image = textured_image(20 + seed, 320)
        offset = np.array([48.0, 40.0])
        landmarks = tuple(map(tuple, LANDMARKS + offset))
        faces.append(Face(box=(80.0, 80.0, 240.0, 250.0), landmarks=landmarks, confidence=1.0, image=image))
    return FacePools(real=faces)


def test_face_draws_are_input_sized_and_balanced():
    rng = np.random.default_rng(0)
    draws = [draw_face(rng, _synthetic_pools(), INPUT_SIZE) for _ in range(40)]
    assert all(d.shape == (INPUT_SIZE, INPUT_SIZE, 3) and d.dtype == np.uint8 for d, _ in draws)
    assert 10 <= sum(label for _, label in draws) <= 30


@pytest.fixture(scope="module")
def detector():
    return load_face_probe()


def test_shipped_face_probe_loads_with_its_card(detector):
    card = detector.card
    assert card.name == NAME and card.task is Task.FACE and card.input_size == (INPUT_SIZE, INPUT_SIZE)
    assert card.weights_sha256 == combined_sha256(backbone_path(), DEFAULT_HEAD.read_bytes())
    assert "Shiohara" in card.citation and "Das" in card.citation and "Apache-2.0" in card.licence
    assert DEFAULT_HEAD.stat().st_size < 200_000  # small enough to commit


def test_face_probe_scores_are_probabilities_and_deterministic_on_cpu(detector):
    crops = torch.stack([torch.from_numpy(_photo(s).copy()).permute(2, 0, 1).float() / 255 for s in range(3)])
    first, second = detector.score(crops), detector.score(crops)
    assert first.shape == (3,) and ((first >= 0) & (first <= 1)).all()
    assert torch.equal(first, second)
    assert torch.equal(detector.score(crops[1:2]), first[1:2])  # batch composition does not matter


def test_face_probe_runs_in_the_default_set_as_a_face_detector():
    from detect.detectors import load_default_detectors

    detectors = load_default_detectors(device=torch.device("cpu"))
    assert NAME in [d.card.name for d in detectors.face]


def test_missing_or_wrong_head_is_a_clear_error(tmp_path):
    with pytest.raises(TrainedModelError, match="not found"):
        load_face_probe(tmp_path / "absent.pt")
    head = torch.load(DEFAULT_HEAD, weights_only=True)
    save_head({**head, "turns": torch.tensor(4.0)}, tmp_path / "turns.pt")
    with pytest.raises(TrainedModelError, match="not a face head"):
        load_face_probe(tmp_path / "turns.pt")


def test_model_card_names_the_exact_command_and_the_shipped_head():
    text = CARD.read_text(encoding="utf-8")
    assert "python -m detect.train face" in text
    assert hashlib.sha256(DEFAULT_HEAD.read_bytes()).hexdigest()[:16] in text
    for field in ("Task", "Architecture", "Training data", "Exact command", "Results", "Limits", "Citations"):
        assert f"**{field}**" in text, field


@pytest.mark.corpus
@needs_corpus
def test_self_blend_mask_lies_on_a_real_face_found_by_mtcnn():
    from detect.faces import find_faces

    (face,) = find_faces(Image.open(CORPUS / "images/real/biden.jpg"))
    crop = np.asarray(face.crop(INPUT_SIZE))
    landmarks = face.landmarks_in_crop(INPUT_SIZE)
    for seed in range(4):
        out, mask = sbi.self_blend_face(np.random.default_rng(seed), crop, landmarks)
        assert not ((out != crop).any(axis=2) & (mask == 0)).any()
        # margin 0.3 around the box: the box is the central 1/1.3 of the crop; the mask stays on it
        inner = INPUT_SIZE * 0.3 / 1.3 / 2
        box = mask[int(inner) : int(INPUT_SIZE - inner), int(inner) : int(INPUT_SIZE - inner)]
        assert box.sum() > 0.9 * mask.sum()


@pytest.mark.slow
def test_training_command_writes_a_head_the_detector_loads(tmp_path):
    from detect.train.fit_face import fit_face_probe

    pools = _synthetic_pools()
    pools.real = pools.real * 2  # 6 faces: 4 train, 2 held out (every fourth face and one more)
    out = tmp_path / "head.pt"
    digest = fit_face_probe(pools, out, count=24, seed=0, log=lambda _line: None)
    assert hashlib.sha256(out.read_bytes()).hexdigest() == digest
    detector = load_face_probe(out)
    assert detector.card.weights_sha256 == combined_sha256(backbone_path(), out.read_bytes())
