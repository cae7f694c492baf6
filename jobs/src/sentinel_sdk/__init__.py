"""sentinel_sdk: bring your own model to Sentinel.

Write a `Model` (or subclass a framework base: `sentinel_sdk.xgboost.XGBoostModel`, `sentinel_sdk.sklearn.SklearnModel`,
`sentinel_sdk.lightning.LightningModel`, or `IterativeModel` for anything trained one iteration at a time); name it in
the spec's `model.module`. Sentinel reads the stage input, runs Ray Train and Ray Tune (ASHA), computes the task's
metrics, checkpoints and resumes, writes model folders and result.json, and serves the model.
"""

from sentinel_sdk.contract import InvalidInput, StageError, TrainingFailed, ValidationFailed
from sentinel_sdk.data import Data, DataInfo, Split
from sentinel_sdk.model import FitRun, IterativeModel, Model, ModelCard, Params, iterative

__all__ = [
    "Data",
    "DataInfo",
    "FitRun",
    "InvalidInput",
    "IterativeModel",
    "Model",
    "ModelCard",
    "Params",
    "Split",
    "StageError",
    "TrainingFailed",
    "ValidationFailed",
    "iterative",
]
