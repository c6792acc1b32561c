"""`provenance detect`: JSON shape, table output, per-file errors and exit codes."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from cli.detect_cmd import app
from tests.cli_json import envelope
from tests.detect.ens_helpers import textured_image


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("PROVENANCE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PROVENANCE_DEVICE", "cpu")
    return tmp_path


def test_json_output_per_file_and_nonzero_exit_on_bad_input(env):
    good = env / "good.png"
    textured_image(20, 300).save(good)
    bad = env / "bad.jpg"
    bad.write_text("plain text")
    result = CliRunner().invoke(app, [str(good), str(bad), str(env / "missing.png"), "--json"])
    assert result.exit_code == 1, result.output
    payload = envelope(result.stdout, "detect")
    first, second, third = payload["files"]
    assert payload["ok"] is False and payload["exit_code"] == 1 and payload["status"] == "error"
    assert [e["file"] for e in payload["errors"]] == [str(bad), str(env / "missing.png")]
    assert first["file"] == str(good)
    assert first["label"] in {"likely_authentic", "uncertain", "likely_manipulated"}
    assert 0.0 <= first["score"] <= 1.0 and 0.0 < first["threshold"] < 1.0
    assert {"spectral", "effnet-lite0-probe"} <= {d["name"] for d in first["detectors"]}
    for detector in first["detectors"]:
        assert ("score" in detector and "version" in detector) or (detector["skipped"] and detector["reason"])
    assert first["faces"] == 0
    assert "not a readable image" in second["error"]
    assert "no such file" in third["error"]
    assert "Traceback" not in result.output
    assert result.stderr.count("error:") == 2


def test_table_output_and_success_exit(env):
    good = env / "good.png"
    textured_image(21, 256).save(good)
    result = CliRunner().invoke(app, [str(good)])
    assert result.exit_code == 0, result.output
    assert "good.png" in result.stdout and "spectral=" in result.stdout


def test_table_names_a_detector_skipped_on_every_file_once(env):
    paths = []
    for seed in (22, 23):
        paths.append(env / f"image{seed}.png")
        textured_image(seed, 256).save(paths[-1])
    result = CliRunner().invoke(app, [str(p) for p in paths])
    assert result.exit_code == 0, result.output
    # No weights for CNNDetection are installed here: one line under the table says so, not one per row.
    lines = [line for line in result.stdout.splitlines() if "cnndetection" in line]
    assert len(lines) == 1 and lines[0].startswith("cnndetection: skipped (cnndetection weights not installed"), lines
    assert result.stdout.count("spectral=") == 2
