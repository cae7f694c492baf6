"""Tune: Ray Tune + ASHA over XGBoost hyper-parameters; saves the best model, trials.json and curves.svg.

Each trial reports the validation metric after every boosting round (ASHA's time unit is one round)
together with a checkpoint of the booster at that round (only the latest is kept). The best trial's
latest checkpoint therefore is exactly the model its reported metric belongs to; nothing is retrained.
"""

from __future__ import annotations

import math
import os
import tempfile
from typing import Any

import pandas as pd
import pyarrow.fs
import xgboost as xgb
from ray import tune
from ray.tune import ResultGrid
from ray.tune.experiment import Trial
from ray.tune.schedulers import ASHAScheduler
from ray.tune.search import BasicVariantGenerator
from ray.tune.search.sample import Domain

from sentinel_jobs import storage
from sentinel_jobs.contract import (
    InvalidInput,
    Params,
    StageInput,
    StageResult,
    TrainingFailed,
    check_uri_param,
    init_ray,
    one_line,
    run_stage,
)
from sentinel_jobs.modeling import CHECKPOINT_FILE, MetricCallback, Split, dmatrix, load_split, model_json, score, xgb_params
from sentinel_jobs.svg import Curve, render_curves

RUN_NAME = "tune"


def search_space(spec: Params) -> dict[str, Domain]:
    """Translate the contract's search-space entries into Ray Tune domains (randint bounds are inclusive)."""
    space: dict[str, Domain] = {}
    for name in spec.keys():
        entry = spec.obj(name)
        kind = entry.text("type")
        if kind in ("uniform", "loguniform"):
            lower, upper = entry.number("lower"), entry.number("upper")
            if not lower < upper:
                raise InvalidInput(f"{entry.where}: lower ({lower}) must be < upper ({upper})")
            if kind == "loguniform" and lower <= 0:
                raise InvalidInput(f"{entry.where}: loguniform needs lower > 0; got {lower}")
            space[name] = tune.uniform(lower, upper) if kind == "uniform" else tune.loguniform(lower, upper)
        elif kind == "randint":
            lo, hi = entry.integer("lower"), entry.integer("upper")
            if lo > hi:
                raise InvalidInput(f"{entry.where}: lower ({lo}) must be <= upper ({hi})")
            space[name] = tune.randint(lo, hi + 1)  # Ray's upper bound is exclusive
        elif kind == "choice":
            values = entry.raw("values")
            if not isinstance(values, list) or not values:
                raise InvalidInput(f"{entry.where}.values must be a non-empty list")
            space[name] = tune.choice(values)
        else:
            raise InvalidInput(f"{entry.where}.type must be uniform, loguniform, randint or choice; got {kind!r}")
    if not space:
        raise InvalidInput(f"{spec.where} must define at least one parameter")
    return space


def _trial(config: dict[str, Any], train: Split, valid: Split, metric: str, rounds: int, base: dict[str, Any]) -> None:
    """One trial: train up to `rounds` rounds; ASHA may stop it after any report. A trial restored after an
    interruption continues from its last checkpoint instead of boosting from round 0 again."""
    def on_round(model: xgb.Booster, iteration: int, value: float) -> None:
        with tempfile.TemporaryDirectory() as d:
            model.save_model(os.path.join(d, CHECKPOINT_FILE))
            tune.report({f"validation_{metric}": value, "iteration": iteration}, checkpoint=tune.Checkpoint.from_directory(d))

    checkpoint = tune.get_checkpoint()
    start = _load_latest(checkpoint) if checkpoint is not None else None
    done = start.num_boosted_rounds() if start is not None else 0
    callback = MetricCallback(metric, valid, on_round)
    if start is not None and done >= rounds:
        # Finished boosting just before the interruption, after Tune's last snapshot: report the final round once.
        callback.after_iteration(start, 0, None)
        return
    xgb.train(
        xgb_params({**base, **config}),
        dmatrix(train.X, train.y),
        num_boost_round=rounds - done,
        xgb_model=start,
        callbacks=[callback],
    )


def _load_latest(checkpoint: tune.Checkpoint) -> xgb.Booster | None:
    """The restored checkpoint, or, when a hard kill raced Tune's cleanup (num_to_keep deleted the one its last
    snapshot names), the newest checkpoint still in the trial's folder."""
    fs = checkpoint.filesystem
    parent = checkpoint.path.rstrip("/").rsplit("/", 1)[0]
    infos = fs.get_file_info(pyarrow.fs.FileSelector(parent, allow_not_found=True))
    candidates = sorted((i.path for i in infos if i.base_name.startswith("checkpoint_")), reverse=True)
    for path in [checkpoint.path, *candidates]:
        if fs.get_file_info(f"{path}/{CHECKPOINT_FILE}").type != pyarrow.fs.FileType.File:
            continue
        with tune.Checkpoint(path, filesystem=fs).as_directory() as d:
            return xgb.Booster(model_file=os.path.join(d, CHECKPOINT_FILE))
    return None


class _Progress(tune.Callback):
    """Runs in the driver, so these lines reach the job log without a worker prefix."""

    def __init__(self, key: str, max_t: int) -> None:
        self._key, self._max_t = key, max_t
        self._step = max(1, math.ceil(max_t / 5))

    def on_trial_result(self, iteration: int, trials: list[Trial], trial: Trial, result: dict[str, Any], **info: Any) -> None:
        it = int(result["training_iteration"])
        if it % self._step == 0 or it == self._max_t:
            value = result[self._key]
            print(f"[tune] trial {trial.trial_id} iteration {it}/{self._max_t} {self._key}={value:.4f}", flush=True)

    def on_trial_complete(self, iteration: int, trials: list[Trial], trial: Trial, **info: Any) -> None:
        last = trial.last_result or {}
        it = int(last.get("training_iteration", 0))
        how = "stopped early by ASHA" if it < self._max_t else "completed"
        value = last.get(self._key, float("nan"))
        print(f"[tune] trial {trial.trial_id} {how} at iteration {it}/{self._max_t} {self._key}={value:.4f}", flush=True)

    def on_trial_error(self, iteration: int, trials: list[Trial], trial: Trial, **info: Any) -> None:
        print(f"[tune] trial {trial.trial_id} failed", flush=True)


def _history(df: pd.DataFrame | None, key: str) -> list[float]:
    if df is None or key not in df.columns:
        return []
    return [float(v) for v in df.sort_values("training_iteration")[key].tolist()]


def _trial_records(grid: ResultGrid, names: list[str], key: str, max_t: int) -> list[dict[str, Any]]:
    """One trials.json entry per trial; `history` is the metric after each round it ran."""
    records: list[dict[str, Any]] = []
    for i in range(len(grid)):
        result = grid[i]
        last = result.metrics or {}
        # The trial's own checkpoint is the truth: after a resume, Tune's last recorded result can lag a round.
        iterations = int(last.get("iteration", last.get("training_iteration", 0)))
        if result.checkpoint is not None:
            booster = _load_latest(result.checkpoint)
            iterations = booster.num_boosted_rounds() if booster is not None else iterations
        records.append({
            "trialId": str(last.get("trial_id", os.path.basename(result.path))),
            "config": {k: result.config[k] for k in names} if result.config else {},
            "metric": last.get(key),
            "iterations": iterations,
            "stoppedEarly": result.error is None and iterations < max_t,  # ASHA is the only early stop
            "error": one_line(str(result.error), 300) if result.error else None,
            "history": _history(result.metrics_dataframe, key),
        })
    return records


def run(stage_input: StageInput) -> StageResult:
    p = stage_input.params
    data_uri = check_uri_param(p, "dataUri")
    target = p.text("target")
    metric = p.metric()
    mode = p.mode(metric)
    space = search_space(p.obj("searchSpace"))
    num_samples = p.integer("numSamples", minimum=1)
    max_concurrent = p.integer("maxConcurrent", minimum=1, default=2)
    max_t = p.integer("maxBoostRound", minimum=1)
    grace = p.integer("gracePeriod", minimum=1, default=1)
    reduction = p.integer("reductionFactor", minimum=2, default=3)
    base = p.mapping("params", default={})  # optional fixed XGBoost params under the searched ones
    seed = p.integer("seed", minimum=0, default=0)
    if grace > max_t:
        raise InvalidInput(f"params.gracePeriod ({grace}) must be <= params.maxBoostRound ({max_t})")
    key = f"validation_{metric}"

    train = load_split(data_uri, "train", target)
    valid = load_split(data_uri, "validation", target, train.features)
    init_ray()
    trainable = tune.with_resources(
        tune.with_parameters(_trial, train=train, valid=valid, metric=metric, rounds=max_t, base=base), {"cpu": 1}
    )
    storage_path = storage.ray_storage_path(storage.join(stage_input.stage_uri, "ray"))
    experiment = storage.join(storage_path, RUN_NAME)
    # A retried stage (e.g. after a spot interruption) finds the search it left and resumes it: finished trials
    # stay finished, interrupted ones continue from their checkpoints, ASHA keeps its rungs.
    resumed = tune.Tuner.can_restore(experiment)
    if resumed:
        print(f"[tune] resuming the search from {experiment}", flush=True)
        tuner = tune.Tuner.restore(experiment, trainable=trainable, resume_unfinished=True, resume_errored=True)
    else:
        tuner = tune.Tuner(
            trainable,
            param_space=space,
            tune_config=tune.TuneConfig(
                metric=key,
                mode=mode,
                num_samples=num_samples,
                max_concurrent_trials=max_concurrent,
                search_alg=BasicVariantGenerator(random_state=seed),  # reproducible samples for a given seed
                scheduler=ASHAScheduler(
                    time_attr="training_iteration", max_t=max_t, grace_period=grace, reduction_factor=reduction
                ),
            ),
            run_config=tune.RunConfig(
                name=RUN_NAME,
                storage_path=storage_path,
                checkpoint_config=tune.CheckpointConfig(num_to_keep=1),
                callbacks=[_Progress(key, max_t)],
                verbose=0,  # our [tune] lines replace Tune's status tables in the job log
            ),
        )
    print(f"[tune] {num_samples} trials, {max_concurrent} at a time, ASHA max_t={max_t} grace={grace} rf={reduction}", flush=True)
    grid = tuner.fit()

    trials = _trial_records(grid, list(space), key, max_t)
    ok = [t for t in trials if t["error"] is None and t["metric"] is not None]
    if not ok:
        raise TrainingFailed(f"all {len(trials)} trials failed; first error: {trials[0]['error'] if trials else 'none'}")

    best = grid.get_best_result(metric=key, mode=mode, scope="last")
    best_id = str((best.metrics or {})["trial_id"])
    if best.checkpoint is None:
        raise TrainingFailed(f"best trial {best_id} has no checkpoint")
    loaded = _load_latest(best.checkpoint)
    if loaded is None:
        raise TrainingFailed(f"best trial {best_id} has no readable checkpoint")
    booster = loaded
    value = score(booster, valid, metric)
    for t in trials:
        t["best"] = t["trialId"] == best_id
    curves = [Curve(t["trialId"], t["history"], best=t["best"]) for t in trials]

    artifacts = {
        "model": storage.join(stage_input.stage_uri, "model.json"),
        "trials": storage.join(stage_input.stage_uri, "trials.json"),
        "curves": storage.join(stage_input.stage_uri, "curves.svg"),
    }
    storage.write_bytes(artifacts["model"], model_json(booster))
    summary = {"metric": key, "mode": mode, "maxBoostRound": max_t, "bestTrialId": best_id, "trials": trials}
    storage.write_json(artifacts["trials"], summary)
    title = f"{stage_input.pipeline} {stage_input.run_id}: validation {metric} per round"
    storage.write_bytes(artifacts["curves"], render_curves(curves, metric, max_t, title).encode("utf-8"))
    stopped = sum(1 for t in trials if t["stoppedEarly"])
    best_config = {k: (best.config or {})[k] for k in space}
    print(f"[tune] done: best trial {best_id} {key}={value:.4f} {best_config}; {stopped}/{len(trials)} stopped early", flush=True)
    return StageResult(
        metrics={
            key: value,
            "trials": len(trials),
            "stopped_early": stopped,
            "iterations": booster.num_boosted_rounds(),
        },
        artifacts=artifacts,
        details={
            "bestConfig": best_config,
            "bestTrialId": best_id,
            "params": xgb_params({**base, **best_config}),
            "features": train.features,
            "failedTrials": len(trials) - len(ok),
            "resumed": resumed,
        },
    )


def main() -> int:
    return run_stage("tune", run)


if __name__ == "__main__":
    raise SystemExit(main())
