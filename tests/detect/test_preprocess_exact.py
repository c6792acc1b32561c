"""The end-to-end path's speed-ups give the same numbers as the code they replaced.

Decoding and the face search were made cheaper (issue 15: end-to-end throughput
beside forward-only). Scores must not move, so each faster helper is pinned
here to the plain computation it replaced.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from detect.faces import mtcnn
from detect.tiles import tile_grid, tileable, tiles


def _plain_integral(pixels: np.ndarray) -> np.ndarray:
    """The summed-area table as first written: int64, zero first row and column, channel-first."""
    planes = pixels.astype(np.int64).transpose(2, 0, 1)
    table = np.zeros((3, pixels.shape[0] + 1, pixels.shape[1] + 1), dtype=np.int64)
    table[:, 1:, 1:] = planes.cumsum(1).cumsum(2)
    return table


@pytest.mark.parametrize("wide", [False, True])
def test_summed_area_table_is_the_plain_int64_one(wide: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    if wide:  # the int64 table of images too large for int32 sums, here forced on a small one
        monkeypatch.setattr(mtcnn, "_table_dtype", lambda height, width: torch.int64)
    rng = np.random.default_rng(7)
    pixels = rng.integers(0, 256, (173, 241, 3), dtype=np.uint8)
    pixels[:40, :60] = 255  # saturated corner: the largest sums
    pixels = pixels[5:, 3:]  # a view with strides, as the face search passes a region
    table = mtcnn._integral(pixels)
    assert table.dtype == (torch.int64 if wide else torch.int32)
    np.testing.assert_array_equal(table.long().numpy(), _plain_integral(pixels))


def test_table_type_holds_the_largest_sum() -> None:
    # 255 * pixels must fit: 8,421,504 pixels of 255 sum to 2,147,483,520 < 2**31.
    assert mtcnn._table_dtype(1, 8_421_504) == torch.int32
    assert mtcnn._table_dtype(1, 8_421_505) == torch.int64
    assert mtcnn._table_dtype(1280, 1280) == torch.int32  # the face search's largest picture
    assert mtcnn._table_dtype(4000, 3000) == torch.int64


def _plain_tiles(rgb: np.ndarray, size: int, max_tiles: int) -> torch.Tensor:
    """Tiles as first cut: stacked uint8 windows, then torch's float().div_(255)."""
    rgb = tileable(rgb, size, max_tiles)
    batch = np.stack([rgb[y : y + size, x : x + size] for y, x in tile_grid(rgb.shape[0], rgb.shape[1], size, max_tiles)])
    return torch.from_numpy(batch).permute(0, 3, 1, 2).float().div_(255.0)


@pytest.mark.parametrize(
    "shape, size, max_tiles",
    [((600, 900), 256, 8), ((512, 512), 128, 8), ((300, 2000), 224, 8), ((100, 150), 256, 8), ((1, 400), 224, 8), ((4, 4), 128, 1)],
)
def test_tiles_are_the_plain_torch_ones(shape: tuple[int, int], size: int, max_tiles: int) -> None:
    rgb = np.random.default_rng(size + shape[0]).integers(0, 256, (*shape, 3), dtype=np.uint8)
    rgb[0, :, :] = 255  # every value 0..255 appears, the extremes included
    got, expected = tiles(rgb, size, max_tiles), _plain_tiles(rgb, size, max_tiles)
    assert got.dtype == torch.float32
    assert torch.equal(got, expected)  # bit for bit: one IEEE division each way
    assert got.stride() == expected.stride()  # channels-last memory, as the models take it


def test_tiles_scale_every_byte_value_as_torch_does() -> None:
    values = np.arange(256, dtype=np.uint8).reshape(16, 16, 1).repeat(3, axis=2)
    assert torch.equal(tiles(values, 16, 1)[0], torch.from_numpy(values).permute(2, 0, 1).float().div_(255.0))


def test_face_search_runs_on_one_thread_and_gives_the_threads_back(monkeypatch: pytest.MonkeyPatch) -> None:
    from PIL import Image

    from detect.faces import default_detector

    seen: list[int] = []
    search = mtcnn.MTCNN._detect

    def watched(self, pixels, min_face):
        seen.append(torch.get_num_threads())
        return search(self, pixels, min_face)

    monkeypatch.setattr(mtcnn.MTCNN, "_detect", watched)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        default_detector().detect(Image.new("RGB", (120, 90), (128, 100, 90)))
        assert seen == [1]
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_stills_decoded_ahead_come_in_order_with_their_faces_and_errors(tmp_path) -> None:
    from pathlib import Path

    from PIL import Image

    from detect.batch import decoded_stills
    from detect.faces import find_faces
    from detect.stills import decode_image

    astronaut = Path(__file__).resolve().parent / "data" / "astronaut.jpg"
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8 not a jpeg")
    plain = tmp_path / "plain.png"
    Image.new("RGB", (300, 200), (90, 120, 150)).save(plain)
    paths = [astronaut, broken, plain, tmp_path / "missing.png", astronaut]
    got = list(decoded_stills(paths, [128, 256], 0, torch.device("cpu"), find_faces=True))
    assert [index for index, _, _ in got] == [0, 1, 2, 3, 4]
    assert [bool(error) for _, _, error in got] == [False, True, False, True, False]
    for index in (0, 2, 4):
        decoded, expected = got[index][1], decode_image(paths[index], [128, 256])
        assert decoded is not None
        assert np.array_equal(decoded.rgb, expected.rgb)
        assert all(torch.equal(decoded.tiles[size], expected.tiles[size]) for size in (128, 256))
        faces = find_faces(Image.fromarray(expected.rgb))
        assert decoded.faces is not None
        assert [(f.box, f.landmarks, f.confidence) for f in decoded.faces] == [(f.box, f.landmarks, f.confidence) for f in faces]
    first, plain_still = got[0][1], got[2][1]
    assert first is not None and first.faces is not None and len(first.faces) == 1
    assert plain_still is not None and plain_still.faces == []
