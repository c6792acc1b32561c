"""The batch pipeline: faces found in the decoding workers are the faces found in-process."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from detect.batch import decoded_stills

DATA = Path(__file__).resolve().parent / "data"


@pytest.mark.slow
def test_workers_find_the_same_faces_and_give_the_same_verdicts(analyzer, tmp_path) -> None:
    files = [tmp_path / "a.jpg", tmp_path / "b.jpg", tmp_path / "missing.jpg"]
    shutil.copy(DATA / "astronaut.jpg", files[0])
    files[1].write_bytes(b"not an image")
    in_process = analyzer.analyze_files(files, workers=0)
    in_workers = analyzer.analyze_files(files, workers=2)
    assert in_process[0].report.faces == in_workers[0].report.faces == 1
    assert in_workers[0].report.score == pytest.approx(in_process[0].report.score, abs=1e-5)
    for a, b in zip(in_process[0].report.detectors, in_workers[0].report.detectors):
        assert (a.name, a.skipped) == (b.name, b.skipped)
        if a.score is not None:
            assert b.score == pytest.approx(a.score, abs=1e-5)
    assert [bool(v.error) for v in in_workers] == [False, True, True]


def test_worker_faces_are_rebuilt_with_boxes_landmarks_and_image() -> None:
    ((index, decoded, error),) = decoded_stills([DATA / "astronaut.jpg"], [256], 1, torch.device("cpu"), find_faces=True)
    assert decoded is not None and decoded.faces is not None
    assert (index, error) == (0, "") and len(decoded.faces) == 1
    face = decoded.faces[0]
    assert np.asarray(face.image).shape == decoded.rgb.shape
    assert len(face.landmarks) == 5 and 0.9 <= face.confidence <= 1.0
    assert face.crop(64).size == (64, 64)
    # Without workers they are found here: the same face.
    ((_, here, _),) = decoded_stills([DATA / "astronaut.jpg"], [256], 0, torch.device("cpu"), find_faces=True)
    assert here is not None and here.faces is not None
    assert [(f.box, f.landmarks, f.confidence) for f in here.faces] == [(face.box, face.landmarks, face.confidence)]
    # Without the flag faces are left for the caller to find.
    ((_, plain, _),) = decoded_stills([DATA / "astronaut.jpg"], [256], 0, torch.device("cpu"))
    assert plain is not None and plain.faces is None


def test_default_workers_by_device_and_cores(monkeypatch) -> None:
    from detect import batch

    cuda, cpu = torch.device("cuda"), torch.device("cpu")
    monkeypatch.setattr(batch.os, "cpu_count", lambda: 2)
    assert batch.default_workers(1, cuda) == 0  # one file: no process start-up
    assert batch.default_workers(10, cuda) == 2
    assert batch.default_workers(10, cpu) == 0  # 2 cores: the models' threads use them all
    monkeypatch.setattr(batch.os, "cpu_count", lambda: 16)
    assert batch.default_workers(10, cuda) == 4
    assert batch.default_workers(10, cpu) == 4
    assert batch.default_workers(3, cpu) == 3
