"""The SDK's Lightning base (`sentinel_sdk.lightning`) and the reference recommender (`sentinel_jobs.models.movielens`):
fit through the real FitRun outside Ray (sentinel_sdk.testing), checkpoints and exact resume, model folders, serving;
then the train stage itself on Ray Train (TorchTrainer, 2 DDP workers on CPU)."""

from __future__ import annotations

import copy
import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest
import pytorch_lightning as pl
import torch
from pydantic import BaseModel, Field, ValidationError
from sklearn.datasets import make_classification

from sentinel_jobs.datasets.movielens import ratings_frame
from sentinel_jobs.models.movielens import MatrixFactorization, Model, RecommendRequest
from sentinel_sdk.contract import InvalidInput
from sentinel_sdk.data import Data, DataInfo, frame_to_data
from sentinel_sdk.lightning import (
    CHECKPOINT_FILE,
    META_FILE,
    WEIGHTS_FILE,
    EpochShuffle,
    LightningModel,
    reduce_across_ranks,
    torch_threads,
)
from sentinel_sdk.model import CHECKPOINT_MARKER, Params, checkpoint_iteration, load_model_folder
from sentinel_sdk.testing import LocalFit, fit_locally, save_locally

MODULE = "sentinel_jobs.models.movielens"
SHAPE = {"users": 200, "movies": 400, "ratings": 8000}
# Small data overfits quickly: a stronger weight decay than the default keeps the curve going down for 5 epochs.
PARAMS: dict[str, Any] = {"embedding_dim": 8, "lr": 0.01, "batch_size": 256, "weight_decay": 1e-3}
EPOCHS = 5


def rmse(a: npt.ArrayLike, b: npt.ArrayLike) -> float:
    return float(np.sqrt(np.mean((np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)) ** 2)))


@pytest.fixture(scope="module")
def data() -> Data:
    return frame_to_data(ratings_frame(0, **SHAPE), "rating", "regression", validation=0.2, seed=0)


@pytest.fixture(scope="module")
def fitted(data: Data, tmp_path_factory: pytest.TempPathFactory) -> LocalFit:
    root = tmp_path_factory.mktemp("lightning-fit")
    return fit_locally(Model(), data, metric="rmse", params=PARAMS, iterations=EPOCHS, checkpoint_root=str(root))


@pytest.fixture(scope="module")
def folder(fitted: LocalFit, tmp_path_factory: pytest.TempPathFactory) -> str:
    return save_locally(Model(), fitted, str(tmp_path_factory.mktemp("lightning-model") / "model"), MODULE, PARAMS)


def predictions(fit_or_model: Any, X: pd.DataFrame) -> np.ndarray:
    model = fit_or_model.model if isinstance(fit_or_model, LocalFit) else fit_or_model
    return Model().predict(model, X)


# Learning, checkpoints, resume --------------------------------------------------------------------------------------


def test_learns_beyond_the_global_mean(fitted: LocalFit, data: Data) -> None:
    curve = [r["validation_rmse"] for r in fitted.history]
    assert [r["iteration"] for r in fitted.history] == list(range(1, EPOCHS + 1))
    assert all(r["resumed_from_iteration"] == 0 for r in fitted.history)
    baseline = rmse(data.validation.y, np.full(len(data.validation.y), data.train.y.mean()))
    assert curve[-1] < curve[0]
    assert curve[-1] < 0.92 * baseline, (curve, baseline)
    # What report scored is what predict gives for the returned module.
    assert curve[-1] == pytest.approx(rmse(predictions(fitted, data.validation.X), data.validation.y), abs=1e-9)
    assert fitted.model.training  # fit leaves Lightning's train mode; predict restored it after every epoch


def test_checkpoints_are_lightning_checkpoints_per_epoch(fitted: LocalFit, data: Data) -> None:
    assert [checkpoint_iteration(c) for c in fitted.checkpoints] == list(range(1, EPOCHS + 1))
    last = fitted.checkpoints[-1]
    assert {CHECKPOINT_FILE, META_FILE, CHECKPOINT_MARKER} <= set(os.listdir(last))
    ckpt = torch.load(os.path.join(last, CHECKPOINT_FILE), map_location="cpu", weights_only=True)
    assert ckpt["epoch"] == EPOCHS - 1 and ckpt["optimizer_states"]  # optimizer state travels with it
    meta = json.loads(Path(last, META_FILE).read_text())
    assert meta["params"]["num_users"] == 200 and meta["params"]["num_items"] == 400  # prepared from the data
    # The train and tune stages turn the final checkpoint into the model: the same predictions.
    restored = Model().load_checkpoint(last)
    np.testing.assert_array_equal(predictions(restored, data.validation.X), predictions(fitted, data.validation.X))


def test_resume_continues_at_the_next_epoch_exactly(fitted: LocalFit, data: Data, tmp_path: Path) -> None:
    at_two = fitted.checkpoints[1]
    resumed = fit_locally(Model(), data, metric="rmse", params=PARAMS, iterations=EPOCHS, resume_from=at_two,
                          checkpoint_root=str(tmp_path))
    assert [r["iteration"] for r in resumed.history] == [3, 4, 5]
    assert all(r["resumed_from_iteration"] == 2 for r in resumed.history)
    # Optimizer state and per-epoch shuffling restored: the same model as the uninterrupted run.
    np.testing.assert_allclose(predictions(resumed, data.validation.X), predictions(fitted, data.validation.X),
                               rtol=0, atol=1e-6)
    assert resumed.last["validation_rmse"] == pytest.approx(fitted.last["validation_rmse"], abs=1e-6)


def test_resume_at_the_last_epoch_reports_it_once(fitted: LocalFit, data: Data) -> None:
    again = fit_locally(Model(), data, metric="rmse", params=PARAMS, iterations=EPOCHS, resume_from=fitted.checkpoints[-1])
    assert [r["iteration"] for r in again.history] == [EPOCHS]
    np.testing.assert_array_equal(predictions(again, data.validation.X), predictions(fitted, data.validation.X))


def test_resume_from_a_weights_only_checkpoint(fitted: LocalFit, folder: str, data: Data, tmp_path: Path) -> None:
    """A checkpoint in save()'s format (no optimizer state) still resumes: the remaining epochs train on top."""
    ck = tmp_path / "weights-only"
    shutil.copytree(folder, ck)
    (ck / CHECKPOINT_MARKER).write_text(json.dumps({"iteration": 3}))
    resumed = fit_locally(Model(), data, metric="rmse", params=PARAMS, iterations=EPOCHS, resume_from=str(ck))
    assert [r["iteration"] for r in resumed.history] == [4, 5]
    assert resumed.last["validation_rmse"] < fitted.history[0]["validation_rmse"]


# Model folders -------------------------------------------------------------------------------------------------------


def test_model_folder_round_trips_predictions_exactly(fitted: LocalFit, folder: str, data: Data) -> None:
    assert {WEIGHTS_FILE, META_FILE, "sentinel-model.json"} <= set(os.listdir(folder))
    model_def, model, card = load_model_folder(folder)
    assert isinstance(model_def, Model) and isinstance(model, MatrixFactorization)
    assert card.framework == "lightning" and card.task == "regression" and card.module == MODULE
    assert card.example == {"user_id": 42, "movie_ids": [100, 200, 300]}
    assert all(p.device.type == "cpu" for p in model.parameters())
    np.testing.assert_array_equal(model_def.predict(model, data.validation.X), predictions(fitted, data.validation.X))


# The recommender ---------------------------------------------------------------------------------------------------


def test_sizes_come_from_the_training_data(data: Data) -> None:
    prepared = Model().prepare(Model().parse_params(PARAMS), data)
    assert prepared.model_dump()["num_users"] == int(data.train.X["user_id"].max()) + 1
    assert prepared.model_dump()["global_mean"] == pytest.approx(float(data.train.y.mean()))
    with pytest.raises(ValueError, match=r"num_users=50, but the training data has user_id 199"):
        Model().prepare(Model().parse_params({**PARAMS, "num_users": 50}), data)


def test_params_are_validated() -> None:
    md = Model()
    assert md.parse_params({}).model_dump()["embedding_dim"] == 32
    for bad in ({"embedding_dim": 2}, {"lr": 0}, {"batch_size": 16}, {"weight_decay": -1}, {"dim": 8}):
        with pytest.raises(InvalidInput, match=r"model\.params\."):
            md.parse_params(bad)


def test_unknown_ids_predict_from_the_known_biases(fitted: LocalFit) -> None:
    mf = fitted.model
    X = pd.DataFrame({"user_id": [10_000, -1, 3], "movie_id": [5, 5, 99_999]})
    pred = predictions(mf, X)
    assert np.isfinite(pred).all()
    with torch.no_grad():
        assert pred[0] == pytest.approx(float(mf.global_bias + mf.item_bias.weight[5, 0]), abs=1e-5)
        assert pred[2] == pytest.approx(float(mf.global_bias + mf.user_bias.weight[3, 0]), abs=1e-5)


def test_respond_rates_known_ids_within_one_to_five(fitted: LocalFit, folder: str) -> None:
    md, _model, card = load_model_folder(folder)
    out = md.respond(fitted.model, RecommendRequest(user_id=42, movie_ids=[100, 200, 300]), card)
    assert out["user_id"] == 42
    assert [r["movie_id"] for r in out["ratings"]] == [100, 200, 300]
    assert all(1.0 <= r["rating"] <= 5.0 for r in out["ratings"])
    inflated = copy.deepcopy(fitted.model)
    with torch.no_grad():
        inflated.global_bias.fill_(50.0)
    clipped = md.respond(inflated, RecommendRequest(user_id=0, movie_ids=[1, 2]), card)
    assert [r["rating"] for r in clipped["ratings"]] == [5.0, 5.0]


def test_respond_rejects_ids_outside_the_trained_range(fitted: LocalFit, folder: str) -> None:
    md, _model, card = load_model_folder(folder)
    with pytest.raises(ValueError, match=r"^user_id: 5000 is not a known user id \(0\.\.199\)$"):
        md.respond(fitted.model, RecommendRequest(user_id=5000, movie_ids=[1]), card)
    with pytest.raises(ValueError, match=r"^movie_ids\[2\]: 5000 is not a known movie id \(0\.\.399\)$"):
        md.respond(fitted.model, RecommendRequest(user_id=1, movie_ids=[1, 2, 5000]), card)


@pytest.mark.parametrize("body", [
    {"user_id": -1, "movie_ids": [1]},
    {"user_id": 1, "movie_ids": []},
    {"user_id": 1, "movie_ids": list(range(1001))},
    {"user_id": 1, "movie_ids": [1, "x"]},
    {"user_id": 1, "movie_ids": [1, -2]},
    {"user_id": True, "movie_ids": [1]},
    {"user_id": 1, "movie_ids": [1], "extra": 0},
    {"movie_ids": [1]},
])
def test_request_schema_rejects_malformed_bodies(body: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        RecommendRequest.model_validate(body)


def test_served_through_the_sdk_model_server(folder: str) -> None:
    """The SDK's ModelServer (what Ray Serve runs) on this model folder, without starting Serve."""
    from sentinel_jobs.models import movielens
    from sentinel_sdk.serving import ModelServer

    assert callable(movielens.app)
    server = ModelServer(folder, "r000000001", "movielens")
    described = server.describe()
    assert described["example"] == {"user_id": 42, "movie_ids": [100, 200, 300]}
    assert set(described["request"]["properties"]) == {"user_id", "movie_ids"}
    status, ok = server.answer(described["example"])
    assert status == 200 and [r["movie_id"] for r in ok["ratings"]] == [100, 200, 300]
    status, bad = server.answer({"user_id": 42, "movie_ids": [100, "x"]})
    assert status == 400 and "movie_ids[1]" in bad["error"]
    status, unknown = server.answer({"user_id": 42, "movie_ids": [100, 5000]})
    assert (status, unknown["error"]) == (400, "movie_ids[1]: 5000 is not a known movie id (0..399)")


# The base class on its own: tabular classification with the default loader and prediction ---------------------------


class LinearParams(Params):
    lr: float = Field(0.1, gt=0)
    batch_size: int = Field(64, ge=1)


class Linear(pl.LightningModule):
    def __init__(self, n_features: int, outputs: int, lr: float) -> None:
        super().__init__()
        self.lr, self.outputs = lr, outputs
        self.linear = torch.nn.Linear(n_features, outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.linear(x)
        return out.squeeze(-1) if self.outputs == 1 else out

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        x, y = batch
        assert y.dtype == torch.int64  # class codes
        out = self(x)
        if self.outputs == 1:
            return torch.nn.functional.binary_cross_entropy_with_logits(out, y.float())
        return torch.nn.functional.cross_entropy(out, y)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=self.lr)


class LinearModel(LightningModel):
    Params = LinearParams

    def create(self, params: BaseModel, info: DataInfo) -> pl.LightningModule:
        p = LinearParams.model_validate(params.model_dump())
        return Linear(len(info.features), 1 if info.task == "binary" else int(info.n_classes or 2), p.lr)


@pytest.mark.parametrize("task,classes,metric,floor", [("binary", 2, "roc_auc", 0.75), ("multiclass", 3, "accuracy", 0.55)])
def test_default_loader_and_logits_for_classification(task: str, classes: int, metric: str, floor: float,
                                                      tmp_path: Path) -> None:
    X, y = make_classification(n_samples=600, n_features=6, n_informative=4, n_classes=classes, random_state=0)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(6)]).assign(label=[f"c{v}" for v in y])
    fit = fit_locally(LinearModel(), frame, target="label", task=task, metric=metric, iterations=4)  # type: ignore[arg-type]
    assert fit.last[f"validation_{metric}"] > floor
    pred = LinearModel().predict(fit.model, fit.data.validation.X)
    if task == "binary":
        assert pred.shape == (len(fit.data.validation.y),) and ((pred > 0) & (pred < 1)).all()
    else:
        assert pred.shape == (len(fit.data.validation.y), 3)
        np.testing.assert_allclose(pred.sum(axis=1), 1.0, atol=1e-6)
    LinearModel().save(fit.model, str(tmp_path))
    np.testing.assert_array_equal(LinearModel().predict(LinearModel().load(str(tmp_path)), fit.data.validation.X), pred)


def test_output_conventions() -> None:
    logits = torch.tensor([[0.0, 2.0], [1.0, -1.0]])
    md = LinearModel()
    np.testing.assert_allclose(md.to_predictions(logits, "binary"), torch.softmax(logits, 1)[:, 1].numpy(), rtol=1e-6)
    np.testing.assert_allclose(md.to_predictions(torch.tensor([[0.0], [2.0]]), "binary"), [0.5, 0.880797], rtol=1e-5)
    np.testing.assert_allclose(md.to_predictions(logits, "multiclass").sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(md.to_predictions(torch.tensor([[1.5], [2.5]]), "regression"), [1.5, 2.5])

    class Probabilities(LinearModel):
        outputs = "probabilities"

    np.testing.assert_allclose(Probabilities().to_predictions(torch.tensor([0.2, 0.9]), "binary"), [0.2, 0.9], rtol=1e-6)


def test_epoch_shuffle_is_a_permutation_fixed_by_seed_and_epoch() -> None:
    a, b = EpochShuffle(50, seed=3), EpochShuffle(50, seed=3)
    first = list(a)
    assert sorted(first) == list(range(50)) and first == list(b)
    a.set_epoch(1)
    assert list(a) != first
    b.set_epoch(1)
    assert list(a) == list(b)
    assert list(EpochShuffle(50, seed=4)) != first


def test_outside_ray_train_reductions_and_threads_are_local() -> None:
    assert reduce_across_ranks(7.0, "max") == 7.0
    assert torch_threads() == 1


# The train stage on Ray Train: TorchTrainer, 2 DDP workers on CPU -----------------------------------------------------


def test_train_stage_on_two_ddp_workers(ray_address: str, workdir: Path) -> None:
    from helpers import model_params, read_result, run_module, stage_input

    csv = workdir / "movielens-small.csv"
    ratings_frame(0, **SHAPE).to_csv(csv, index=False)
    ingest = stage_input(workdir, "ingest", {
        "datasetUri": str(csv), "target": "rating", "task": "regression",
        "split": {"validation": 0.2, "test": 0.1, "seed": 1}, "minRows": 100,
    }, run_id="r-movielens", pipeline="movielens")
    proc = run_module("ingest", ingest)
    assert proc.returncode == 0, proc.stderr[-3000:]

    train = stage_input(workdir, "train", model_params({
        "dataUri": ingest["stageUri"], "metric": "rmse", "iterations": 3, "numWorkers": 2, "checkpointEvery": 1,
    }, module=MODULE, model=PARAMS, task="regression", target="rating"), run_id="r-movielens", pipeline="movielens")
    proc = run_module("train", train, ray_address)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = read_result(train)
    assert result["metrics"]["iterations"] == 3
    assert result["details"]["numWorkers"] == 2 and result["details"]["framework"] == "lightning"
    assert "[train] iteration 3/3" in proc.stdout

    model_def, model, card = load_model_folder(result["artifacts"]["model"])
    validation = pd.read_parquet(Path(ingest["stageUri"]) / "validation.parquet")
    baseline = rmse(validation["rating"].to_numpy(), np.full(len(validation), validation["rating"].mean()))
    assert result["metrics"]["validation_rmse"] < baseline
    got = rmse(model_def.predict(model, validation[["user_id", "movie_id"]]), validation["rating"].to_numpy())
    assert got == pytest.approx(result["metrics"]["validation_rmse"], abs=1e-6)
    out = model_def.respond(model, RecommendRequest(user_id=42, movie_ids=[100, 200, 300]), card)
    assert all(1 <= r["rating"] <= 5 for r in out["ratings"])
