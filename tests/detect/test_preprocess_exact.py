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
