"""The fast face path finds what the straightforward one found.

MTCNN's window cutting, NMS and the aligned crops were rewritten for speed
(summed-area tables, numpy NMS, reading only the image region under a crop).
These tests pin them to the plain implementations they replaced, and pin the
faces found on the corpus to the boxes the earlier code found (recorded from
it before the rewrite), so a later speed-up cannot quietly change the faces.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from detect.faces import find_faces
from detect.faces.face import Face
from detect.faces.mtcnn import _crop_windows, _windows_by_table, _windows_one_by_one
from detect.faces.nms import nms

DATA = Path(__file__).resolve().parent / "data"
CORPUS = Path(__file__).resolve().parents[2] / "../shared/corpus"
needs_corpus = pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus is not present")


def _reference_windows(pixels: np.ndarray, boxes: torch.Tensor, size: int) -> torch.Tensor:
    """The original cut: zero-pad each rounded box, area-resize it with torch."""
    image = torch.from_numpy(pixels).permute(2, 0, 1).float()
    _, height, width = image.shape
    out = torch.empty((len(boxes), 3, size, size))
    for i, (x1, y1, x2, y2) in enumerate(boxes.round().long().tolist()):
        bw, bh = max(x2 - x1, 1), max(y2 - y1, 1)
        window = torch.zeros((3, bh, bw))
        sx1, sy1, sx2, sy2 = max(x1, 0), max(y1, 0), min(x2, width), min(y2, height)
        if sx2 > sx1 and sy2 > sy1:
            window[:, sy1 - y1 : sy2 - y1, sx1 - x1 : sx2 - x1] = image[:, sy1:sy2, sx1:sx2]
        out[i] = F.interpolate(window.unsqueeze(0), size=(size, size), mode="area")[0]
    return out


def _random_boxes(rng, n: int, width: int, height: int) -> torch.Tensor:
    xy = rng.uniform(-60, max(width, height), (n, 2))
    wh = rng.uniform(0.3, 220, (n, 2))
    boxes = torch.tensor(np.hstack([xy, xy + wh]), dtype=torch.float32)
    boxes[0] = torch.tensor([width + 10.0, height + 10.0, width + 40.0, height + 50.0])  # wholly outside
    boxes[1] = torch.tensor([-30.0, -20.0, width + 30.0, height + 25.0])  # larger than the frame
    return boxes


@pytest.mark.parametrize("size", [24, 48])
def test_window_cutting_matches_the_plain_zero_pad_and_area_resize(size: int) -> None:
    rng = np.random.default_rng(size)
    pixels = rng.integers(0, 256, (210, 300, 3), dtype=np.uint8)
    boxes = _random_boxes(rng, 1100, 300, 210)  # more than one gather chunk
    expected = _reference_windows(pixels, boxes, size)
    corners = boxes.round().long().numpy()
    x1, y1 = corners[:, 0], corners[:, 1]
    bw, bh = np.maximum(corners[:, 2] - x1, 1), np.maximum(corners[:, 3] - y1, 1)
    proper = torch.from_numpy((corners[:, 2] > x1) & (corners[:, 3] > y1))  # the others are zeroed by _crop_windows
    table = _windows_by_table(pixels, x1, y1, bw, bh, size, (0, 0, 300, 210))
    one_by_one = _windows_one_by_one(pixels, x1, y1, bw, bh, size)
    torch.testing.assert_close(table[proper], expected[proper], rtol=0, atol=1e-4)
    torch.testing.assert_close(one_by_one[proper], expected[proper], rtol=0, atol=1e-4)
    assert not bool(proper.all())  # the random boxes include degenerate ones
    # The dispatcher picks either path; a few boxes and many give the same numbers.
    torch.testing.assert_close(_crop_windows(pixels, boxes[:3], size), expected[:3], rtol=0, atol=1e-4)
    torch.testing.assert_close(_crop_windows(pixels, boxes, size), expected, rtol=0, atol=1e-4)


def _reference_overlap(box: torch.Tensor, others: torch.Tensor, mode: str = "union") -> torch.Tensor:
    """The original torch overlap of one box with each of `others`: IoU ("union") or intersection over the smaller area ("min")."""
    ix1 = torch.maximum(box[0], others[:, 0])
    iy1 = torch.maximum(box[1], others[:, 1])
    ix2 = torch.minimum(box[2], others[:, 2])
    iy2 = torch.minimum(box[3], others[:, 3])
    inter = (ix2 - ix1).clamp(min=0) * (iy2 - iy1).clamp(min=0)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (others[:, 2] - others[:, 0]) * (others[:, 3] - others[:, 1])
    if mode == "min":
        denom = torch.minimum(area, areas)
    else:
        denom = area + areas - inter
    return inter / denom.clamp(min=1e-9)


def _reference_nms(boxes: torch.Tensor, scores: torch.Tensor, threshold: float, mode: str) -> list[int]:
    order = torch.argsort(scores, descending=True, stable=True)
    keep = []
    while order.numel():
        best = int(order[0])
        keep.append(best)
        rest = order[1:]
        order = rest[_reference_overlap(boxes[best], boxes[rest], mode) <= threshold] if rest.numel() else rest
    return keep


@pytest.mark.parametrize("n", [0, 1, 40, 2500])  # 2500: past the matrix size, the row-by-row path
@pytest.mark.parametrize("mode", ["union", "min"])
def test_nms_keeps_what_the_greedy_loop_keeps(n: int, mode: str) -> None:
    rng = np.random.default_rng(n)
    xy = rng.uniform(0, 300, (n, 2))
    boxes = torch.tensor(np.hstack([xy, xy + rng.uniform(5, 60, (n, 2))]), dtype=torch.float32)
    scores = torch.tensor(rng.choice(np.linspace(0, 1, 50), n), dtype=torch.float32)  # ties on purpose
    assert nms(boxes, scores, 0.5, mode).tolist() == _reference_nms(boxes, scores, 0.5, mode)


def test_nms_rejects_an_unknown_mode() -> None:
    with pytest.raises(ValueError):
        nms(torch.zeros((1, 4)), torch.ones(1), 0.5, mode="area")


def _whole_image_crop(face: Face, size: int, margin: float, align: bool) -> Image.Image:
    """The original crop: shrink the whole image when the face is large, then warp."""
    matrix = face.crop_transform(size, margin, align)
    source = face.image.convert("RGB")
    scale = math.hypot(matrix[0, 0], matrix[1, 0])
    if scale > 1.5:
        shrunk = (max(1, round(source.width / scale)), max(1, round(source.height / scale)))
        fx, fy = source.width / shrunk[0], source.height / shrunk[1]
        source = source.resize(shrunk, Image.Resampling.BOX)
        matrix = matrix / np.array([[fx], [fy]])
    return source.transform((size, size), Image.Transform.AFFINE, tuple(matrix.reshape(-1).tolist()), resample=Image.Resampling.BILINEAR)


@pytest.mark.parametrize(
    "box, size, margin, align",
    [
        ((177.5, 61.6, 267.2, 172.8), 256, 0.3, True),  # upscaled crop
        ((177.5, 61.6, 267.2, 172.8), 48, 0.3, True),  # shrunk first (scale > 1.5)
        ((177.5, 61.6, 267.2, 172.8), 64, 1.0, False),
        ((-40.0, -30.0, 60.0, 90.0), 128, 0.3, True),  # over the border
        ((600.0, 600.0, 700.0, 700.0), 64, 0.3, True),  # wholly outside: black
    ],
)
def test_region_crop_matches_the_whole_image_crop(box, size, margin, align) -> None:
    image = Image.open(DATA / "astronaut.jpg").convert("RGB")
    x1, y1, x2, y2 = box
    w, h = x2 - x1, y2 - y1
    points = (
        (x1 + 0.3 * w, y1 + 0.4 * h),
        (x1 + 0.7 * w, y1 + 0.37 * h),
        (x1 + 0.5 * w, y1 + 0.6 * h),
        (x1 + 0.35 * w, y1 + 0.8 * h),
        (x1 + 0.65 * w, y1 + 0.8 * h),
    )
    face = Face(box=box, landmarks=points, confidence=1.0, image=image)
    got = np.asarray(face.crop(size, margin, align), dtype=np.int16)
    want = np.asarray(_whole_image_crop(face, size, margin, align), dtype=np.int16)
    assert got.shape == want.shape == (size, size, 3)
    diff = np.abs(got - want)
    # Identical where no shrink is needed; with a shrink PIL's box filter over a sub-box
    # rounds a few pixels differently.
    assert diff.mean() < 0.05 and (diff.max() == 0 or box == (177.5, 61.6, 267.2, 172.8))


def _iou(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def _assert_same_faces(faces, expected) -> None:
    assert len(faces) == len(expected)
    for box in expected:
        assert max(_iou(f.box, box) for f in faces) > 0.95, (box, [f.box for f in faces])


def test_astronaut_face_is_where_the_earlier_code_found_it() -> None:
    _assert_same_faces(find_faces(Image.open(DATA / "astronaut.jpg")), [(177.5, 61.6, 267.2, 172.8)])


# Boxes found by the plain implementation (commit b828b89) on the corpus photos.
EARLIER_BOXES = {
    "real/biden.jpg": [(432.5, 163.2, 718.6, 564.8)],
    "real/obama.jpg": [(366.5, 77.2, 615.1, 423.9)],
    "real/two_people.jpg": [(787.8, 38.3, 945.7, 268.6), (237.1, 28.1, 384.7, 222.3)],
    "real/lin-manuel-miranda.png": [(263.6, 124.5, 531.4, 494.2)],
    "real/obama_and_biden.jpg": [(1139.0, 356.9, 1331.0, 600.9), (759.2, 398.9, 926.7, 633.9), (1640.3, 1066.8, 1775.0, 1223.6)],
    "real/multiface.jpg": [
        (549.0, 44.2, 629.2, 154.5),
        (621.9, 195.9, 694.8, 295.8),
        (858.9, 435.2, 952.9, 557.8),
        (415.2, 131.1, 503.1, 243.0),
        (721.5, 466.2, 797.9, 574.7),
        (226.3, 248.7, 304.2, 356.5),
    ],
    "real/skimage_astronaut.png": [(177.8, 60.8, 268.3, 174.1)],
    "real/skimage_camera.png": [(198.1, 116.0, 255.0, 196.6)],
    "real/billow926-12-Wc-Zgx6Y.png": [(272.4, 240.4, 304.7, 274.4), (66.2, 237.7, 97.9, 270.8)],
    "real/alex-iby-G_Pk4D9rMLs.png": [(196.3, 94.9, 240.4, 158.7), (300.2, 124.2, 339.7, 174.0)],
    "real/bench2.png": [(316.0, 94.4, 354.8, 139.3)],
    "real/meso_real00240.jpg": [(61.9, -5.9, 235.4, 221.5)],
    "real/meso_real00772.jpg": [(21.4, -8.4, 173.0, 195.0)],
    "fake/meso_df00204.jpg": [(81.8, 12.4, 272.0, 281.4)],
    "fake/meso_df01254.jpg": [(52.4, 16.3, 200.5, 226.4)],
    "fake/flux_grid.jpg": [(2883.2, 122.2, 3131.8, 434.0)],
    "real/skimage_coffee.png": [],
    "real/skimage_chelsea.png": [],
    "real/bertrand-gabioud-CpuFzIsHYJ0.png": [],
    "fake/flux_schnell_grid.jpg": [],
    "fake/ldm_birdhouse.png": [],
}


@pytest.mark.corpus
@needs_corpus
@pytest.mark.parametrize("name", sorted(EARLIER_BOXES))
def test_corpus_faces_are_the_ones_the_earlier_code_found(name: str) -> None:
    _assert_same_faces(find_faces(Image.open(CORPUS / "images" / name)), EARLIER_BOXES[name])


# MesoNet-DF scores of the aligned 256 px crops (margin 0.3) of these faces under the earlier code, in the order above.
EARLIER_MESO = {
    "real/biden.jpg": [0.501],
    "real/obama.jpg": [0.008],
    "real/two_people.jpg": [0.943, 0.036],
    "real/lin-manuel-miranda.png": [0.077],
    "real/obama_and_biden.jpg": [0.0, 0.001, 0.316],
    "fake/meso_df00204.jpg": [0.99],
}


@pytest.mark.corpus
@needs_corpus
def test_mesonet_scores_on_the_crops_are_unchanged() -> None:
    from detect.models.mesonet import MesoNetDetector
    from detect.registry import installed_weights

    weights = installed_weights("meso4-df")
    if weights is None:
        pytest.skip("MesoNet weights not installed")
    meso = MesoNetDetector(weights)
    for name, expected in EARLIER_MESO.items():
        faces = find_faces(Image.open(CORPUS / "images" / name))
        # Match each earlier box to its face now, then score that face's crop.
        order = [max(range(len(faces)), key=lambda i: _iou(faces[i].box, box)) for box in EARLIER_BOXES[name]]
        crops = torch.stack(
            [torch.from_numpy(np.asarray(faces[i].crop(256, margin=0.3), dtype=np.float32) / 255).permute(2, 0, 1) for i in order]
        )
        with torch.inference_mode():
            scores = meso.score(crops).tolist()
        assert scores == pytest.approx(expected, abs=0.01), name
