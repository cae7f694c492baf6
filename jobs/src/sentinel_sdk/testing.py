"""Run a model's fit on one machine without Ray, for a user's own tests: `fit_locally(Model(), frame, ...)`.

The same FitRun, metrics and checkpoint format as the stages; checkpoints go to a folder you can resume from.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from sentinel_sdk.data import Data, frame_to_data
from sentinel_sdk.metrics import Task
from sentinel_sdk.model import FitRun, Model, ModelCard, checkpoint_iteration, example_rows, save_model_folder


@dataclass
class LocalFit:
    model: Any
    data: Data
    history: list[dict[str, Any]] = field(default_factory=list)
    checkpoints: list[str] = field(default_factory=list)

    @property
    def last(self) -> dict[str, Any]:
        return self.history[-1]


def fit_locally(
    model_def: Model[Any],
    data: Data | pd.DataFrame,
    *,
    target: str = "target",
    task: Task = "binary",
    metric: str | None = None,
    params: dict[str, Any] | None = None,
    iterations: int = 5,
    checkpoint_every: int = 1,
    checkpoint_root: str | None = None,
    resume_from: str | None = None,
    seed: int = 0,
) -> LocalFit:
    """Fits like the train stage does (one worker, no Ray). `resume_from` is a checkpoint folder from an earlier
    call's `checkpoints`."""
    from sentinel_sdk.metrics import metric_modes

    d = data if isinstance(data, Data) else frame_to_data(data, target, task, seed=seed)
    chosen = metric or next(iter(metric_modes(d.info.task)))
    root = checkpoint_root or tempfile.mkdtemp(prefix="sentinel-fit-")
    result = LocalFit(model=None, data=d)

    def sink(record: dict[str, Any], checkpoint_dir: str | None) -> None:
        result.history.append(record)
        if checkpoint_dir is not None:
            dest = os.path.join(root, f"checkpoint_{int(record['iteration']):06d}")
            shutil.copytree(checkpoint_dir, dest, dirs_exist_ok=True)
            result.checkpoints.append(dest)

    start = checkpoint_iteration(resume_from) if resume_from else 0
    run: FitRun[Any] = FitRun(
        model_def=model_def, params=model_def.parse_params(params or {}), data=d, iterations=iterations,
        metric=chosen, sink=sink, start_iteration=start or 0, restored_dir=resume_from if start else None,
        checkpoint_every=checkpoint_every, seed=seed,
    )
    result.model = model_def.fit(run)
    return result


def save_locally(model_def: Model[Any], fit: LocalFit, path: str, module: str, params: dict[str, Any] | None = None) -> str:
    """Writes a model folder (as the train stage does) for a locally fitted model, e.g. to test serving."""
    info = fit.data.info
    card = ModelCard(
        module=module, framework=model_def.framework, task=info.task, target=info.target, features=info.features,
        classes=info.classes, params=params or {}, iterations=int(fit.last["iteration"]) if fit.history else 0,
        example=None if model_def.Request is not None else example_rows(fit.data.validation.X),
    )
    return save_model_folder(model_def, fit.model, path, card)
