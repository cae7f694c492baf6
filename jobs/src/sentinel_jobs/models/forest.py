"""The reference scikit-learn model: a random forest for classification or regression, grown a share of its trees
per iteration (so ASHA can stop weak configurations early): `model: {module: sentinel_jobs.models.forest}`."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

from sentinel_sdk.data import DataInfo
from sentinel_sdk.model import Params
from sentinel_sdk.sklearn import SklearnModel


class ForestParams(Params):
    n_estimators: int = Field(100, ge=1, le=5000)
    max_depth: int | None = Field(None, ge=1, le=200)
    min_samples_leaf: int = Field(1, ge=1)
    max_features: Literal["sqrt", "log2"] | float | None = "sqrt"


class Model(SklearnModel):
    Params = ForestParams

    def estimator(self, params: BaseModel, info: DataInfo, seed: int) -> Any:
        p = ForestParams.model_validate(params.model_dump())
        kwargs: dict[str, Any] = {
            "n_estimators": p.n_estimators, "max_depth": p.max_depth, "min_samples_leaf": p.min_samples_leaf,
            "random_state": seed, "n_jobs": 1,
        }
        if info.task == "regression":
            return RandomForestRegressor(max_features=p.max_features or 1.0, **kwargs)
        return RandomForestClassifier(max_features=p.max_features, **kwargs)
