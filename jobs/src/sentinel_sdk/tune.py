"""The tune stage for any Model: Ray Tune + ASHA over the spec's search space (keys are model params, layered over
`model.params`); saves the best model, trials.json and curves.svg.

Each trial runs the model's own fit and reports the validation metric after every iteration (ASHA's time unit is
the reported `iteration`) with a checkpoint (only the latest is kept). The best trial's latest checkpoint therefore
is exactly the model its reported metric belongs to; nothing is retrained. A retried stage resumes the search.
"""

from __future__ import annotations

import math
import os
import time
from typing import Any

import pandas as pd
import pyarrow.fs
from ray import tune
from ray.tune import ResultGrid
from ray.tune.experiment import Trial
from ray.tune.schedulers import ASHAScheduler
from ray.tune.search import BasicVariantGenerator
from ray.tune.search.sample import Domain

from sentinel_sdk import metrics, storage, tracking
from sentinel_sdk.contract import InvalidInput, Params, StageInput, StageResult, TrainingFailed, init_ray, one_line
from sentinel_sdk.data import Data
from sentinel_sdk.model import (
    CHECKPOINT_MARKER,
    FitRun,
    ModelCard,
    checkpoint_iteration,
    example_rows,
    load_model_def,
    param_names,
    progress_line,
    save_model_folder,
)
from sentinel_sdk.stage_common import data_for, model_stage
from sentinel_sdk.svg import Curve, render_curves

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


def check_space_against_params(space_spec: Params, fields: set[str], module: str) -> None:
    unknown = [k for k in space_spec.keys() if k not in fields]
    if unknown:
        raise InvalidInput(
            f"{space_spec.where}.{unknown[0]}: not a parameter of {module} (its parameters: {', '.join(sorted(fields)) or 'none'})"
        )


class _TuneSink:
    def __call__(self, record: dict[str, Any], checkpoint_dir: str | None) -> None:
        tune.report(record, checkpoint=tune.Checkpoint.from_directory(checkpoint_dir) if checkpoint_dir else None)


def latest_checkpoint(checkpoint: tune.Checkpoint) -> tuple[str, int] | None:
    """The restored checkpoint as a local folder with its iteration, or, when a hard kill raced Tune's cleanup
    (num_to_keep deleted the one its last snapshot names), the newest complete checkpoint left in the trial's folder."""
    fs = checkpoint.filesystem
    assert fs is not None  # Checkpoint() resolves a filesystem from its path when given none
    parent = checkpoint.path.rstrip("/").rsplit("/", 1)[0]
    infos = fs.get_file_info(pyarrow.fs.FileSelector(parent, allow_not_found=True))
    candidates = sorted((i.path for i in infos if i.base_name.startswith("checkpoint_")), reverse=True)
    for path in [checkpoint.path, *candidates]:
        if fs.get_file_info(f"{path}/{CHECKPOINT_MARKER}").type != pyarrow.fs.FileType.File:
            continue
        local = tune.Checkpoint(path, filesystem=fs).to_directory()
        iteration = checkpoint_iteration(local)
        if iteration is not None:
            return local, iteration
    return None


def _trial(config: dict[str, Any], *, module: str, base: dict[str, Any], data: Data, metric: str, iterations: int,
           seed: int, use_gpu: bool) -> None:
    """One trial: the model's fit up to `iterations`; ASHA may stop it after any report. A trial restored after an
    interruption continues from its last checkpoint instead of starting over."""
    model_def = load_model_def(module, "params.model.module")
    params = model_def.parse_params({**base, **config}, "params.model.params")
    restored_dir, start = None, 0
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None:
        found = latest_checkpoint(checkpoint)
        if found is not None:
            restored_dir, start = found
    run: FitRun[Any] = FitRun(
        model_def=model_def, params=params, data=data, iterations=iterations, metric=metric, sink=_TuneSink(),
        start_iteration=start, restored_dir=restored_dir, checkpoint_every=1, use_gpu=use_gpu, seed=seed,
        under_train=False, label="tune",
    )
    if start >= iterations:
        # Finished just before the interruption, after Tune's last snapshot: report the final iteration once.
        run.report(start, run.restored_model())
        return
    model_def.fit(run)


class _Progress(tune.Callback):
    """Runs in the driver, so these lines reach the job log without a worker prefix."""

    def __init__(self, key: str, max_t: int) -> None:
        self._key, self._max_t = key, max_t
        self._step = max(1, math.ceil(max_t / 5))

    def on_trial_result(self, iteration: int, trials: list[Trial], trial: Trial, result: dict[str, Any], **info: Any) -> None:
        it = int(result["iteration"])
        if it % self._step == 0 or it == self._max_t:
            value = result[self._key]
            print(f"[tune] trial {trial.trial_id} iteration {it}/{self._max_t} {self._key}={value:.4f}", flush=True)

    def on_trial_complete(self, iteration: int, trials: list[Trial], trial: Trial, **info: Any) -> None:
        last = trial.last_result or {}
        it = int(last.get("iteration", 0))
        how = "stopped early by ASHA" if it < self._max_t else "completed"
        value = last.get(self._key, float("nan"))
        print(f"[tune] trial {trial.trial_id} {how} at iteration {it}/{self._max_t} {self._key}={value:.4f}", flush=True)

    def on_trial_error(self, iteration: int, trials: list[Trial], trial: Trial, **info: Any) -> None:
        print(f"[tune] trial {trial.trial_id} failed", flush=True)


# What Ray Tune adds to every reported result; the rest (the model's own metrics) goes to MLflow.
_TUNE_FIELDS = frozenset({
    "timestamp", "checkpoint_dir_name", "done", "training_iteration", "trial_id", "date", "time_this_iter_s", "time_total_s",
    "pid", "hostname", "node_ip", "time_since_restore", "iterations_since_restore", "should_checkpoint", "iteration",
    "resumed_from_iteration",
})


class _TrackTrials(tune.Callback):
    """Each trial as an MLflow run nested under the tune run: its sampled config as params, its metric after every
    iteration (the trial's curve), how it ended. Runs in the driver, so the trials never import the MLflow client.
    Holds no client itself (Tune pickles callbacks into the experiment state): calls go through the stage's tracker."""

    def __init__(self, key: str, max_t: int, names: list[str]) -> None:
        self._key, self._max_t, self._names = key, max_t, names
        self._runs: dict[str, tracking.StepLogger] = {}

    def __getstate__(self) -> dict[str, Any]:
        return {"key": self._key, "max_t": self._max_t, "names": self._names}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["key"], state["max_t"], state["names"])  # type: ignore[misc]

    def _steps(self, trial: Trial) -> tracking.StepLogger | None:
        steps = self._runs.get(trial.trial_id)
        if steps is None:
            tracker = tracking.current()
            config = trial.config or {}
            run_id = tracker.child_run(
                f"trial {trial.trial_id}", {"sentinel.trialId": str(trial.trial_id)},
                params={k: config[k] for k in self._names if k in config},
            )
            steps = tracker.step_logger(run_id) if run_id else None
            if steps is not None:
                self._runs[trial.trial_id] = steps
        return steps

    def on_trial_start(self, iteration: int, trials: list[Trial], trial: Trial, **info: Any) -> None:
        self._steps(trial)

    def on_trial_result(self, iteration: int, trials: list[Trial], trial: Trial, result: dict[str, Any], **info: Any) -> None:
        steps = self._steps(trial)
        if steps is not None:
            steps.log(int(result.get("iteration", 0)), {k: v for k, v in result.items() if k not in _TUNE_FIELDS})

    def _end(self, trial: Trial, status: str) -> None:
        steps = self._runs.pop(trial.trial_id, None)
        if steps is None:
            return
        steps.flush()
        last = trial.last_result or {}
        it = int(last.get("iteration", 0))
        tracker = tracking.current()
        tracker.set_tags({"sentinel.iterations": it, "sentinel.stoppedEarly": str(status == "FINISHED" and it < self._max_t).lower()},
                         run_id=steps.run_id)
        tracker.end_run(steps.run_id, status)

    def on_trial_complete(self, iteration: int, trials: list[Trial], trial: Trial, **info: Any) -> None:
        self._end(trial, "FINISHED")

    def on_trial_error(self, iteration: int, trials: list[Trial], trial: Trial, **info: Any) -> None:
        self._end(trial, "FAILED")

    def on_experiment_end(self, trials: list[Trial], **info: Any) -> None:
        for steps in self._runs.values():
            steps.flush()


def _history(df: pd.DataFrame | None, key: str) -> list[float]:
    """The metric after each iteration; a resumed trial may have reported an iteration twice: keep the last."""
    if df is None or key not in df.columns or "iteration" not in df.columns:
        return []
    by_iteration = df.drop_duplicates(subset="iteration", keep="last").sort_values("iteration")
    return [float(v) for v in by_iteration[key].tolist()]


def _trial_records(grid: ResultGrid, names: list[str], key: str, max_t: int) -> list[dict[str, Any]]:
    """One trials.json entry per trial; `history` is the metric after each iteration it ran."""
    records: list[dict[str, Any]] = []
    for i in range(len(grid)):
        result = grid[i]
        last = result.metrics or {}
        iterations = int(last.get("iteration", 0))
        if result.checkpoint is not None:
            found = latest_checkpoint(result.checkpoint)  # the trial's own checkpoint is the truth after a resume
            iterations = found[1] if found is not None else iterations
        records.append({
            "trialId": str(last.get("trial_id", os.path.basename(result.path))),
            # A trial restored before it ever ran can come back without its sampled config.
            "config": {k: result.config[k] for k in names if k in result.config} if result.config else {},
            "metric": last.get(key),
            "iterations": iterations,
            "stoppedEarly": result.error is None and iterations < max_t,  # ASHA is the only early stop
            "error": one_line(str(result.error), 300) if result.error else None,
            "history": _history(result.metrics_dataframe, key),
            "userSeconds": float(last.get("_seconds_user", 0.0)),
            "evaluationSeconds": float(last.get("_seconds_evaluation", 0.0)),
            "checkpointSeconds": float(last.get("_seconds_checkpoint", 0.0)),
        })
    return records


def run(si: StageInput) -> StageResult:
    t_start = time.perf_counter()
    st = model_stage(si)
    p = si.params
    space_spec = p.obj("searchSpace")
    check_space_against_params(space_spec, param_names(st.model_def.Params), st.module)
    space = search_space(space_spec)
    num_samples = p.integer("numSamples", minimum=1)
    max_concurrent = p.integer("maxConcurrent", minimum=1)
    max_t = p.integer("maxIterations", minimum=1)
    grace = p.integer("gracePeriod", minimum=1)
    reduction = p.integer("reductionFactor", minimum=2)
    if grace > max_t:
        raise InvalidInput(f"params.gracePeriod ({grace}) must be <= params.maxIterations ({max_t})")
    key = f"validation_{st.metric}"
    data = data_for(st)
    t_data = time.perf_counter()

    init_ray()
    use_gpu = st.gpu > 0
    trainable = tune.with_resources(
        tune.with_parameters(
            _trial, module=st.module, base=st.base_params, data=data, metric=st.metric, iterations=max_t, seed=st.seed,
            use_gpu=use_gpu,
        ),
        {"cpu": 1, **({"gpu": 1} if use_gpu else {})},
    )
    storage_path = storage.ray_storage_path(storage.join(si.stage_uri, "ray"))
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
                mode=st.mode,
                num_samples=num_samples,
                max_concurrent_trials=max_concurrent,
                search_alg=BasicVariantGenerator(random_state=st.seed),  # reproducible samples for a given seed
                scheduler=ASHAScheduler(time_attr="iteration", max_t=max_t, grace_period=grace, reduction_factor=reduction),
            ),
            run_config=tune.RunConfig(
                name=RUN_NAME,
                storage_path=storage_path,
                checkpoint_config=tune.CheckpointConfig(num_to_keep=1),
                callbacks=[_Progress(key, max_t), *([_TrackTrials(key, max_t, list(space))] if tracking.current().enabled else [])],
                verbose=0,  # our [tune] lines replace Tune's status tables in the job log
            ),
        )
    print(
        f"[tune] {st.module} ({st.model_def.framework}, {st.task}): {num_samples} trials, {max_concurrent} at a time, "
        f"ASHA max_t={max_t} grace={grace} rf={reduction}",
        flush=True,
    )
    t_fit = time.perf_counter()
    grid = tuner.fit()
    t_fitted = time.perf_counter()

    trials = _trial_records(grid, list(space), key, max_t)
    ok = [t for t in trials if t["error"] is None and t["metric"] is not None]
    if not ok:
        raise TrainingFailed(f"all {len(trials)} trials failed; first error: {trials[0]['error'] if trials else 'none'}")

    best = grid.get_best_result(metric=key, mode=st.mode, scope="last")
    best_id = str((best.metrics or {})["trial_id"])
    found = latest_checkpoint(best.checkpoint) if best.checkpoint is not None else None
    if found is None:
        raise TrainingFailed(f"best trial {best_id} has no readable checkpoint")
    best_record = next((t for t in trials if t["trialId"] == best_id), None)
    best_config = {k: v for k, v in (best.config or {}).items() if k in space} or dict(best_record["config"] if best_record else {})
    model = st.model_def.load_checkpoint(found[0])
    value = metrics.compute(st.task, st.metric, data.validation.y, st.model_def.predictions(model, data.validation.X, data.info))
    for t in trials:
        t["best"] = t["trialId"] == best_id
    curves = [Curve(t["trialId"], t["history"], best=t["best"]) for t in trials]
    tracker = tracking.current()
    if tracker.enabled:
        best_run = tracker.child_run(f"trial {best_id}", {"sentinel.trialId": best_id}, create=False)
        if best_run:
            tracker.set_tags({"sentinel.best": "true"}, run_id=best_run)

    params = st.model_def.parse_params({**st.base_params, **best_config}, "params.model.params")
    model_uri = storage.join(si.stage_uri, "model")
    card = ModelCard(
        module=st.module, framework=st.model_def.framework, task=st.task, target=st.target, features=data.info.features,
        classes=data.info.classes, params=params.model_dump(mode="json", by_alias=True), iterations=found[1],
        pipeline=si.pipeline, run_id=si.run_id,
        example=None if st.model_def.Request is not None else example_rows(data.validation.X),
    )
    save_model_folder(st.model_def, model, model_uri, card)
    artifacts = {
        "model": model_uri,
        "trials": storage.join(si.stage_uri, "trials.json"),
        "curves": storage.join(si.stage_uri, "curves.svg"),
    }
    summary = {"metric": key, "mode": st.mode, "maxIterations": max_t, "bestTrialId": best_id, "trials": trials}
    storage.write_json(artifacts["trials"], summary)
    title = f"{si.pipeline} {si.run_id}: validation {st.metric} per iteration"
    storage.write_bytes(artifacts["curves"], render_curves(curves, st.metric, max_t, title).encode("utf-8"))
    stopped = sum(1 for t in trials if t["stoppedEarly"])
    tracking.current().log_params({"best": best_config, "bestTrialId": best_id})
    t_end = time.perf_counter()
    user = sum(t["userSeconds"] for t in trials)
    evaluation = sum(t["evaluationSeconds"] for t in trials)
    ckpt = sum(t["checkpointSeconds"] for t in trials)
    fit_wall = t_fitted - t_fit
    timing = {
        "stageSeconds": round(t_end - t_start, 3),
        "dataSeconds": round(t_data - t_start, 3),
        "fitSeconds": round(fit_wall, 3),
        # Summed over trials (they run up to maxConcurrent at a time, so this can exceed fitSeconds).
        "userSeconds": round(user, 3),
        "evaluationSeconds": round(evaluation, 3),
        "checkpointSeconds": round(ckpt, 3),
        "trialSlotSeconds": round(fit_wall * min(max_concurrent, num_samples), 3),
        "saveSeconds": round(t_end - t_fitted, 3),
    }
    print(f"[tune] done: best trial {best_id} {key}={value:.4f} {best_config}; {stopped}/{len(trials)} stopped early", flush=True)
    progress_line(f"[tune] model saved to {model_uri}")
    return StageResult(
        metrics={key: value, "trials": len(trials), "stopped_early": stopped, "iterations": found[1]},
        artifacts=artifacts,
        details={
            "bestConfig": best_config,
            "bestTrialId": best_id,
            "params": card.params,
            "framework": st.model_def.framework,
            "module": st.module,
            "features": data.info.features,
            "failedTrials": len(trials) - len(ok),
            "resumed": resumed,
            "timing": timing,
        },
    )
