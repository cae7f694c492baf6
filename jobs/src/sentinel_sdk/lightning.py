"""PyTorch Lightning on the SDK: one epoch per iteration, data-parallel (DDP) on Ray Train's TorchTrainer.

Subclass `LightningModel`, declare `Params`, and implement `create(params, info)` returning a `LightningModule` with
`training_step` and `configure_optimizers`. Sentinel builds the Trainer, reports the validation metric after every
epoch (scored with `predict`), checkpoints (a Lightning checkpoint: weights, optimizer and loop state), and resumes a
retried stage or trial from its latest checkpoint at the next epoch.

Conventions:
- The module's forward takes the tensor `features_tensor(X)` builds (default: float32, one column per feature) and
  returns logits for classification ((n,) or (n, 1) for binary, (n, k) for multiclass; (n, 2) also works for binary)
  and values ((n,) or (n, 1)) for regression. `predict` turns logits into probabilities (sigmoid / softmax); set
  `outputs = "probabilities"` when the module already returns them.
- The default training loader yields `(features, target)` batches: float32 targets for regression, int64 class codes
  for classification (so `F.cross_entropy(logits, y)` works; binary with BCE needs `y.float()`).
- What the module's shape depends on in the data (vocabulary sizes, statistics) is computed in `prepare(params,
  data)`, which returns the params with those values filled in; the filled-in params are saved with every checkpoint
  and model folder, so `load` rebuilds the same module without the data.

Under Ray Train each worker trains on its own shard of the training split (Sentinel shards it; Lightning's
distributed sampler is off) with `RayDDPStrategy`; a Ray Tune trial or a local run is a plain single-process Trainer.
"""

from __future__ import annotations

import json
import logging
import os
import warnings
from abc import abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, ClassVar, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytorch_lightning as pl
import torch
from pydantic import BaseModel
from torch.utils.data import DataLoader, Sampler, TensorDataset

from sentinel_sdk.data import Data, DataInfo, Split
from sentinel_sdk.model import CARD_FILE, FitRun, Model

WEIGHTS_FILE = "weights.pt"  # save(): the module's state_dict, on CPU
META_FILE = "sentinel-lightning.json"  # save() and checkpoints: the (prepared) params and the data's facts
CHECKPOINT_FILE = "last.ckpt"  # checkpoints: Lightning's own (weights, optimizer, epoch and loop state)
DEFAULT_BATCH_SIZE = 256
PREDICT_BATCH_SIZE = 65_536
_META_ATTR = "_sentinel_lightning_meta"

# Lightning's per-run chatter ("GPU available: ...", "Seed set to ...") on every worker and trial.
_QUIET_LOGGERS = (
    "pytorch_lightning",
    "lightning_fabric",
    "pytorch_lightning.utilities.rank_zero",
    "pytorch_lightning.accelerators.cuda",
    "lightning_fabric.utilities.seed",
    "lightning_fabric.utilities.distributed",
)


class LightningModel(Model[pl.LightningModule]):
    framework = "lightning"
    trainer = "torch"
    distributed = True
    #: What the module's forward returns for classification: "logits" (default) or "probabilities".
    outputs: ClassVar[Literal["logits", "probabilities"]] = "logits"
    #: The shuffling seed of the default training loader; fit sets it to run.seed + rank.
    seed: int = 0

    # What a user implements ---------------------------------------------------------------------------------------

    @abstractmethod
    def create(self, params: BaseModel, info: DataInfo) -> pl.LightningModule:
        """A fresh, untrained module for these (prepared) params."""

    def prepare(self, params: BaseModel, data: Data) -> BaseModel:
        """Fill in what the module depends on in the data (e.g. vocabulary sizes) before `create`; the result is
        saved with checkpoints and the model. Runs on every rank, each with its own training shard: use
        `reduce_across_ranks` so all ranks agree (DDP needs identical shapes). Default: the params unchanged."""
        return params

    def features_tensor(self, X: pd.DataFrame) -> torch.Tensor:
        """The module's input for these rows (training batches and predictions). Default: float32, one column per
        feature in the frame's order."""
        return torch.from_numpy(X.to_numpy(dtype=np.float32, copy=True))

    def dataloader(self, split: Split, params: BaseModel, train: bool) -> DataLoader[Any]:
        """The training loader. Default: `(features_tensor(X), y)` batches of `params.batch_size` (256 when the
        params have none), shuffled every epoch when `train`, in an order fixed by (`self.seed`, epoch), so a
        resumed run sees the same batches as an uninterrupted one."""
        y = torch.tensor(split.y, dtype=torch.int64 if np.issubdtype(split.y.dtype, np.integer) else torch.float32)
        dataset = TensorDataset(self.features_tensor(split.X), y)
        batch_size = int(getattr(params, "batch_size", None) or DEFAULT_BATCH_SIZE)
        sampler = EpochShuffle(len(dataset), self.seed) if train else None
        return DataLoader(dataset, batch_size=batch_size, sampler=sampler, num_workers=0)

    def forward_predict(self, module: pl.LightningModule, X: pd.DataFrame) -> npt.NDArray[np.float64]:
        """Predictions for one batch of rows: the module's forward in eval mode without gradients, then sigmoid
        (binary) or softmax (multiclass) of the logits. The module's train/eval mode is restored afterwards."""
        was_training = module.training
        module.eval()
        try:
            with torch.no_grad():
                out = module(self.features_tensor(X).to(module.device))
        finally:
            module.train(was_training)
        return self.to_predictions(out, _meta(module)["info"]["task"])

    def to_predictions(self, out: torch.Tensor, task: str) -> npt.NDArray[np.float64]:
        """The module's output as the SDK's predictions (binary: P(class 1) (n,); multiclass: (n, k); regression:
        (n,))."""
        out = out.detach().float()
        if task == "regression":
            return _numpy(out.flatten(1)[:, 0] if out.ndim > 1 else out)
        if task == "binary":
            if out.ndim > 1 and out.shape[1] == 2:
                return _numpy((torch.softmax(out, dim=1) if self.outputs == "logits" else out)[:, 1])
            flat = out.flatten(1)[:, 0] if out.ndim > 1 else out
            return _numpy(torch.sigmoid(flat) if self.outputs == "logits" else flat)
        return _numpy(torch.softmax(out, dim=1) if self.outputs == "logits" else out)

    # The Model interface --------------------------------------------------------------------------------------------

    def fit(self, run: FitRun[pl.LightningModule]) -> pl.LightningModule:
        torch.set_num_threads(torch_threads())
        self.seed = run.seed + run.rank
        with _quiet():
            pl.seed_everything(self.seed, workers=True, verbose=False)
        restored = run.restored_dir
        meta = _read_meta(restored) if restored is not None else None
        # A resumed run rebuilds exactly the module its checkpoint holds (same prepared params).
        params = self.Params.model_validate(meta["params"]) if meta is not None else self.prepare(run.params, run.data)
        module = self.create(params, run.data.info)
        _attach(module, params, run.data.info)

        ckpt_path: str | None = None
        offset = 0
        if restored is not None:
            if os.path.exists(os.path.join(restored, CHECKPOINT_FILE)):
                ckpt_path = os.path.join(restored, CHECKPOINT_FILE)  # optimizer state and epoch continue
            else:  # a checkpoint in save()'s format: weights only; train the remaining epochs on top
                module.load_state_dict(_load_weights(os.path.join(restored, WEIGHTS_FILE)))
                offset = run.start_iteration
        if run.start_iteration >= run.iterations:
            if ckpt_path is not None:
                module.load_state_dict(_load_checkpoint_weights(ckpt_path))
            run.report(run.start_iteration, module)
            return module

        train = run.data.train
        if run.under_train and run.world_size > 1:
            # DDP needs the same number of batches on every rank: trim the (at most one row) longer shards.
            train = train.head(int(reduce_across_ranks(len(train), "min")))
        loader = self.dataloader(train, params, train=True)
        with _quiet():
            trainer = self._trainer(run, run.iterations - offset, [_ReportEachEpoch(run, offset)])
            trainer.fit(module, train_dataloaders=loader, ckpt_path=ckpt_path)
        return module

    def predict(self, model: pl.LightningModule, X: pd.DataFrame) -> npt.NDArray[np.float64]:
        if len(X) == 0:
            return self.forward_predict(model, X)
        parts = [self.forward_predict(model, X.iloc[i:i + PREDICT_BATCH_SIZE]) for i in range(0, len(X), PREDICT_BATCH_SIZE)]
        return np.concatenate(parts, axis=0)

    def save(self, model: pl.LightningModule, path: str) -> None:
        torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, os.path.join(path, WEIGHTS_FILE))
        _write_meta(path, model)

    def load(self, path: str) -> pl.LightningModule:
        module = self._rebuild(path)
        module.load_state_dict(_load_weights(os.path.join(path, WEIGHTS_FILE)))
        return module.eval()

    def load_checkpoint(self, path: str) -> pl.LightningModule:
        ckpt = os.path.join(path, CHECKPOINT_FILE)
        if not os.path.exists(ckpt):
            return self.load(path)
        module = self._rebuild(path)
        module.load_state_dict(_load_checkpoint_weights(ckpt))
        return module.eval()

    # Internals ------------------------------------------------------------------------------------------------------

    def _rebuild(self, path: str) -> pl.LightningModule:
        """An untrained module of the shape saved in `path` (on CPU)."""
        meta = _read_meta(path)
        if meta is None:
            meta = _meta_from_card(path)
        params = self.Params.model_validate(meta["params"])
        info = DataInfo(**meta["info"])
        module = self.create(params, info)
        _attach(module, params, info)
        return module

    def _trainer(self, run: FitRun[pl.LightningModule], max_epochs: int, callbacks: list[pl.Callback]) -> pl.Trainer:
        common: dict[str, Any] = {
            "max_epochs": max_epochs,
            "accelerator": "gpu" if run.use_gpu else "cpu",
            "callbacks": callbacks,
            "enable_progress_bar": False,
            "enable_checkpointing": False,
            "enable_model_summary": False,
            "logger": False,
            "num_sanity_val_steps": 0,
            "limit_val_batches": 0,
            "use_distributed_sampler": False,  # Sentinel already gave this worker its shard
        }
        if not run.under_train:
            return pl.Trainer(devices=1, **common)
        from ray.train.lightning import RayDDPStrategy, RayLightningEnvironment, prepare_trainer

        strategy = RayDDPStrategy()  # type: ignore[no-untyped-call]
        environment = RayLightningEnvironment()  # type: ignore[no-untyped-call]
        trainer: pl.Trainer = prepare_trainer(pl.Trainer(devices="auto", strategy=strategy, plugins=[environment], **common))
        return trainer


class EpochShuffle(Sampler[int]):
    """A permutation of range(n) fixed by (seed, epoch). Lightning calls `set_epoch` before every epoch, with the
    restored epoch after a resume, so a resumed run shuffles exactly like an uninterrupted one."""

    def __init__(self, n: int, seed: int) -> None:
        self.n, self.seed, self.epoch = n, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.n

    def __iter__(self) -> Iterator[int]:
        return iter(np.random.default_rng([self.seed, self.epoch]).permutation(self.n).tolist())


class _ReportEachEpoch(pl.Callback):
    """run.report after every training epoch, on every rank; its checkpoint is Lightning's own plus the meta."""

    def __init__(self, run: FitRun[pl.LightningModule], offset: int) -> None:
        self._run, self._offset = run, offset

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        def write_checkpoint(folder: str) -> None:
            # With the optimizer and loop state; a collective under DDP (rank 0 writes the file).
            trainer.save_checkpoint(os.path.join(folder, CHECKPOINT_FILE), weights_only=False)
            _write_meta(folder, pl_module)

        self._run.report(self._offset + trainer.current_epoch + 1, pl_module, write_checkpoint=write_checkpoint)


def reduce_across_ranks(value: float, op: Literal["min", "max", "sum"]) -> float:
    """`value` combined over all Ray Train workers (a collective: call it on every rank); `value` itself when not
    running data-parallel (Ray Tune, local runs)."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return value
    device = torch.device("cpu")
    if dist.get_backend() == "nccl":
        from ray.train.torch import get_device

        device = get_device()
    t = torch.tensor([value], dtype=torch.float64, device=device)
    dist.all_reduce(t, op={"min": dist.ReduceOp.MIN, "max": dist.ReduceOp.MAX, "sum": dist.ReduceOp.SUM}[op])
    return float(t.item())


def torch_threads() -> int:
    """Torch's intra-op threads: the CPUs Ray assigned to this worker or trial (1 outside Ray). Workers and trials
    already run side by side; more threads than CPUs only contend."""
    try:
        import ray

        if ray.is_initialized():
            cpus = ray.get_runtime_context().get_assigned_resources().get("CPU")  # type: ignore[no-untyped-call]
            if cpus:
                return max(1, int(cpus))
    except Exception:  # noqa: BLE001 - no Ray context is the common case outside workers
        pass
    return 1


def _numpy(t: torch.Tensor) -> npt.NDArray[np.float64]:
    return np.asarray(t.cpu().numpy(), dtype=np.float64)


def _attach(module: pl.LightningModule, params: BaseModel, info: DataInfo) -> None:
    meta = {
        "format": 1,
        "params": params.model_dump(mode="json", by_alias=True),
        "info": {"task": info.task, "target": info.target, "features": list(info.features), "classes": info.classes},
    }
    object.__setattr__(module, _META_ATTR, meta)


def _meta(module: pl.LightningModule) -> dict[str, Any]:
    meta = getattr(module, _META_ATTR, None)
    if not isinstance(meta, dict):
        raise ValueError("this module was not created by a LightningModel (fit, load or load_checkpoint)")
    return meta


def _write_meta(folder: str, module: pl.LightningModule) -> None:
    with open(os.path.join(folder, META_FILE), "w", encoding="utf-8") as f:
        json.dump(_meta(module), f, default=str)


def _read_meta(folder: str) -> dict[str, Any] | None:
    try:
        with open(os.path.join(folder, META_FILE), encoding="utf-8") as f:
            meta = json.load(f)
    except FileNotFoundError:
        return None
    if not isinstance(meta, dict) or "params" not in meta or "info" not in meta:
        raise ValueError(f"{os.path.join(folder, META_FILE)} is not a Sentinel Lightning meta file")
    return meta


def _meta_from_card(folder: str) -> dict[str, Any]:
    """A model folder without the meta file: rebuild from its card (params as the spec gave them)."""
    try:
        with open(os.path.join(folder, CARD_FILE), encoding="utf-8") as f:
            card = json.load(f)
    except FileNotFoundError:
        raise ValueError(f"{folder} has neither {META_FILE} nor {CARD_FILE}") from None
    info = {k: card[k] for k in ("task", "target", "features", "classes")}
    return {"params": card.get("params") or {}, "info": info}


def _load_weights(path: str) -> dict[str, torch.Tensor]:
    state: dict[str, torch.Tensor] = torch.load(path, map_location="cpu", weights_only=True)
    return state


def _load_checkpoint_weights(path: str) -> dict[str, torch.Tensor]:
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    state: dict[str, torch.Tensor] = ckpt["state_dict"]
    return state


@contextmanager
def _quiet() -> Iterator[None]:
    """Lightning's info lines and its single-process-loader advice, muted for the duration (restored after)."""
    saved = [(logging.getLogger(n), logging.getLogger(n).level) for n in _QUIET_LOGGERS]
    for logger, _ in saved:
        logger.setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r".*does not have many workers.*")
            # torch 2.15 deprecates a pytree check pytorch-lightning 2.6 still makes; not the user's to fix.
            warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\)` is deprecated.*")
            yield
    finally:
        for logger, level in saved:
            logger.setLevel(level)
