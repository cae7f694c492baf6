from __future__ import annotations

import math

import pytest

from sentinel_jobs import metrics

Y = [0, 0, 1, 1]


def test_roc_auc() -> None:
    assert metrics.compute("roc_auc", Y, [0.1, 0.2, 0.8, 0.9]) == 1.0
    assert metrics.compute("roc_auc", Y, [0.9, 0.8, 0.2, 0.1]) == 0.0
    assert metrics.compute("roc_auc", Y, [0.1, 0.6, 0.4, 0.9]) == 0.75


def test_accuracy_and_f1_threshold_at_half() -> None:
    prob = [0.2, 0.5, 0.7, 0.4]  # predictions 0, 1, 1, 0 -> TP=1, FP=1, FN=1
    assert metrics.compute("accuracy", Y, prob) == 0.5
    assert metrics.compute("f1", Y, prob) == 0.5
    assert metrics.compute("f1", Y, [0.1, 0.1, 0.1, 0.1]) == 0.0  # no positives predicted: 0, not an error


def test_logloss_matches_formula_and_clips() -> None:
    prob = [0.1, 0.3, 0.6, 0.8]
    expected = -sum(math.log(1 - p) if y == 0 else math.log(p) for y, p in zip(Y, prob, strict=True)) / 4
    assert metrics.compute("logloss", Y, prob) == pytest.approx(expected)
    assert math.isfinite(metrics.compute("logloss", Y, [1.0, 1.0, 0.0, 0.0]))


def test_errors() -> None:
    with pytest.raises(ValueError, match="single class"):
        metrics.compute("roc_auc", [1, 1], [0.2, 0.9])
    with pytest.raises(ValueError, match="unknown metric 'auc'"):
        metrics.compute("auc", Y, [0.5] * 4)
    with pytest.raises(ValueError, match="equal length"):
        metrics.compute("accuracy", Y, [0.5])


def test_direction() -> None:
    assert metrics.is_better("roc_auc", 0.9, 0.8)
    assert not metrics.is_better("roc_auc", 0.8, 0.8)
    assert metrics.is_better("logloss", 0.1, 0.2)
    assert not metrics.is_better("logloss", 0.3, 0.2)
