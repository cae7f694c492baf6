"""Train: data-parallel XGBoost on Ray Train (CPU), checkpointing every N rounds; a re-run resumes.

Resume works through Ray Train's own run state: the run always has the same name and storage path
(`<stageUri>/checkpoints/train`), so a second `fit()` finds the checkpoint-manager snapshot left by the
killed attempt and `ray.train.get_checkpoint()` hands the workers its latest checkpoint; they load the
booster and boost only the remaining rounds.
"""

from __future__ import annotations

import math
import os
import sys
import tempfile
from typing import Any

import ray
import ray.train
import xgboost as xgb
from ray.train import CheckpointConfig, FailureConfig, RunConfig, ScalingConfig
from ray.train.xgboost import XGBoostTrainer

from sentinel_jobs import storage
from sentinel_jobs.contract import (
    InvalidInput,
    StageInput,
    StageResult,
    TrainingFailed,
    check_uri_param,
    init_ray,
    one_line,
    run_stage,
)
from sentinel_jobs.modeling import (
    CHECKPOINT_FILE,
    MetricCallback,
    Split,
    dmatrix,
    load_split,
    model_json,
    score,
    xgb_params,
)

# Test hook: a fresh (non-resumed) run raises after this boosting round, like a pod killed midway.
FAIL_ENV = "SENTINEL_FAIL_AFTER_ITERATION"
RUN_NAME = "train"


def _progress(line: str) -> None:
    # Not print(): Ray Train V2 patches print on workers to also log it, which doubles every line in the job log.
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _fail_after() -> int | None:
    raw = os.environ.get(FAIL_ENV)
    if not raw:
        return None
    if not raw.isdigit() or int(raw) < 1:
        raise InvalidInput(f"{FAIL_ENV} must be a positive integer; got {raw!r}")
    return int(raw)


def _train_loop(config: dict[str, Any]) -> None:
    """Runs on every Ray Train worker; rank r trains on every world_size-th training row."""
    ctx = ray.train.get_context()
    rank, world = ctx.get_world_rank(), ctx.get_world_size()
    train: Split = ray.get(config["train"])
    valid: Split = ray.get(config["valid"])
    total: int = config["numBoostRound"]
    every: int = config["checkpointEvery"]
    metric: str = config["metric"]
    fail_after: int | None = config["failAfter"]
    progress_every = max(1, math.ceil(total / 10))

    booster: xgb.Booster | None = None
    start = 0
    checkpoint = ray.train.get_checkpoint()
    if checkpoint is not None:
        with checkpoint.as_directory() as d:
            booster = xgb.Booster(model_file=os.path.join(d, CHECKPOINT_FILE))
        start = booster.num_boosted_rounds()
        if rank == 0:
            _progress(f"[train] resuming from checkpoint at iteration {start}/{total}")

    def report(model: xgb.Booster, iteration: int, value: float) -> None:
        # Every rank must call report (it is a barrier); only rank 0 ships the model.
        metrics = {"iteration": iteration, f"validation_{metric}": value, "resumed_from_iteration": start}
        with tempfile.TemporaryDirectory() as d:
            ckpt = None
            if rank == 0:
                model.save_model(os.path.join(d, CHECKPOINT_FILE))
                ckpt = ray.train.Checkpoint.from_directory(d)
            ray.train.report(metrics, checkpoint=ckpt)

    def on_round(model: xgb.Booster, iteration: int, value: float) -> None:
        if rank == 0 and (iteration % progress_every == 0 or iteration % every == 0 or iteration == total):
            _progress(f"[train] iteration {iteration}/{total} validation_{metric}={value:.4f}")
        if iteration % every == 0 or iteration == total:
            report(model, iteration, value)
        if fail_after is not None and start == 0 and iteration >= fail_after:
            raise RuntimeError(f"injected failure after iteration {iteration} ({FAIL_ENV})")

    if booster is not None and start >= total:
        # The previous attempt finished boosting but died before result.json: re-report its model.
        report(booster, start, score(booster, valid, metric))
        return
    shard = Split(X=train.X.iloc[rank::world], y=train.y[rank::world])
    xgb.train(
        config["params"],
        dmatrix(shard.X, shard.y),
        num_boost_round=total - start,
        xgb_model=booster,
        callbacks=[MetricCallback(metric, valid, on_round)],
    )


def _failure_reason(error: Exception) -> str:
    failures = getattr(error, "worker_failures", None) or {}
    for rank, failure in failures.items():
        lines = [ln for ln in str(failure).splitlines() if ln.strip()]
        return f"worker {rank}: {lines[-1] if lines else type(failure).__name__}"
    return one_line(str(error))


def run(stage_input: StageInput) -> StageResult:
    p = stage_input.params
    data_uri = check_uri_param(p, "dataUri")
    target = p.text("target")
    metric = p.metric()
    p.mode(metric)
    total = p.integer("numBoostRound", minimum=1)
    params = xgb_params(p.mapping("params", default={}))
    workers = p.integer("numWorkers", minimum=1, default=1)
    every = p.integer("checkpointEvery", minimum=1, default=10)
    fail_after = _fail_after()

    train = load_split(data_uri, "train", target)
    valid = load_split(data_uri, "validation", target, train.features)
    if len(train.y) < workers:
        raise InvalidInput(f"params.numWorkers={workers} exceeds the {len(train.y)} training rows")

    init_ray()
    checkpoints_uri = storage.join(stage_input.stage_uri, "checkpoints")
    trainer = XGBoostTrainer(
        _train_loop,
        train_loop_config={
            "train": ray.put(train),
            "valid": ray.put(valid),
            "numBoostRound": total,
            "checkpointEvery": every,
            "metric": metric,
            "params": params,
            "failAfter": fail_after,
        },
        scaling_config=ScalingConfig(num_workers=workers, use_gpu=False, resources_per_worker={"CPU": 1}),
        run_config=RunConfig(
            name=RUN_NAME,  # fixed, so a retry of this stage finds the previous attempt's checkpoints
            storage_path=storage.ray_storage_path(checkpoints_uri),
            checkpoint_config=CheckpointConfig(num_to_keep=2),
            failure_config=FailureConfig(max_failures=0),  # a retry is the control plane's decision
        ),
    )
    print(f"[train] {total} rounds on {workers} worker(s), checkpoint every {every}, storage {checkpoints_uri}", flush=True)
    try:
        result = trainer.fit()
    except ray.train.TrainingFailedError as e:
        raise TrainingFailed(_failure_reason(e)) from None
    if result.checkpoint is None:
        raise TrainingFailed("training ended without a checkpoint")

    with result.checkpoint.as_directory() as d:
        booster = xgb.Booster(model_file=os.path.join(d, CHECKPOINT_FILE))
    iterations = booster.num_boosted_rounds()
    value = score(booster, valid, metric)  # recomputed on the driver from the final model: exact on any world size
    resumed_from = int((result.metrics or {}).get("resumed_from_iteration", 0))

    model_uri = storage.join(stage_input.stage_uri, "model.json")
    features_uri = storage.join(stage_input.stage_uri, "features.json")
    storage.write_bytes(model_uri, model_json(booster))
    storage.write_json(features_uri, train.features)
    print(f"[train] done: {iterations} iterations, validation_{metric}={value:.4f}, resumed from {resumed_from}", flush=True)
    return StageResult(
        metrics={f"validation_{metric}": value, "iterations": iterations},
        artifacts={
            "model": model_uri,
            "features": features_uri,
            "checkpoint": storage.fs_path_to_uri(result.checkpoint.path, checkpoints_uri),
        },
        details={
            "resumedFromIteration": resumed_from,
            "numWorkers": workers,
            "checkpointEvery": every,
            "params": params,
            "features": train.features,
        },
    )


def main() -> int:
    return run_stage("train", run)


if __name__ == "__main__":
    raise SystemExit(main())
