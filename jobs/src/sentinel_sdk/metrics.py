"""Task-aware metrics. Train, tune and evaluate all score through here, so their numbers are comparable.

Which metrics a task has, and which way each improves, comes from the contract's `vocabulary.json` (generated from
the control plane's `core/tasks.ts`), not from this file.
"""

from __future__ import annotations

from functools import cache
from typing import Any, Literal, cast

import numpy as np
import numpy.typing as npt
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    log_loss,
    mean_absolute_error,
    mean_squared_error,
    r2_score,
    roc_auc_score,
)

from sentinel_sdk.contract import schema

Task = Literal["binary", "multiclass", "regression"]
Mode = Literal["max", "min"]
THRESHOLD = 0.5
_EPS = 1e-15


@cache
def metric_modes(task: str) -> dict[str, Mode]:
    tasks: dict[str, Any] = schema("vocabulary")["tasks"]
    if task not in tasks:
        raise ValueError(f"unknown task {task!r}; supported: {', '.join(tasks)}")
    return {name: cast(Mode, mode) for name, mode in tasks[task]["metrics"].items()}


def tasks() -> list[str]:
    return list(schema("vocabulary")["tasks"])


def mode_of(task: str, metric: str) -> Mode:
    modes = metric_modes(task)
    if metric not in modes:
        raise ValueError(f"{metric!r} is not a metric of task {task!r}; supported: {', '.join(modes)}")
    return modes[metric]


def normalize(task: str, pred: npt.ArrayLike, n_classes: int | None = None) -> npt.NDArray[np.float64]:
    """A model's raw predict output in the task's canonical shape: binary P(class 1) (n,), multiclass (n, k)
    probabilities, regression (n,) values. A binary model may also return (n, 2) probabilities."""
    p = np.asarray(pred, dtype=np.float64)
    if task == "binary":
        if p.ndim == 2 and p.shape[1] == 2:
            p = p[:, 1]
        if p.ndim != 1:
            raise ValueError(f"a binary model must predict P(class 1) of shape (n,) or (n, 2); got shape {p.shape}")
        return p
    if task == "multiclass":
        if p.ndim != 2 or (n_classes is not None and p.shape[1] != n_classes):
            raise ValueError(f"a multiclass model must predict probabilities of shape (n, {n_classes or 'k'}); got shape {p.shape}")
        return p
    if p.ndim == 2 and p.shape[1] == 1:
        p = p[:, 0]
    if p.ndim != 1:
        raise ValueError(f"a regression model must predict values of shape (n,); got shape {p.shape}")
    return p


def compute(task: str, metric: str, y_true: npt.ArrayLike, pred: npt.ArrayLike) -> float:
    """Scores normalized predictions against the split's target (class codes or values)."""
    mode_of(task, metric)
    p = np.asarray(pred, dtype=np.float64)
    if p.shape[0] == 0:
        raise ValueError("cannot compute a metric on zero rows")
    if not np.all(np.isfinite(p)):
        raise ValueError(f"the model predicted {int((~np.isfinite(p)).sum())} non-finite values")
    if task == "regression":
        y = np.asarray(y_true, dtype=np.float64)
        _same_length(y, p)
        if metric == "rmse":
            return float(np.sqrt(mean_squared_error(y, p)))
        if metric == "mae":
            return float(mean_absolute_error(y, p))
        return float(r2_score(y, p))
    yc = np.asarray(y_true, dtype=np.int64)
    _same_length(yc, p)
    if task == "binary":
        if metric == "roc_auc":
            if np.unique(yc).size < 2:
                raise ValueError("roc_auc is undefined when the labels contain a single class")
            return float(roc_auc_score(yc, p))
        if metric == "logloss":
            return float(log_loss(yc, np.clip(p, _EPS, 1 - _EPS), labels=[0, 1]))
        label = (p >= THRESHOLD).astype(np.int64)
        if metric == "accuracy":
            return float(accuracy_score(yc, label))
        return float(f1_score(yc, label, zero_division=0.0))
    k = p.shape[1]
    if metric == "logloss":
        clipped = np.clip(p, _EPS, 1.0)
        return float(log_loss(yc, clipped / clipped.sum(axis=1, keepdims=True), labels=list(range(k))))
    label = p.argmax(axis=1)
    if metric == "accuracy":
        return float(accuracy_score(yc, label))
    return float(f1_score(yc, label, average="macro", labels=list(range(k)), zero_division=0.0))


def _same_length(y: npt.NDArray[Any], p: npt.NDArray[Any]) -> None:
    if y.ndim != 1 or y.shape[0] != p.shape[0]:
        raise ValueError(f"labels and predictions must have the same number of rows, got {y.shape} and {p.shape}")


def all_metrics(task: str, y_true: npt.ArrayLike, pred: npt.ArrayLike) -> dict[str, float]:
    return {name: compute(task, name, y_true, pred) for name in metric_modes(task)}


def is_better(task: str, metric: str, candidate: float, reference: float) -> bool:
    return candidate > reference if mode_of(task, metric) == "max" else candidate < reference
