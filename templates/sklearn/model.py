"""{{name}}'s model: a scikit-learn estimator through sentinel_sdk. An estimator with `warm_start` and
`n_estimators` grows a share of its estimators per iteration (so ASHA stops weak ones early); any other is fitted
once at iteration 1 (then use `iterations: 1`). Classifiers need predict_proba.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field
from sklearn.ensemble import ExtraTreesClassifier, ExtraTreesRegressor

from sentinel_sdk.data import DataInfo
from sentinel_sdk.model import Params as BaseParams
from sentinel_sdk.sklearn import SklearnModel


class Params(BaseParams):
    n_estimators: int = Field(50, ge=1, le=2000)
    max_depth: int | None = Field(None, ge=1, le=100)


class Model(SklearnModel):
    Params = Params

    def estimator(self, params: BaseModel, info: DataInfo, seed: int) -> Any:
        p = Params.model_validate(params.model_dump())
        cls = ExtraTreesRegressor if info.task == "regression" else ExtraTreesClassifier
        return cls(n_estimators=p.n_estimators, max_depth=p.max_depth, random_state=seed, n_jobs=1)
