from __future__ import annotations

import math

import numpy as np
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


# --- Behaviour the stages rely on (mutation testing: scripts/mutation-py.sh) ------------------------------------


def test_tasks_and_unknown_names() -> None:
    assert metrics.tasks() == ["binary", "multiclass", "regression"]
    with pytest.raises(ValueError, match="unknown task 'ranking'"):
        metrics.metric_modes("ranking")
    with pytest.raises(ValueError, match=r"supported: rmse, mae, r2$"):
        metrics.mode_of("regression", "auc")
    assert metrics.mode_of("multiclass", "logloss") == "min"


def test_normalize_returns_the_canonical_float_shape_for_each_task() -> None:
    binary = metrics.normalize("binary", [1, 0])
    assert binary.dtype == np.float64 and binary.tolist() == [1.0, 0.0]
    assert metrics.normalize("binary", [[0.2, 0.8]]).tolist() == [0.8], "P(class 1) is the second column"
    for bad in ([[0.1, 0.2, 0.7]], [[[0.5]]], [[0.5]]):
        with pytest.raises(ValueError, match="binary model"):
            metrics.normalize("binary", bad)
    multi = metrics.normalize("multiclass", [[1, 0, 0]], 3)
    assert multi.dtype == np.float64 and multi.shape == (1, 3)
    assert metrics.normalize("multiclass", [[0.5, 0.5]]).shape == (1, 2), "any k without n_classes"
    for bad_multi in ([0.5, 0.5], [[[0.5]]]):
        with pytest.raises(ValueError, match=r"shape \(n, k\)"):
            metrics.normalize("multiclass", bad_multi)
    reg = metrics.normalize("regression", [[1], [2]])
    assert reg.dtype == np.float64 and reg.tolist() == [1.0, 2.0], "a single-column output is flattened"
    assert metrics.normalize("regression", [3, 4]).tolist() == [3.0, 4.0]
    with pytest.raises(ValueError, match="regression model"):
        metrics.normalize("regression", [[[1.0]]])


def test_compute_refuses_what_it_cannot_score() -> None:
    with pytest.raises(ValueError, match="zero rows"):
        metrics.compute("regression", "rmse", [], [])
    with pytest.raises(ValueError, match="predicted 2 non-finite values"):
        metrics.compute("regression", "rmse", [1, 2, 3], [1.0, float("nan"), float("inf")])
    with pytest.raises(ValueError, match="same number of rows"):
        metrics.compute("regression", "mae", [[1.0], [2.0]], [1.0, 2.0])
    with pytest.raises(ValueError, match="same number of rows"):
        metrics.compute("multiclass", "accuracy", [0], [[0.5, 0.5], [0.5, 0.5]])
    with pytest.raises(ValueError, match="not a metric of task 'regression'"):
        metrics.compute("regression", "accuracy", [1], [1.0])


def test_labels_are_class_codes_and_values_floats() -> None:
    # Float labels of a classification task are class codes (truncated like the ingest's encoding).
    assert metrics.compute("binary", "accuracy", [0.0, 1.0], [0.2, 0.9]) == 1.0
    # Regression keeps fractional targets.
    assert metrics.compute("regression", "mae", [0.5, 1.5], [0.5, 1.5]) == 0.0
    assert metrics.compute("regression", "rmse", [0.5], [0.0]) == pytest.approx(0.5)


def test_binary_scores_threshold_logloss_clipping_and_no_positive_predictions() -> None:
    y = [0, 1, 1, 0]
    assert metrics.compute("binary", "accuracy", y, [0.49, 0.5, 0.51, 0.0]) == 1.0, "0.5 counts as class 1"
    # Confidently wrong predictions are clipped, not infinite; the penalty is the same for 0 and for 1 - 1.
    worst = metrics.compute("binary", "logloss", [1, 0], [0.0, 1.0])
    assert math.isfinite(worst) and worst == pytest.approx(-math.log(1e-15), rel=1e-4)
    assert metrics.compute("binary", "logloss", [1, 1], [1.0, 1.0]) == pytest.approx(0.0, abs=1e-12)
    # One class only in the labels: logloss still scores (labels are [0, 1]), f1 with no positives is 0.
    assert metrics.compute("binary", "logloss", [0, 0], [0.1, 0.1]) == pytest.approx(-math.log(0.9))
    assert metrics.compute("binary", "f1", [0, 0], [0.1, 0.1]) == 0.0
    assert metrics.compute("binary", "f1", [1, 1], [0.9, 0.1]) == pytest.approx(2 / 3)


def test_multiclass_logloss_renormalizes_and_counts_every_class() -> None:
    # Rows that do not sum to one are renormalized; a zero probability is clipped, not infinite.
    assert metrics.compute("multiclass", "logloss", [0, 1], [[0.4, 0.4, 0.0], [0.2, 0.6, 0.0]]) == pytest.approx(-(math.log(0.5) + math.log(0.75)) / 2)
    # Probabilities above one are clipped to one first.
    assert metrics.compute("multiclass", "logloss", [0], [[2.0, 1.0, 0.0]]) == pytest.approx(-math.log(0.5))
    assert math.isfinite(metrics.compute("multiclass", "logloss", [2], [[1.0, 0.0, 0.0]]))
    # A class that never appears in the labels still counts (k from the prediction's columns).
    assert metrics.compute("multiclass", "logloss", [0, 0], [[0.9, 0.05, 0.05], [0.8, 0.1, 0.1]]) == pytest.approx(-(math.log(0.9) + math.log(0.8)) / 2)
    # Macro F1 over all k classes: a class never predicted nor present scores 0, it is not skipped.
    assert metrics.compute("multiclass", "f1_macro", [0, 1], [[0.9, 0.05, 0.05], [0.1, 0.8, 0.1]]) == pytest.approx(2 / 3)


def test_all_metrics_scores_every_metric_of_the_task() -> None:
    scores = metrics.all_metrics("regression", [1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 3.0, 6.0])
    assert scores == pytest.approx({"rmse": 1.0, "mae": 0.5, "r2": 0.2})
    assert list(metrics.all_metrics("binary", Y, [0.1, 0.2, 0.8, 0.9])) == ["roc_auc", "accuracy", "f1", "logloss"]
    assert metrics.all_metrics("binary", Y, [0.1, 0.2, 0.8, 0.9])["accuracy"] == 1.0


def test_is_better_is_strict_in_both_directions() -> None:
    assert not metrics.is_better("regression", "rmse", 1.0, 1.0)
    assert metrics.is_better("regression", "rmse", 0.9, 1.0)
    assert not metrics.is_better("regression", "r2", 0.4, 0.5)
