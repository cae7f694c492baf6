"""XGBoost helpers shared by train, tune, evaluate and serve."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import pandas as pd
import xgboost as xgb

from sentinel_jobs import metrics, storage
from sentinel_jobs.contract import InvalidInput, split_uri

# One thread per model: the jobs share a 2-core machine and Ray already runs workers/trials in parallel.
BASE_PARAMS: dict[str, Any] = {"objective": "binary:logistic", "tree_method": "hist", "nthread": 1, "seed": 0}
CHECKPOINT_FILE = "model.json"


@dataclass(frozen=True)
class Split:
    X: pd.DataFrame
    y: npt.NDArray[np.int64]

    @property
    def features(self) -> list[str]:
        return list(self.X.columns)


def load_split(data_uri: str, name: str, target: str, features: list[str] | None = None) -> Split:
    uri = split_uri(data_uri, name)
    try:
        df = storage.read_parquet(uri)
    except FileNotFoundError:
        raise InvalidInput(f"the {name} split {uri} does not exist; is dataUri the ingest stage folder?") from None
    if target not in df.columns:
        raise InvalidInput(f"the {name} split {uri} has no target column {target!r}")
    cols = [c for c in df.columns if c != target] if features is None else features
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise InvalidInput(f"the {name} split {uri} lacks the model's features: {', '.join(missing[:5])}")
    return Split(X=df[cols], y=df[target].to_numpy(dtype=np.int64))


def xgb_params(user: dict[str, Any]) -> dict[str, Any]:
    """User params override the defaults, except the objective: the whole system assumes P(class 1)."""
    return {**BASE_PARAMS, **user, "objective": "binary:logistic"}


def dmatrix(X: pd.DataFrame, y: npt.ArrayLike | None = None) -> xgb.DMatrix:
    return xgb.DMatrix(X, label=y, feature_names=list(X.columns))


def model_json(booster: xgb.Booster) -> bytes:
    return bytes(booster.save_raw(raw_format="json"))


def load_booster(uri: str) -> xgb.Booster:
    booster = xgb.Booster()
    try:
        booster.load_model(bytearray(storage.read_bytes(uri)))
    except FileNotFoundError:
        raise InvalidInput(f"model {uri} does not exist") from None
    except xgb.core.XGBoostError as e:
        raise InvalidInput(f"model {uri} is not a readable XGBoost model: {str(e).splitlines()[0]}") from None
    booster.set_param({"nthread": 1})
    if not booster.feature_names:
        raise InvalidInput(f"model {uri} has no feature names; it was not produced by sentinel_jobs")
    return booster


def predict(booster: xgb.Booster, X: pd.DataFrame) -> npt.NDArray[np.float64]:
    names = list(booster.feature_names or [])
    return np.asarray(booster.predict(dmatrix(X[names])), dtype=np.float64)


def score(booster: xgb.Booster, split: Split, metric: str) -> float:
    return metrics.compute(metric, split.y, predict(booster, split.X))


class MetricCallback(xgb.callback.TrainingCallback):
    """Scores the full validation split after every round with the same metric code evaluate uses,
    so train, tune and the promotion gate report comparable numbers (also covers f1/accuracy,
    which XGBoost does not compute natively)."""

    def __init__(self, metric: str, valid: Split, on_round: Callable[[xgb.Booster, int, float], None]) -> None:
        super().__init__()
        self._metric = metric
        self._y = valid.y
        self._dvalid = dmatrix(valid.X)
        self._on_round = on_round

    def after_iteration(self, model: xgb.Booster, epoch: int, evals_log: Any) -> bool:
        # num_boosted_rounds() is absolute, unlike `epoch`, which restarts at 0 on a resumed run.
        iteration = model.num_boosted_rounds()
        value = metrics.compute(self._metric, self._y, model.predict(self._dvalid))
        self._on_round(model, iteration, value)
        return False
