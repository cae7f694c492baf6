"""What a user implements (a `Model`), what Sentinel hands it while training (a `FitRun`), and model folders.

A model definition says how to train (`fit`, reporting every iteration through the FitRun), predict, save and load.
Sentinel does the rest: stage input, Ray Train / Ray Tune wiring, validation metrics, checkpoints and resume,
model folders with their card, result.json, serving.
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
import shutil
import sys
import tempfile
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar, Generic, Protocol, TypeVar

import numpy as np
import numpy.typing as npt
import pandas as pd
from pydantic import BaseModel, ConfigDict, ValidationError

from sentinel_sdk import metrics, storage
from sentinel_sdk.contract import InvalidInput, StageError
from sentinel_sdk.data import Data, DataInfo
from sentinel_sdk.metrics import Task

M = TypeVar("M")
CARD_FILE = "sentinel-model.json"
CHECKPOINT_MARKER = "sentinel-checkpoint.json"
ALL_TASKS: tuple[Task, ...] = ("binary", "multiclass", "regression")


class Params(BaseModel):
    """Base for a model's parameters: unknown keys are errors, so a typo in the spec fails before any compute."""

    model_config = ConfigDict(extra="forbid")


class NoParams(Params):
    pass


@dataclass
class ModelCard:
    """`sentinel-model.json`: what a model folder holds, so evaluate and serving can load any model."""

    module: str
    framework: str
    task: Task
    target: str
    features: list[str]
    classes: list[Any] | None
    params: dict[str, Any]
    iterations: int
    pipeline: str = ""
    run_id: str = ""
    example: dict[str, Any] | None = None
    format: int = 1

    @staticmethod
    def from_json(data: Mapping[str, Any], where: str) -> ModelCard:
        try:
            return ModelCard(**{k: v for k, v in data.items() if k in ModelCard.__dataclass_fields__})
        except TypeError as e:
            raise InvalidInput(f"{where} is not a Sentinel model card: {e}") from None

    @property
    def info(self) -> DataInfo:
        return DataInfo(task=self.task, target=self.target, features=list(self.features), classes=self.classes)


class Model(ABC, Generic[M]):
    """A model definition. Subclass one of the framework bases (`XGBoostModel`, `SklearnModel`, `LightningModel`,
    `IterativeModel`) or this class directly."""

    framework: ClassVar[str] = "custom"
    tasks: ClassVar[tuple[Task, ...]] = ALL_TASKS
    Params: ClassVar[type[BaseModel]] = NoParams
    #: numWorkers > 1 allowed (Ray Train data-parallel: each worker gets a shard of the training split).
    distributed: ClassVar[bool] = False
    #: The Ray Train trainer that runs fit on each worker: "data_parallel", "xgboost" or "torch".
    trainer: ClassVar[str] = "data_parallel"
    #: The serving request body schema; None means the tabular `{"rows": [{feature: value}]}`.
    Request: ClassVar[type[BaseModel] | None] = None

    @abstractmethod
    def fit(self, run: FitRun[M]) -> M:
        """Train up to `run.iterations`, calling `run.report(iteration, model)` after each; return the model."""

    @abstractmethod
    def predict(self, model: M, X: pd.DataFrame) -> npt.ArrayLike:
        """binary: P(class 1), shape (n,) or (n, 2); multiclass: (n, k) probabilities; regression: (n,) values."""

    @abstractmethod
    def save(self, model: M, path: str) -> None:
        """Write the trained model into the existing local folder `path`."""

    @abstractmethod
    def load(self, path: str) -> M:
        """Read what `save` wrote."""

    def load_checkpoint(self, path: str) -> M:
        """Read a checkpoint folder (what `report(write_checkpoint=...)` wrote; by default `save`'s format)."""
        return self.load(path)

    def respond(self, model: M, request: BaseModel, card: ModelCard) -> dict[str, Any]:
        """Serving: answer a validated request (only called when `Request` is set). Raise ValueError for a bad one."""
        raise NotImplementedError(f"{type(self).__name__} sets Request but does not implement respond()")

    def example(self, card: ModelCard) -> dict[str, Any] | None:
        """An example request body, shown by GET <route>. None: Sentinel uses a few validation rows."""
        return None

    # Sentinel's side -------------------------------------------------------------------------------------------

    def parse_params(self, raw: Mapping[str, Any], where: str = "model.params") -> BaseModel:
        try:
            return self.Params.model_validate(dict(raw))
        except ValidationError as e:
            raise InvalidInput(params_errors(e, where)) from None

    def predictions(self, model: M, X: pd.DataFrame, info: DataInfo) -> npt.NDArray[np.float64]:
        try:
            raw = self.predict(model, X)
        except StageError:
            raise
        except Exception as e:
            raise StageError(f"{type(self).__name__}.predict failed: {type(e).__name__}: {e}") from e
        try:
            return metrics.normalize(info.task, raw, info.n_classes)
        except ValueError as e:
            raise StageError(f"{type(self).__name__}.predict: {e}") from None


def params_errors(error: ValidationError, where: str) -> str:
    parts = []
    for item in error.errors()[:5]:
        loc = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in item["loc"])
        parts.append(f"{where}{loc}: {item['msg']}")
    return "; ".join(parts)


class Sink(Protocol):
    """Where a FitRun's reports go: Ray Train, Ray Tune, or a list (tests)."""

    def __call__(self, metrics: dict[str, Any], checkpoint_dir: str | None, /) -> None: ...


@dataclass
class Timing:
    """Seconds spent, for the benchmark's floor: the model's own compute against Sentinel's and Ray's share."""

    user: float = 0.0
    evaluation: float = 0.0
    checkpoint: float = 0.0

    def as_dict(self) -> dict[str, float]:
        return {k: round(v, 4) for k, v in asdict(self).items()}


@dataclass
class FitRun(Generic[M]):
    """Everything about one training run, handed to `Model.fit`."""

    model_def: Model[M]
    params: BaseModel
    data: Data
    iterations: int
    metric: str
    sink: Sink
    start_iteration: int = 0
    restored_dir: str | None = None
    checkpoint_every: int = 1
    use_gpu: bool = False
    rank: int = 0
    world_size: int = 1
    seed: int = 0
    under_train: bool = False
    label: str = "train"
    progress: Callable[[str], None] | None = None
    timing: Timing = field(default_factory=Timing)
    last_value: float | None = None
    _mark: float = field(default_factory=time.perf_counter)

    @property
    def metric_key(self) -> str:
        return f"validation_{self.metric}"

    def restored_model(self) -> M | None:
        return None if self.restored_dir is None else self.model_def.load_checkpoint(self.restored_dir)

    def report(self, iteration: int, model: M, write_checkpoint: Callable[[str], None] | None = None,
               extra: Mapping[str, float] | None = None) -> None:
        """Call once per iteration on every rank (a barrier under Ray Train). Scores the validation split, prints
        progress, checkpoints when due (every `checkpoint_every` and at the last iteration) and reports. `extra`:
        anything else of this iteration worth a curve (a training loss); with tracking on, every reported metric is
        logged to MLflow at step = iteration."""
        now = time.perf_counter()
        self.timing.user += now - self._mark
        value = metrics.compute(
            self.data.info.task, self.metric, self.data.validation.y,
            self.model_def.predictions(model, self.data.validation.X, self.data.info),
        )
        after_eval = time.perf_counter()
        self.timing.evaluation += after_eval - now
        self.last_value = value
        due = iteration % self.checkpoint_every == 0 or iteration >= self.iterations
        if self.rank == 0 and self.progress is not None:
            step = max(1, -(-self.iterations // 10))
            if iteration % step == 0 or due:
                self.progress(f"[{self.label}] iteration {iteration}/{self.iterations} {self.metric_key}={value:.4f}")
        record = {
            **{str(k): float(v) for k, v in (extra or {}).items()},
            self.metric_key: value,
            "iteration": iteration,
            "resumed_from_iteration": self.start_iteration,
            **{f"_seconds_{k}": v for k, v in self.timing.as_dict().items()},
        }
        with tempfile.TemporaryDirectory(prefix="sentinel-ckpt-") as d:
            if due:
                (write_checkpoint or (lambda path: self.model_def.save(model, path)))(d)
                with open(os.path.join(d, CHECKPOINT_MARKER), "w", encoding="utf-8") as f:
                    json.dump({"iteration": iteration, metric_key_of(self.metric): value}, f)
            self.sink(record, d if due else None)
        self._mark = time.perf_counter()
        self.timing.checkpoint += self._mark - after_eval


def metric_key_of(metric: str) -> str:
    return f"validation_{metric}"


def checkpoint_iteration(path: str) -> int | None:
    """The iteration a checkpoint folder holds, or None when it is not a complete Sentinel checkpoint."""
    try:
        with open(os.path.join(path, CHECKPOINT_MARKER), encoding="utf-8") as f:
            return int(json.load(f)["iteration"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


class IterativeModel(Model[M]):
    """A model trained one iteration at a time: implement `create` and `step`; Sentinel runs the loop, reports,
    checkpoints, and resumes from the latest checkpoint."""

    @abstractmethod
    def create(self, run: FitRun[M]) -> M:
        """A fresh, untrained model."""

    @abstractmethod
    def step(self, model: M, iteration: int, run: FitRun[M]) -> M:
        """Train one more iteration (1-based) and return the model."""

    def fit(self, run: FitRun[M]) -> M:
        model = run.restored_model()
        if model is None:
            model = self.create(run)
        for iteration in range(run.start_iteration + 1, run.iterations + 1):
            model = self.step(model, iteration, run)
            run.report(iteration, model)
        return model


def iterative(
    *,
    create: Callable[[FitRun[Any]], Any],
    step: Callable[[Any, int, FitRun[Any]], Any],
    predict: Callable[[Any, pd.DataFrame], npt.ArrayLike],
    save: Callable[[Any, str], None],
    load: Callable[[str], Any],
    params: type[BaseModel] = NoParams,
    framework: str = "custom",
    tasks: tuple[Task, ...] = ALL_TASKS,
) -> type[Model[Any]]:
    """Plain functions instead of a class: `Model = sentinel_sdk.iterative(create=..., step=..., ...)`."""

    class FunctionModel(IterativeModel[Any]):
        def create(self, run: FitRun[Any]) -> Any:
            return create(run)

        def step(self, model: Any, iteration: int, run: FitRun[Any]) -> Any:
            return step(model, iteration, run)

        def predict(self, model: Any, X: pd.DataFrame) -> npt.ArrayLike:
            return predict(model, X)

        def save(self, model: Any, path: str) -> None:
            save(model, path)

        def load(self, path: str) -> Any:
            return load(path)

    FunctionModel.Params = params
    FunctionModel.framework = framework
    FunctionModel.tasks = tasks
    return FunctionModel


# Finding a model definition ---------------------------------------------------------------------------------------


def load_model_def(ref: str, where: str = "model.module") -> Model[Any]:
    """`pkg.module` (its `Model` class) or `pkg.module:Attr` (a Model subclass or instance)."""
    module_name, _, attr = ref.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        hint = "" if e.name != module_name.split(".")[0] else " (is its folder on PYTHONPATH? set `code` in the spec)"
        raise InvalidInput(f"{where}: cannot import {module_name!r}: {e}{hint}") from None
    except Exception as e:
        raise InvalidInput(f"{where}: importing {module_name!r} failed: {type(e).__name__}: {e}") from None
    name = attr or "Model"
    found = getattr(module, name, None)
    if found is None:
        raise InvalidInput(f"{where}: module {module_name!r} has no {name!r} (a sentinel_sdk Model subclass)")
    if inspect.isclass(found) and issubclass(found, Model):
        if inspect.isabstract(found):
            missing = ", ".join(sorted(getattr(found, "__abstractmethods__", ())))
            raise InvalidInput(f"{where}: {ref} does not implement {missing}")
        return found()
    if isinstance(found, Model):
        return found
    raise InvalidInput(f"{where}: {ref} is not a sentinel_sdk Model subclass or instance")


def model_ref(model_def: Model[Any], declared: str) -> str:
    """The reference to record in a card: the one the spec declared (it imports the same way everywhere)."""
    return declared


# Model folders ----------------------------------------------------------------------------------------------------


def save_model_folder(model_def: Model[M], model: M, uri: str, card: ModelCard) -> str:
    """Writes `save`'s files and the card into `uri` (a local folder or s3://…); the card goes last."""
    with tempfile.TemporaryDirectory(prefix="sentinel-model-") as d:
        model_def.save(model, d)
        if card.example is None:
            card.example = model_def.example(card)
        storage.put_folder(d, uri, exclude=(CARD_FILE,))
    storage.write_json(storage.join(uri, CARD_FILE), asdict(card))
    return uri


def read_card(uri: str) -> ModelCard:
    card_uri = storage.join(uri, CARD_FILE)
    try:
        raw = storage.read_json(card_uri)
    except FileNotFoundError:
        raise InvalidInput(f"model {uri} has no {CARD_FILE}; it is not a Sentinel model folder") from None
    except (ValueError, UnicodeDecodeError) as e:
        raise InvalidInput(f"model card {card_uri} is not JSON: {e}") from None
    if not isinstance(raw, dict):
        raise InvalidInput(f"model card {card_uri} must be a JSON object")
    return ModelCard.from_json(raw, card_uri)


@contextmanager
def local_folder(uri: str) -> Iterator[str]:
    """A local folder with the contents of `uri` (itself when local)."""
    if storage.is_local(uri):
        yield uri
        return
    d = tempfile.mkdtemp(prefix="sentinel-model-")
    try:
        storage.get_folder(uri, d)
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def load_model_folder(uri: str) -> tuple[Model[Any], Any, ModelCard]:
    card = read_card(uri)
    model_def = load_model_def(card.module, f"{uri}/{CARD_FILE} module")
    with local_folder(uri) as d:
        try:
            model = model_def.load(d)
        except StageError:
            raise
        except Exception as e:
            raise InvalidInput(f"model {uri} could not be loaded by {card.module}: {type(e).__name__}: {e}") from None
    return model_def, model, card


def example_rows(X: pd.DataFrame, n: int = 3) -> dict[str, Any]:
    rows = X.head(n).to_dict(orient="records")
    return {"rows": [{str(k): (v.item() if hasattr(v, "item") else v) for k, v in r.items()} for r in rows]}


def progress_line(line: str) -> None:
    # Not print(): Ray Train V2 patches print on workers to also log it, which doubles every line in the job log.
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def param_names(params: type[BaseModel]) -> set[str]:
    """The keys a spec may use for a model's params (field names and their aliases)."""
    names: set[str] = set()
    for name, info in params.model_fields.items():
        names.add(info.alias or name)
    return names
