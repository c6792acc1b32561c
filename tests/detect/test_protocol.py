"""The evaluation protocol's arithmetic: bootstrap intervals, per-group figures, the confound baseline."""

from __future__ import annotations

import numpy as np
from PIL import Image

from detect.train.protocol import bootstrap_auc, confound_baseline, confound_features, per_group, rate_interval


def test_bootstrap_interval_brackets_the_auc_and_shrinks_with_more_data():
    rng = np.random.default_rng(0)
    small_y = np.r_[np.ones(20), np.zeros(20)]
    small = bootstrap_auc(small_y, small_y + rng.normal(0, 1.0, 40), rounds=300)
    big_y = np.r_[np.ones(400), np.zeros(400)]
    big = bootstrap_auc(big_y, big_y + rng.normal(0, 1.0, 800), rounds=300)
    for figure in (small, big):
        assert figure.low <= figure.auc <= figure.high
    assert (big.high - big.low) < (small.high - small.low)
    assert 0.70 < big.auc < 0.82  # two unit normals one apart: AUC = Phi(1/sqrt 2) = 0.76
    chance = bootstrap_auc(big_y, np.random.default_rng(2).normal(0, 1, 800), rounds=300)  # a 95% interval: fixed draw
    assert chance.low < 0.5 < chance.high
    perfect = bootstrap_auc([1, 1, 0, 0], [0.9, 0.8, 0.2, 0.1], rounds=50)
    assert (perfect.auc, perfect.low, perfect.high) == (1.0, 1.0, 1.0)
    assert np.isnan(bootstrap_auc([1, 1], [0.1, 0.2]).auc)  # one class only: no figure, not an error


def test_per_group_compares_each_family_with_all_reals():
    labels = [1, 1, 1, 1, 0, 0, 0, 0]
    scores = [0.9, 0.8, 0.1, 0.2, 0.5, 0.4, 0.6, 0.3]
    groups = ["gan", "gan", "diffusion", "diffusion", "photo", "photo", "photo", "photo"]
    figures = per_group(labels, scores, groups, rounds=50)
    assert set(figures) == {"gan", "diffusion"}
    assert figures["gan"].auc == 1.0 and figures["diffusion"].auc == 0.0
    assert figures["gan"].reals == 4 and figures["gan"].fakes == 2


def test_rate_interval_is_wilson():
    p, low, high = rate_interval(0, 50)
    assert p == 0 and low == 0 and 0.05 < high < 0.08  # the rule of three, roughly
    p, low, high = rate_interval(5, 100)
    assert p == 0.05 and low < 0.05 < high


def test_confound_baseline_finds_a_format_leak(tmp_path):
    """Fakes stored as PNG and reals as JPEG: the baseline separates them without looking at a pixel."""
    rng = np.random.default_rng(1)
    features, labels = [], []
    for n in range(24):
        pixels = rng.integers(0, 256, (48 + n, 64, 3), dtype=np.uint8)
        fake = n % 2 == 0
        path = tmp_path / f"{n}.{'png' if fake else 'jpg'}"
        Image.fromarray(pixels).save(path)
        features.append(confound_features(path))
        labels.append(int(fake))
    scores = confound_baseline(features[:16], labels[:16], features[16:])
    assert bootstrap_auc(labels[16:], scores, rounds=50).auc == 1.0
    # Formats shared by both classes: nothing to learn from the format columns.
    assert confound_features(tmp_path / "0.png")[3:6] == [0.0, 1.0, 0.0]
