"""The train stage for any Model: Ray Train runs the model's fit on `numWorkers` workers, checkpointing every
`checkpointEvery` iterations; a re-run of the same stage resumes from the latest checkpoint.

Resume works through Ray Train's own run state: the run always has the same name and storage path
(`<stageUri>/checkpoints/train`), so a second `fit()` finds the checkpoint-manager snapshot left by the killed
attempt and `ray.train.get_checkpoint()` hands the workers its latest checkpoint.
"""

from __future__ import annotations

import os
import time
from typing import Any

import ray
import ray.train
from ray.train import CheckpointConfig, FailureConfig, RunConfig, ScalingConfig

from sentinel_sdk import metrics, storage
from sentinel_sdk.contract import InvalidInput, StageInput, StageResult, TrainingFailed, init_ray, one_line
from sentinel_sdk.data import Data
from sentinel_sdk.model import (
    FitRun,
    ModelCard,
    checkpoint_iteration,
    example_rows,
    load_model_def,
    progress_line,
    save_model_folder,
)
from sentinel_sdk.stage_common import data_for, model_stage

# Test hook: a fresh (non-resumed) run raises after this iteration, like a pod killed midway.
FAIL_ENV = "SENTINEL_FAIL_AFTER_ITERATION"
RUN_NAME = "train"


def _fail_after() -> int | None:
    raw = os.environ.get(FAIL_ENV)
    if not raw:
        return None
    if not raw.isdigit() or int(raw) < 1:
        raise InvalidInput(f"{FAIL_ENV} must be a positive integer; got {raw!r}")
    return int(raw)


class _TrainSink:
    """Reports to Ray Train only when a checkpoint is due (every `checkpointEvery` and the last iteration): each
    `ray.train.report` is a barrier with the controller (about a second each on this machine), so the iterations in
    between are not reported one by one."""

    def __init__(self, rank: int, fail_after: int | None, fresh: bool) -> None:
        self._rank, self._fail_after, self._fresh = rank, fail_after, fresh

    def __call__(self, record: dict[str, Any], checkpoint_dir: str | None, /) -> None:
        if checkpoint_dir is not None:
            checkpoint = ray.train.Checkpoint.from_directory(checkpoint_dir) if self._rank == 0 else None
            ray.train.report(record, checkpoint=checkpoint)
        iteration = int(record["iteration"])
        if self._fail_after is not None and self._fresh and iteration >= self._fail_after:
            raise RuntimeError(f"injected failure after iteration {iteration} ({FAIL_ENV})")


def _worker(config: dict[str, Any]) -> None:
    """Runs on every Ray Train worker; rank r trains on every world_size-th training row."""
    ctx = ray.train.get_context()
    rank, world = ctx.get_world_rank(), ctx.get_world_size()
    model_def = load_model_def(config["module"], "params.model.module")
    params = model_def.parse_params(config["params"], "params.model.params")
    data: Data = ray.get(config["data"])
    shard = Data(train=data.train.shard(rank, world), validation=data.validation, info=data.info)
    iterations: int = config["iterations"]

    restored_dir: str | None = None
    start = 0
    checkpoint = ray.train.get_checkpoint()
    if checkpoint is not None:
        restored_dir = checkpoint.to_directory()
        start = checkpoint_iteration(restored_dir) or 0
        if start == 0:
            restored_dir = None
        elif rank == 0:
            progress_line(f"[train] resuming from checkpoint at iteration {start}/{iterations}")

    run: FitRun[Any] = FitRun(
        model_def=model_def, params=params, data=shard, iterations=iterations, metric=config["metric"],
        sink=_TrainSink(rank, config["failAfter"], fresh=start == 0), start_iteration=start, restored_dir=restored_dir,
        checkpoint_every=config["checkpointEvery"], use_gpu=config["useGpu"], rank=rank, world_size=world,
        seed=config["seed"], under_train=True, label="train", progress=progress_line,
    )
    if start >= iterations:
        # The previous attempt finished training but died before result.json: report its model once more.
        model = run.restored_model()
        run.report(start, model)
        return
    model_def.fit(run)


def _trainer_class(kind: str) -> Any:
    if kind == "xgboost":
        from ray.train.xgboost import XGBoostTrainer

        return XGBoostTrainer
    if kind == "torch":
        from ray.train.torch import TorchTrainer

        return TorchTrainer
    if kind == "data_parallel":
        from ray.train.v2.api.data_parallel_trainer import DataParallelTrainer

        return DataParallelTrainer
    raise InvalidInput(f"the model's trainer must be data_parallel, xgboost or torch; got {kind!r}")


def _failure_reason(error: Exception) -> str:
    failures = getattr(error, "worker_failures", None) or {}
    for rank, failure in failures.items():
        lines = [ln for ln in str(failure).splitlines() if ln.strip()]
        return f"worker {rank}: {lines[-1] if lines else type(failure).__name__}"
    return one_line(str(error))


def run(si: StageInput) -> StageResult:
    t_start = time.perf_counter()
    st = model_stage(si)
    p = si.params
    iterations = p.integer("iterations", minimum=1)
    every = p.integer("checkpointEvery", minimum=1)
    workers = p.integer("numWorkers", minimum=1)
    fail_after = _fail_after()
    if workers > 1 and not st.model_def.distributed:
        raise InvalidInput(f"params.numWorkers={workers}: {st.module} ({st.model_def.framework}) trains on one worker only")
    data = data_for(st)
    if len(data.train) < workers:
        raise InvalidInput(f"params.numWorkers={workers} exceeds the {len(data.train)} training rows")
    t_data = time.perf_counter()

    init_ray()
    checkpoints_uri = storage.join(si.stage_uri, "checkpoints")
    use_gpu = st.gpu > 0
    trainer_cls = _trainer_class(st.model_def.trainer)
    trainer = trainer_cls(
        _worker,
        train_loop_config={
            "module": st.module, "params": st.base_params, "data": ray.put(data), "iterations": iterations,
            "checkpointEvery": every, "metric": st.metric, "failAfter": fail_after, "useGpu": use_gpu, "seed": st.seed,
        },
        scaling_config=ScalingConfig(
            num_workers=workers, use_gpu=use_gpu, resources_per_worker={"CPU": 1, **({"GPU": 1} if use_gpu else {})},
        ),
        run_config=RunConfig(
            name=RUN_NAME,  # fixed, so a retry of this stage finds the previous attempt's checkpoints
            storage_path=storage.ray_storage_path(checkpoints_uri),
            checkpoint_config=CheckpointConfig(num_to_keep=2),
            failure_config=FailureConfig(max_failures=0),  # a retry is the control plane's decision
        ),
    )
    progress_line(
        f"[train] {st.module} ({st.model_def.framework}, {st.task}): {iterations} iterations on {workers} worker(s)"
        f"{' with GPUs' if use_gpu else ''}, checkpoint every {every}, storage {checkpoints_uri}"
    )
    t_fit = time.perf_counter()
    try:
        result = trainer.fit()
    except ray.train.TrainingFailedError as e:
        raise TrainingFailed(_failure_reason(e)) from None
    t_fitted = time.perf_counter()
    if result.checkpoint is None:
        raise TrainingFailed("training ended without a checkpoint")

    with result.checkpoint.as_directory() as d:
        model = st.model_def.load_checkpoint(d)
        reached = checkpoint_iteration(d) or iterations
    # Recomputed on the driver from the final model: exact on any world size.
    value = metrics.compute(st.task, st.metric, data.validation.y, st.model_def.predictions(model, data.validation.X, data.info))
    last = result.metrics or {}
    resumed_from = int(last.get("resumed_from_iteration", 0))

    model_uri = storage.join(si.stage_uri, "model")
    card = ModelCard(
        module=st.module, framework=st.model_def.framework, task=st.task, target=st.target, features=data.info.features,
        classes=data.info.classes, params=st.params.model_dump(mode="json", by_alias=True), iterations=reached,
        pipeline=si.pipeline, run_id=si.run_id,
        example=None if st.model_def.Request is not None else example_rows(data.validation.X),
    )
    save_model_folder(st.model_def, model, model_uri, card)
    t_end = time.perf_counter()
    user = float(last.get("_seconds_user", 0.0))
    evaluation = float(last.get("_seconds_evaluation", 0.0))
    ckpt = float(last.get("_seconds_checkpoint", 0.0))
    fit_wall = t_fitted - t_fit
    timing = {
        "stageSeconds": round(t_end - t_start, 3),
        "dataSeconds": round(t_data - t_start, 3),
        "fitSeconds": round(fit_wall, 3),
        # Rank 0's own clock, this attempt only (a resumed attempt restarts it).
        "userSeconds": round(user, 3),
        "evaluationSeconds": round(evaluation, 3),
        "checkpointSeconds": round(ckpt, 3),
        # What Ray Train adds around the model's code: worker group start, data transfer, shutdown.
        "rayFixedSeconds": round(max(0.0, fit_wall - user - evaluation - ckpt), 3),
        "saveSeconds": round(t_end - t_fitted, 3),
    }
    progress_line(f"[train] done: {reached} iterations, validation_{st.metric}={value:.4f}, resumed from {resumed_from}")
    return StageResult(
        metrics={f"validation_{st.metric}": value, "iterations": reached},
        artifacts={"model": model_uri, "checkpoint": storage.fs_path_to_uri(result.checkpoint.path, checkpoints_uri)},
        details={
            "resumedFromIteration": resumed_from,
            "numWorkers": workers,
            "checkpointEvery": every,
            "framework": st.model_def.framework,
            "module": st.module,
            "params": card.params,
            "features": data.info.features,
            "timing": timing,
        },
    )
