"""Fixtures shared by the detector tests."""

from __future__ import annotations

import pytest

from detect.analyze import Analyzer
from detect.detectors import load_default_detectors


@pytest.fixture(scope="module")
def analyzer(tmp_path_factory):
    """An Analyzer with the default detectors on the CPU, reading no user-added models (one per test module)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PROVENANCE_HOME", str(tmp_path_factory.mktemp("home")))
        patch.setenv("PROVENANCE_DEVICE", "cpu")
        yield Analyzer(load_default_detectors())
