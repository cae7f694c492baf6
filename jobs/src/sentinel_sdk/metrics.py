"""The metrics the contract supports. Train, tune and evaluate all use these, so numbers are comparable."""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt
from sklearn.metrics import accuracy_score, f1_score, log_loss, roc_auc_score

Mode = Literal["max", "min"]

# Direction in which each metric improves; also validates the (metric, mode) pair a stage receives.
METRIC_MODES: dict[str, Mode] = {"roc_auc": "max", "accuracy": "max", "f1": "max", "logloss": "min"}
THRESHOLD = 0.5


def compute(metric: str, y_true: npt.ArrayLike, prob: npt.ArrayLike) -> float:
    """Score positive-class probabilities against 0/1 labels."""
    y = np.asarray(y_true, dtype=np.int64)
    p = np.asarray(prob, dtype=np.float64)
    if y.shape != p.shape or y.ndim != 1:
        raise ValueError(f"labels and probabilities must be 1-D of equal length, got {y.shape} and {p.shape}")
    if y.size == 0:
        raise ValueError("cannot compute a metric on zero rows")
    if metric == "roc_auc":
        if np.unique(y).size < 2:
            raise ValueError("roc_auc is undefined when the labels contain a single class")
        return float(roc_auc_score(y, p))
    if metric == "logloss":
        return float(log_loss(y, np.clip(p, 1e-15, 1 - 1e-15), labels=[0, 1]))
    pred = (p >= THRESHOLD).astype(np.int64)
    if metric == "accuracy":
        return float(accuracy_score(y, pred))
    if metric == "f1":
        return float(f1_score(y, pred, zero_division=0.0))
    raise ValueError(f"unknown metric {metric!r}; supported: {', '.join(METRIC_MODES)}")


def is_better(metric: str, candidate: float, reference: float) -> bool:
    return candidate > reference if METRIC_MODES[metric] == "max" else candidate < reference
