"""XGBoost on the SDK: one boosting round per iteration, data-parallel on Ray Train's XGBoost trainer.

Subclass `XGBoostModel` (or use it as is) and declare `Params` to change which XGBoost parameters a spec may set.
"""

from __future__ import annotations

import os
from typing import Any, ClassVar, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
import xgboost as xgb
from pydantic import BaseModel, Field

from sentinel_sdk.model import FitRun, IterativeModel, Params

MODEL_FILE = "model.json"


class XGBoostParams(Params):
    """The XGBoost parameters a spec may set (https://xgboost.readthedocs.io/en/stable/parameter.html)."""

    eta: float = Field(0.3, gt=0, le=1)
    max_depth: int = Field(6, ge=0, le=64)
    min_child_weight: float = Field(1.0, ge=0)
    subsample: float = Field(1.0, gt=0, le=1)
    colsample_bytree: float = Field(1.0, gt=0, le=1)
    gamma: float = Field(0.0, ge=0)
    reg_lambda: float = Field(1.0, ge=0, alias="lambda")
    reg_alpha: float = Field(0.0, ge=0, alias="alpha")
    max_bin: int = Field(256, ge=2)
    tree_method: Literal["hist", "approx", "exact"] = "hist"


class XGBoostModel(IterativeModel[xgb.Booster]):
    framework = "xgboost"
    trainer = "xgboost"
    distributed = True
    Params: ClassVar[type[BaseModel]] = XGBoostParams

    def __init__(self) -> None:
        self._dtrain: tuple[int, xgb.DMatrix] | None = None

    def booster_params(self, run: FitRun[xgb.Booster]) -> dict[str, Any]:
        info = run.data.info
        values = run.params.model_dump(by_alias=True)
        objective: dict[str, Any] = (
            {"objective": "binary:logistic"} if info.task == "binary"
            else {"objective": "multi:softprob", "num_class": info.n_classes} if info.task == "multiclass"
            else {"objective": "reg:squarederror"}
        )
        # One thread per model: Ray already runs workers and trials in parallel on few cores.
        return {**values, **objective, "nthread": 1, "seed": run.seed, **({"device": "cuda"} if run.use_gpu else {})}

    def _matrix(self, run: FitRun[xgb.Booster]) -> xgb.DMatrix:
        train = run.data.train
        if self._dtrain is None or self._dtrain[0] != id(train):
            self._dtrain = (id(train), xgb.DMatrix(train.X, label=train.y, feature_names=list(train.X.columns)))
        return self._dtrain[1]

    def create(self, run: FitRun[xgb.Booster]) -> xgb.Booster:
        return xgb.Booster(self.booster_params(run), [self._matrix(run)])

    def step(self, model: xgb.Booster, iteration: int, run: FitRun[xgb.Booster]) -> xgb.Booster:
        if iteration == run.start_iteration + 1 and run.start_iteration > 0:
            model.set_param(self.booster_params(run))  # a booster read from a checkpoint keeps no training params
        model.update(self._matrix(run), iteration - 1)
        return model

    def predict(self, model: xgb.Booster, X: pd.DataFrame) -> npt.ArrayLike:
        names = list(model.feature_names or X.columns)
        # In-place prediction on the feature matrix: the same numbers as predict(DMatrix(X)) (both see float32 values,
        # NaN as missing), without building a DMatrix from a DataFrame, which costs milliseconds per call (a serving
        # request pays it on every call; tested equal in test_serve.py).
        frame = X if list(X.columns) == names else X[names]
        return model.inplace_predict(frame.to_numpy(dtype=np.float32, na_value=np.nan))

    def save(self, model: xgb.Booster, path: str) -> None:
        model.save_model(os.path.join(path, MODEL_FILE))

    def load(self, path: str) -> xgb.Booster:
        booster = xgb.Booster(model_file=os.path.join(path, MODEL_FILE))
        booster.set_param({"nthread": 1})
        return booster
