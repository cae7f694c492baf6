"""The reference XGBoost model (binary, multiclass and regression): `model: {module: sentinel_jobs.models.xgboost}`."""

from __future__ import annotations

from sentinel_sdk.xgboost import XGBoostModel, XGBoostParams


class Model(XGBoostModel):
    """XGBoost as it comes: the objective follows the task; the spec sets the parameters XGBoostParams declares."""

    Params = XGBoostParams
