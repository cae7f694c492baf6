"""The data a model sees: the splits ingest wrote, with the task's target encoding and the manifest's facts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from sentinel_sdk import storage
from sentinel_sdk.contract import InvalidInput, capped, echo, split_uri
from sentinel_sdk.metrics import Task

MANIFEST = "manifest.json"


@dataclass(frozen=True)
class Split:
    """One split: feature columns only (numeric) and the target: class codes 0..k-1, or values for regression."""

    X: pd.DataFrame
    y: npt.NDArray[Any]

    def __len__(self) -> int:
        return len(self.y)

    def shard(self, rank: int, world: int) -> Split:
        """Every world-th row from rank on: each Ray Train worker trains on its own part."""
        if world <= 1:
            return self
        return Split(X=self.X.iloc[rank::world].reset_index(drop=True), y=self.y[rank::world])

    def head(self, n: int) -> Split:
        return Split(X=self.X.iloc[:n].reset_index(drop=True), y=self.y[:n])


@dataclass(frozen=True)
class DataInfo:
    task: Task
    target: str
    features: list[str]
    #: Original class labels, index = code (classification); None for regression.
    classes: list[Any] | None = None

    @property
    def n_classes(self) -> int | None:
        return None if self.classes is None else len(self.classes)


@dataclass(frozen=True)
class Data:
    train: Split
    validation: Split
    info: DataInfo


def target_array(series: pd.Series, task: str) -> npt.NDArray[Any]:
    if task == "regression":
        return series.to_numpy(dtype=np.float64)
    return series.to_numpy(dtype=np.int64)


def load_split(data_uri: str, name: str, target: str, task: str, features: list[str] | None = None) -> Split:
    uri = split_uri(data_uri, name)
    try:
        df = storage.read_parquet(uri)
    except FileNotFoundError:
        raise InvalidInput(f"the {name} split {uri} does not exist; is dataUri the ingest stage folder?") from None
    if target not in df.columns:
        raise InvalidInput(f"the {name} split {uri} has no target column {echo(target)}")
    cols = [c for c in df.columns if c != target] if features is None else features
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise InvalidInput(f"the {name} split {uri} lacks the model's features: {', '.join(capped(str(c)) for c in missing[:5])}")
    return Split(X=df[cols], y=target_array(df[target], task))


def read_manifest(data_uri: str) -> dict[str, Any]:
    uri = storage.join(data_uri, MANIFEST)
    try:
        manifest: dict[str, Any] = storage.read_json(uri)
    except FileNotFoundError:
        raise InvalidInput(f"the ingest manifest {uri} does not exist; is dataUri the ingest stage folder?") from None
    return manifest


def load_data(data_uri: str, target: str, task: Task) -> Data:
    manifest = read_manifest(data_uri)
    if manifest.get("task", task) != task:
        raise InvalidInput(f"the data at {data_uri} was ingested for task {echo(manifest.get('task'))}, not {echo(task)}")
    train = load_split(data_uri, "train", target, task)
    validation = load_split(data_uri, "validation", target, task, list(train.X.columns))
    classes = manifest.get("classes")
    info = DataInfo(task=task, target=target, features=list(train.X.columns), classes=list(classes) if classes is not None else None)
    return Data(train=train, validation=validation, info=info)


def frame_to_data(df: pd.DataFrame, target: str, task: Task, validation: float = 0.2, seed: int = 0) -> Data:
    """For tests and notebooks: a Data from an in-memory frame (classes are encoded as ingest would)."""
    if target not in df.columns:
        raise InvalidInput(f"the frame has no target column {echo(target)}")
    frame = df.copy()
    classes: list[Any] | None = None
    if task != "regression":
        classes = sorted(frame[target].unique().tolist())
        frame[target] = frame[target].map({c: i for i, c in enumerate(classes)})
    order = np.random.default_rng(seed).permutation(len(frame))
    cut = max(1, int(len(frame) * (1 - validation)))
    features = [c for c in frame.columns if c != target]

    def split(idx: npt.NDArray[np.int64]) -> Split:
        part = frame.iloc[idx].reset_index(drop=True)
        return Split(X=part[features], y=target_array(part[target], task))

    return Data(train=split(order[:cut]), validation=split(order[cut:]), info=DataInfo(task, target, features, classes))
