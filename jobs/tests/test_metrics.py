from __future__ import annotations

import math

import pytest

from sentinel_sdk import metrics

Y = [0, 0, 1, 1]


def test_roc_auc() -> None:
    assert metrics.compute("binary", "roc_auc", Y, [0.1, 0.2, 0.8, 0.9]) == 1.0
    assert metrics.compute("binary", "roc_auc", Y, [0.9, 0.8, 0.2, 0.1]) == 0.0
    assert metrics.compute("binary", "roc_auc", Y, [0.1, 0.6, 0.4, 0.9]) == 0.75


def test_accuracy_and_f1_threshold_at_half() -> None:
    prob = [0.2, 0.5, 0.7, 0.4]  # predictions 0, 1, 1, 0 -> TP=1, FP=1, FN=1
    assert metrics.compute("binary", "accuracy", Y, prob) == 0.5
    assert metrics.compute("binary", "f1", Y, prob) == 0.5
    assert metrics.compute("binary", "f1", Y, [0.1, 0.1, 0.1, 0.1]) == 0.0  # no positives predicted: 0, not an error


def test_logloss_matches_formula_and_clips() -> None:
    prob = [0.1, 0.3, 0.6, 0.8]
    expected = -sum(math.log(1 - p) if y == 0 else math.log(p) for y, p in zip(Y, prob, strict=True)) / 4
    assert metrics.compute("binary", "logloss", Y, prob) == pytest.approx(expected)
    assert math.isfinite(metrics.compute("binary", "logloss", Y, [1.0, 1.0, 0.0, 0.0]))


def test_errors() -> None:
    with pytest.raises(ValueError, match="single class"):
        metrics.compute("binary", "roc_auc", [1, 1], [0.2, 0.9])
    with pytest.raises(ValueError, match="'auc' is not a metric of task 'binary'"):
        metrics.compute("binary", "auc", Y, [0.5] * 4)
    with pytest.raises(ValueError, match="same number of rows"):
        metrics.compute("binary", "accuracy", Y, [0.5])


def test_direction() -> None:
    assert metrics.is_better("binary", "roc_auc", 0.9, 0.8)
    assert not metrics.is_better("binary", "roc_auc", 0.8, 0.8)
    assert metrics.is_better("binary", "logloss", 0.1, 0.2)
    assert not metrics.is_better("binary", "logloss", 0.3, 0.2)
    assert metrics.is_better("regression", "rmse", 1.0, 2.0) and metrics.is_better("regression", "r2", 0.5, 0.4)


def test_multiclass_metrics() -> None:
    y = [0, 1, 2, 2]
    prob = [[0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.1, 0.2, 0.7], [0.6, 0.3, 0.1]]  # last one wrong
    assert metrics.compute("multiclass", "accuracy", y, prob) == 0.75
    # per class F1: class 0 2/3 (1 TP, 1 FP), class 1 1.0, class 2 2/3 (1 TP, 1 FN)
    assert metrics.compute("multiclass", "f1_macro", y, prob) == pytest.approx((2 / 3 + 1 + 2 / 3) / 3)
    expected = -(math.log(0.8) + math.log(0.7) + math.log(0.7) + math.log(0.1)) / 4
    assert metrics.compute("multiclass", "logloss", y, prob) == pytest.approx(expected)
    with pytest.raises(ValueError, match="not a metric of task 'multiclass'"):
        metrics.compute("multiclass", "roc_auc", y, prob)


def test_regression_metrics() -> None:
    y, pred = [1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 3.0, 6.0]
    assert metrics.compute("regression", "rmse", y, pred) == pytest.approx(1.0)
    assert metrics.compute("regression", "mae", y, pred) == pytest.approx(0.5)
    assert metrics.compute("regression", "r2", y, pred) == pytest.approx(1 - 4 / 5)


def test_normalize_shapes() -> None:
    assert metrics.normalize("binary", [[0.7, 0.3], [0.1, 0.9]]).tolist() == [0.3, 0.9]
    with pytest.raises(ValueError, match=r"shape \(n, 3\)"):
        metrics.normalize("multiclass", [[0.5, 0.5]], 3)
    with pytest.raises(ValueError, match="regression model must predict values"):
        metrics.normalize("regression", [[1.0, 2.0]])


def test_modes_come_from_the_contract_vocabulary() -> None:
    assert metrics.metric_modes("regression") == {"rmse": "min", "mae": "min", "r2": "max"}
    assert set(metrics.metric_modes("binary")) == {"roc_auc", "accuracy", "f1", "logloss"}
