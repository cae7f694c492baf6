"""{{name}}'s model: XGBoost through sentinel_sdk. Sentinel runs it on Ray Train (one boosting round per iteration),
tunes it with Ray Tune + ASHA over the spec's searchSpace, checkpoints and resumes it, and serves it.

Change `Params` to declare which parameters the spec may set (a typo in the spec then fails before any compute),
or override `booster_params` to add your own.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from sentinel_sdk.model import FitRun
from sentinel_sdk.xgboost import XGBoostModel, XGBoostParams


class Params(XGBoostParams):
    # Add your own parameters here, with their bounds; they reach booster_params as run.params.
    scale_pos_weight: float = Field(1.0, gt=0)


class Model(XGBoostModel):
    Params = Params

    def booster_params(self, run: FitRun[Any]) -> dict[str, Any]:
        return {**super().booster_params(run), "eval_metric": "auc"}
