"""What train and tune share: reading the stage's model, data and params from the validated input."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from pydantic import BaseModel

from sentinel_sdk.contract import InvalidInput, StageInput, check_uri_param
from sentinel_sdk.data import Data, load_data
from sentinel_sdk.metrics import Mode, Task, mode_of
from sentinel_sdk.model import Model, load_model_def


@dataclass(frozen=True)
class ModelStage:
    task: Task
    target: str
    metric: str
    mode: Mode
    data_uri: str
    module: str
    model_def: Model[Any]
    base_params: dict[str, Any]
    params: BaseModel
    cpu: float
    gpu: int
    seed: int


def model_stage(si: StageInput) -> ModelStage:
    p = si.params
    task = cast(Task, p.text("task"))
    metric = p.text("metric")
    try:
        expected = mode_of(task, metric)
    except ValueError as e:
        raise InvalidInput(f"params.metric: {e}") from None
    mode = p.text("mode")
    if mode != expected:
        raise InvalidInput(f"params.mode must be {expected!r} for metric {metric!r}; got {mode!r}")
    model = p.obj("model")
    module = model.text("module")
    model_def = load_model_def(module, "params.model.module")
    if task not in model_def.tasks:
        raise InvalidInput(f"params.task: {module} supports {', '.join(model_def.tasks)}, not {task!r}")
    base = model.mapping("params", default={})
    params = model_def.parse_params(base, "params.model.params")
    resources = p.obj("resources")
    return ModelStage(
        task=task, target=p.text("target"), metric=metric, mode=mode, data_uri=check_uri_param(p, "dataUri"),
        module=module, model_def=model_def, base_params=base, params=params,
        cpu=resources.number("cpu", low=0.0), gpu=resources.integer("gpu", minimum=0), seed=p.integer("seed", minimum=0),
    )


def data_for(stage: ModelStage) -> Data:
    return load_data(stage.data_uri, stage.target, stage.task)
