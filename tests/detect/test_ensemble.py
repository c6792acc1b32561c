"""Ensemble: calibration, fusion rule, labels, configuration file, fitting."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import numpy as np
import pytest

from detect.base import Label
from detect.ensemble import (
    DEFAULT_CONFIG,
    Calibration,
    EnsembleConfig,
    EnsembleError,
    load_ensemble,
    logit,
    sigmoid,
)
from detect.train.fit_ensemble import choose_rule, fit_ensemble, fit_stacking, usable_for_split, write_fitted


def test_logit_and_sigmoid_invert_each_other_and_saturate_safely():
    for p in (0.01, 0.3, 0.5, 0.9):
        assert sigmoid(logit(p)) == pytest.approx(p)
    assert math.isfinite(logit(0.0)) and math.isfinite(logit(1.0))
    assert sigmoid(-800) == 0.0 and sigmoid(800) == 1.0


def test_skipped_detector_counts_as_no_evidence():
    config = EnsembleConfig(calibrations={"a": Calibration(2.0, 0.0), "b": Calibration(1.0, 0.0)}, weights={"a": 1.0, "b": 1.0})
    alone = config.fuse({"a": 0.8})
    assert alone == pytest.approx(config.fuse({"a": 0.8, "b": 0.5}))
    assert alone == pytest.approx(sigmoid(2 * logit(0.8)))
    assert config.fuse({}) == 0.5


def test_weights_and_calibration_shape_the_fused_score():
    config = EnsembleConfig(calibrations={"a": Calibration(1.0, -1.0)}, weights={"a": 0.0, "b": 2.0}, bias=0.25, default_weight=0.5)
    # 'a' has weight 0; 'b' counts twice; 'c' is unknown and gets the default weight, identity calibration.
    expected = sigmoid(0.25 + 2.0 * logit(0.7) + 0.5 * logit(0.9))
    assert config.fuse({"a": 0.99, "b": 0.7, "c": 0.9}) == pytest.approx(expected)


def test_labels_follow_the_band():
    config = EnsembleConfig(low=0.3, threshold=0.5, high=0.7)
    assert config.label(0.29) is Label.AUTHENTIC
    assert config.label(0.3) is Label.UNCERTAIN
    assert config.label(0.69) is Label.UNCERTAIN
    assert config.label(0.7) is Label.MANIPULATED


@pytest.mark.parametrize("kwargs", [{"low": 0.6, "threshold": 0.5}, {"high": 1.0}, {"weights": {"a": -1.0}}])
def test_invalid_configurations_are_refused(kwargs):
    with pytest.raises(EnsembleError):
        EnsembleConfig(**kwargs)


def test_configuration_round_trip_and_errors(tmp_path):
    config = EnsembleConfig(calibrations={"x": Calibration(0.5, 0.1)}, weights={"x": 1.5}, bias=-0.2, fitted_on="t")
    path = tmp_path / "ensemble.json"
    path.write_text(config.to_json())
    assert load_ensemble(path) == config
    assert load_ensemble(tmp_path / "absent.json") == EnsembleConfig()
    path.write_text("{not json")
    with pytest.raises(EnsembleError, match="malformed"):
        load_ensemble(path)


def test_shipped_configuration_is_fitted():
    config = load_ensemble(DEFAULT_CONFIG)
    assert "calib" in config.fitted_on
    assert {"spectral", "effnet-lite0-probe", "npr-cnn", "npr-cnn-face"} <= set(config.weights)
    # Fitted on the built data set's calib split (at least 200 files), the band from its held-out scores.
    assert "data set 'calib' split" in config.fitted_on and "band from the leave-one-out scores" in config.rule
    # Videos with faces: the rule fitted on compressed calib face crops, which gives whole-image detectors no weight.
    video = config.video
    assert video is not None and "H.264" in video.fitted_on and "compressed calib face crops" in video.rule
    assert {name for name, w in video.weights.items() if w > 0} <= {"npr-cnn-face", "effnet-lite0-face", "meso4-df"}
    assert all(video.weights[name] == 0 for name in ("npr-cnn", "effnet-lite0-probe", "spectral"))


def _synthetic_rows(seed: int = 0, n: int = 200):
    rng = np.random.default_rng(seed)
    labels = [int(v) for v in rng.integers(0, 2, n)]
    rows = []
    for y in labels:
        good = 1 / (1 + math.exp(-(3.0 * (2 * y - 1) + rng.normal(0, 1.0))))  # separates the classes
        inverted = 1 - good  # informative, but the wrong way round
        rows.append({"good": good, "noise": float(rng.random()), "inverted": inverted})
    rows[0]["rare"] = 0.9  # seen once: too little to calibrate
    return rows, labels


def test_fit_calibrates_informative_detectors_and_silences_the_rest():
    rows, labels = _synthetic_rows()
    config = fit_ensemble(rows, labels, "synthetic")
    assert config.calibrations["good"].slope > 0.5
    assert config.calibrations["noise"].slope < 0.3 * config.calibrations["good"].slope
    # Never inverted: a non-positive slope gives weight 0, with the reason recorded.
    assert config.weights["inverted"] == 0.0 and "not positive" in config.reasons["inverted"]
    assert config.weights["rare"] == 0.0 and "too little calibration data" in config.reasons["rare"]
    assert "good" not in config.reasons
    only_good = [config.fuse({"good": r["good"]}) for r in rows]
    accuracy = np.mean([(f >= config.threshold) == bool(y) for f, y in zip(only_good, labels)])
    assert accuracy > 0.9


def test_usable_rows_limit_what_each_detector_is_calibrated_on():
    rows, labels = _synthetic_rows(1)
    config = fit_ensemble(rows, labels, "synthetic", usable_for=lambda name, i: name != "good" or i < 2)
    assert config.weights["good"] == 0.0  # two rows are not enough to calibrate on


def test_stacking_keeps_weights_non_negative():
    rows, labels = _synthetic_rows(2)
    for row in rows:
        del row["inverted"]
    stacked = fit_stacking(rows, labels, fit_ensemble(rows, labels, "synthetic"))
    assert all(w >= 0 for w in stacked.weights.values())
    assert stacked.weights["good"] > stacked.weights["noise"]


def test_the_rule_is_chosen_by_leave_one_out_on_calib_and_recorded(tmp_path):
    rows, labels = _synthetic_rows(3, n=40)
    where = ["calib"] * 24 + ["train"] * 16
    best, figures = choose_rule(rows, labels, where, usable_for_split)
    assert set(figures) >= {"stacking l2=0.1", "single good"} and "single inverted" not in figures
    assert figures[best][0] >= max(auc for auc, _ in figures.values())
    assert figures[best][0] > 0.9 and best != "single noise"
    out = tmp_path / "ensemble.json"
    write_fitted(rows, labels, where, out, log=lambda _line: None)
    config = load_ensemble(out)
    assert config.rule.startswith(best) and "leave-one-out" in config.rule
    # Every known detector is in the file; each with weight 0 says why.
    assert set(config.weights) == {"good", "noise", "inverted", "rare"}
    assert all(config.reasons.get(n) for n, w in config.weights.items() if w == 0)


def test_the_uncertain_band_comes_from_held_out_calib_scores():
    from detect.train.fit_ensemble import band_from_scores

    rng = np.random.default_rng(4)
    reals = list(rng.uniform(0.0, 0.7, 400))
    fakes = list(rng.uniform(0.3, 1.0, 400))
    low, threshold, high = band_from_scores(reals, fakes)
    assert low <= threshold <= high
    assert np.mean(np.asarray(reals) >= high) <= 0.05 + 1e-9  # false alarms held at 5%
    assert np.mean(np.asarray(fakes) < low) <= 0.05 + 1e-9  # misses held at 5%
    assert 0.6 < high < 0.7 and 0.3 < low < 0.4
    # Two bell curves meeting at 0.5: the balanced-accuracy threshold sits where they meet.
    _low, threshold, _high = band_from_scores(list(rng.normal(0.35, 0.1, 2000)), list(rng.normal(0.65, 0.1, 2000)))
    assert 0.47 < threshold < 0.53
    config = EnsembleConfig(low=low, threshold=threshold, high=high)
    assert config.label(0.99) == Label.MANIPULATED and config.label(0.5) == Label.UNCERTAIN


def test_a_large_calib_split_sets_the_band_in_the_written_file(tmp_path):
    rows, labels = _synthetic_rows(5, n=240)
    where = ["calib"] * 240
    out = tmp_path / "ensemble.json"
    write_fitted(rows, labels, where, out, log=lambda _line: None)
    config = load_ensemble(out)
    assert (config.low, config.high) != (0.35, 0.65) and "band from the leave-one-out scores" in config.rule
    small = tmp_path / "small.json"
    write_fitted(rows[:40], labels[:40], where[:40], small, log=lambda _line: None)
    assert (load_ensemble(small).low, load_ensemble(small).high) == (0.35, 0.65)  # too few to set it


def test_the_video_rule_round_trips_and_applies_only_to_videos_with_faces(tmp_path):
    still = EnsembleConfig(weights={"still": 1.0}, bias=0.1, threshold=0.5)
    video = EnsembleConfig(weights={"face": 2.0, "still": 0.0}, bias=-0.3, low=0.2, threshold=0.4, high=0.6, rule="video rule")
    config = replace(still, video=video)
    path = tmp_path / "ensemble.json"
    path.write_text(config.to_json())
    loaded = load_ensemble(path)
    assert loaded == config and loaded.video == video
    assert loaded.for_video(True) is loaded.video and loaded.for_video(False) is loaded
    assert still.for_video(True) is still  # no video rule: videos are fused like stills
    # A file without a video section is read as before, and writes none.
    assert "video" not in json.loads(still.to_json())
    # A video rule inside the video rule, or one that is not an object, is refused.
    raw = json.loads(config.to_json())
    raw["video"]["video"] = raw["video"].copy()
    path.write_text(json.dumps(raw))
    with pytest.raises(EnsembleError, match="video"):
        load_ensemble(path)
    raw["video"] = [1, 2]
    path.write_text(json.dumps(raw))
    with pytest.raises(EnsembleError, match="video"):
        load_ensemble(path)


def test_fitting_the_video_rule_keeps_the_informative_face_detector_and_sets_a_band():
    from detect.train.fit_video import fit_video_rule

    rng = np.random.default_rng(3)
    labels = [int(v) for v in rng.integers(0, 2, 240)]
    rows = [{"face-good": 1 / (1 + math.exp(-(2.0 * (2 * y - 1) + rng.normal(0, 1.0)))), "face-noise": float(rng.random())} for y in labels]
    config = fit_video_rule(rows, labels, "synthetic", log=lambda line: None)
    assert config.weights["face-good"] > 0
    assert 0 < config.low <= config.threshold <= config.high < 1
    assert "compressed calib face crops" in config.rule and "band from their leave-one-out scores" in config.rule
    fakes = [config.fuse(r) for r, y in zip(rows, labels) if y]
    reals = [config.fuse(r) for r, y in zip(rows, labels) if not y]
    assert np.mean(fakes) > np.mean(reals)


def test_the_crf_of_a_calibration_crop_is_fixed_by_its_path_and_spans_c23_to_c40():
    from detect.train.data import Item
    from detect.train.fit_video import CRF_RANGE, crf_of

    def item(path: str) -> Item:
        return Item(
            path=path,
            source="s",
            label="real",
            family="f",
            generator="g",
            content="face",
            task="face",
            split="calib",
            group="g",
            licence="l",
            sha256="0" * 64,
        )

    crfs = [crf_of(item(f"ff/{n}.png")) for n in range(200)]
    assert crfs == [crf_of(item(f"ff/{n}.png")) for n in range(200)]
    assert min(crfs) == CRF_RANGE[0] and max(crfs) == CRF_RANGE[1]
