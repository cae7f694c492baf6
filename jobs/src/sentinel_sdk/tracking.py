"""MLflow tracking for every stage, through the SDK (docs/stage-contract.md, "Experiment tracking").

The control plane creates one MLflow run per pipeline run, in the experiment named after the pipeline, and passes it
in the stage input (`tracking`). Each stage opens a run nested under it, named after the stage (a retried attempt
continues the same one), and logs:

- its params (the stage input's `params`, flattened: `model.params.max_depth`, `searchSpace.eta`, ...);
- a metric per reported iteration (every `FitRun.report`: train through a Ray Train callback, each Tune trial through
  a Tune callback), so a model of the user's gets curves without a line of its own;
- its final metrics, also on the pipeline run as `<stage>.<metric>` so the experiment's table compares runs;
- its artifacts (the model folder, curves.svg, trials.json, the ingest manifest, result.json);
- lineage tags (`sentinel.*`: pipeline, run id, execution name, image, dataset URI; ingest adds the SHA-256).

Tune trials are runs nested under the tune run, with their sampled config as params and their metric per iteration.

Best effort, always: with no `tracking` in the input nothing is imported and every call returns at once; with a
server that errors, the first error is printed once (`[tracking] ... carrying on without tracking`) and the rest of
the stage runs untracked. Nothing raised here reaches a stage.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from sentinel_sdk import storage
from sentinel_sdk.contract import StageInput, StageResult, one_line

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

T = TypeVar("T")

#: Artifacts of a result that are copied to the stage's MLflow run (splits and checkpoints stay in the bucket).
TRACKED_ARTIFACTS = ("manifest", "model", "curves", "trials")
#: Seconds between flushes of per-iteration metrics (one log-batch request each).
FLUSH_SECONDS = 2.0
# MLflow's client retries a failing request 7 times with exponential backoff (minutes); a stage must not wait that long.
_CLIENT_ENV = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_BACKOFF_JITTER": "0",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "15",
}
_MAX_BATCH_PARAMS = 100
_MAX_BATCH_METRICS = 1000
_MAX_PARAM_CHARS = 6000


def client(uri: str) -> MlflowClient:
    for key, value in _CLIENT_ENV.items():
        os.environ.setdefault(key, value)
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def run_url(uri: str, experiment_id: str, run_id: str) -> str:
    return f"{uri.rstrip('/')}/#/experiments/{experiment_id}/runs/{run_id}"


class Guard:
    """Runs tracking calls. The first failure is printed once and turns every later call into a no-op."""

    def __init__(self, say: Callable[[str], None] | None = None) -> None:
        self.error: str | None = None
        self._say = say

    def __call__(self, what: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
        if self.error is not None:
            return None
        try:
            return fn(*args, **kwargs)
        except Exception as e:  # noqa: BLE001 - tracking never fails a stage
            self.error = one_line(f"{what}: {type(e).__name__}: {e}", 400)
            line = f"[tracking] {self.error}; carrying on without tracking for the rest of this stage"
            (self._say or _say)(line)
            return None


def _say(line: str) -> None:
    print(line, flush=True)


def flatten(params: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """`{"model": {"params": {"eta": 0.3}}}` → `{"model.params.eta": "0.3"}`; lists and leaves as JSON text."""
    out: dict[str, str] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            out.update(flatten(value, f"{name}."))
        else:
            text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
            out[name] = text[:_MAX_PARAM_CHARS]
    return out


def numeric(metrics: Mapping[str, Any]) -> dict[str, float]:
    """The finite numbers of a record, without the SDK's own `_seconds_*` bookkeeping."""
    out: dict[str, float] = {}
    for key, value in metrics.items():
        if key.startswith("_") or isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        if math.isfinite(float(value)):
            out[key] = float(value)
    return out


def _chunks(items: list[T], size: int) -> Iterable[list[T]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


class StepLogger:
    """Metrics per iteration for one MLflow run, buffered and sent as log-batch requests every FLUSH_SECONDS and on
    `flush()`. Picklable (Ray ships it to the Train controller and keeps Tune callbacks in the experiment state): only
    the server and run id travel; the client is made where it is used."""

    def __init__(self, uri: str, run_id: str) -> None:
        self.uri, self.run_id = uri, run_id
        self._init()

    def _init(self) -> None:
        self._client: MlflowClient | None = None
        self._buffer: list[Any] = []
        self._flushed = time.monotonic()
        self.guard = Guard()

    def __getstate__(self) -> dict[str, Any]:
        return {"uri": self.uri, "run_id": self.run_id}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.uri, self.run_id = state["uri"], state["run_id"]
        self._init()

    def log(self, step: int, metrics: Mapping[str, Any]) -> None:
        if self.guard.error is not None:
            return
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        self._buffer.extend(Metric(key, value, now, step) for key, value in numeric(metrics).items())
        if time.monotonic() - self._flushed >= FLUSH_SECONDS or len(self._buffer) >= _MAX_BATCH_METRICS:
            self.flush()

    def flush(self) -> None:
        self._flushed = time.monotonic()
        if not self._buffer or self.guard.error is not None:
            self._buffer = []
            return
        batch, self._buffer = self._buffer, []
        self.guard("logging metrics", self._send, batch)

    def _send(self, batch: list[Any]) -> None:
        if self._client is None:
            self._client = client(self.uri)
        for part in _chunks(batch, _MAX_BATCH_METRICS):
            self._client.log_batch(self.run_id, metrics=part)


class StageTracker:
    """One stage's MLflow run, nested under the pipeline run. Disabled (every method a no-op) when the stage input
    has no `tracking`, and after the first failed call."""

    def __init__(self, si: StageInput | None) -> None:
        target = si.tracking if si is not None else None
        self.stage = si.stage if si is not None else ""
        self.uri: str = str(target["uri"]) if target else ""
        self.experiment_id: str = str(target["experimentId"]) if target else ""
        self.parent_run_id: str = str(target["parentRunId"]) if target else ""
        self.lineage: dict[str, str] = {str(k): str(v) for k, v in (target or {}).get("tags", {}).items()}
        self.run_id: str | None = None
        self.guard = Guard()
        self._on = target is not None
        self._client: MlflowClient | None = None
        self.seconds = 0.0  # time spent in tracking calls, reported in result details

    @property
    def enabled(self) -> bool:
        return self._on and self.guard.error is None

    def _call(self, what: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
        if not self.enabled:
            return None
        t0 = time.perf_counter()
        try:
            return self.guard(what, fn, *args, **kwargs)
        finally:
            self.seconds += time.perf_counter() - t0

    @property
    def mlflow(self) -> MlflowClient:
        if self._client is None:
            self._client = client(self.uri)
        return self._client

    # The stage's run -------------------------------------------------------------------------------------------

    def start(self, si: StageInput) -> None:
        self._call(f"opening the {si.stage} run on {self.uri}", self._start, si)

    def _start(self, si: StageInput) -> None:
        from mlflow.entities import Param, RunStatus

        c = self.mlflow
        found = c.search_runs(
            [self.experiment_id],
            filter_string=f"tags.`mlflow.parentRunId` = '{self.parent_run_id}' and tags.`sentinel.stage` = '{si.stage}'",
            max_results=1, order_by=["attributes.start_time ASC"],
        )
        tags = {
            **self.lineage,
            "mlflow.parentRunId": self.parent_run_id,
            "mlflow.source.type": "JOB",
            "mlflow.source.name": f"sentinel_jobs.{si.stage}",
            "sentinel.stage": si.stage,
        }
        if found:
            # A retried attempt (spot interruption, lost job) continues the same run: its curves go on where they left.
            self.run_id = found[0].info.run_id
            c.update_run(self.run_id, status=RunStatus.to_string(RunStatus.RUNNING))
            attempts = int(found[0].data.tags.get("sentinel.attempts", "1")) + 1
            c.set_tag(self.run_id, "sentinel.attempts", str(attempts))
        else:
            self.run_id = c.create_run(self.experiment_id, run_name=si.stage, tags=tags).info.run_id
        params = [Param(k, v) for k, v in flatten(si.params.as_dict()).items()]
        for part in _chunks(params, _MAX_BATCH_PARAMS):
            c.log_batch(self.run_id, params=part)

    def details(self) -> dict[str, Any]:
        """What result.json's `details.tracking` says about this stage's run."""
        if not self._on:
            return {}
        out: dict[str, Any] = {"experimentId": self.experiment_id, "parentRunId": self.parent_run_id}
        if self.run_id is not None:
            out.update(runId=self.run_id, url=run_url(self.uri, self.experiment_id, self.run_id))
        if self.guard.error is not None:
            out["error"] = self.guard.error
        out["seconds"] = round(self.seconds, 3)
        return out

    def log_metrics(self, metrics: Mapping[str, Any], step: int | None = None, *, run_id: str | None = None) -> None:
        self._call("logging metrics", self._log_metrics, metrics, step, run_id)

    def _log_metrics(self, metrics: Mapping[str, Any], step: int | None, run_id: str | None) -> None:
        from mlflow.entities import Metric

        target = run_id or self.run_id
        if target is None:
            return
        now = int(time.time() * 1000)
        batch = [Metric(k, v, now, step or 0) for k, v in numeric(metrics).items()]
        for part in _chunks(batch, _MAX_BATCH_METRICS):
            self.mlflow.log_batch(target, metrics=part)

    def log_params(self, params: Mapping[str, Any], *, run_id: str | None = None) -> None:
        self._call("logging params", self._log_params, params, run_id)

    def _log_params(self, params: Mapping[str, Any], run_id: str | None) -> None:
        from mlflow.entities import Param

        target = run_id or self.run_id
        if target is None:
            return
        for part in _chunks([Param(k, v) for k, v in flatten(params).items()], _MAX_BATCH_PARAMS):
            self.mlflow.log_batch(target, params=part)

    def set_tags(self, tags: Mapping[str, Any], *, run_id: str | None = None) -> None:
        self._call("setting tags", self._set_tags, tags, run_id)

    def _set_tags(self, tags: Mapping[str, Any], run_id: str | None) -> None:
        from mlflow.entities import RunTag

        target = run_id or self.run_id
        if target is not None:
            self.mlflow.log_batch(target, tags=[RunTag(k, str(v)) for k, v in tags.items()])

    def tag_pipeline(self, tags: Mapping[str, Any]) -> None:
        """Tags on the pipeline run (and this stage's), e.g. the dataset's SHA-256 that ingest computes."""
        self.set_tags(tags, run_id=self.parent_run_id)
        self.set_tags(tags)

    def log_dataset(self, *, uri: str, sha256: str, rows: int, features: list[str], target: str, task: str) -> None:
        """The uploaded dataset as an MLflow dataset input of the pipeline run and the ingest run (the UI's
        "Datasets used" column), named after the file and digested by its SHA-256."""
        self._call("logging the dataset", self._log_dataset, uri, sha256, rows, features, target, task)

    def _log_dataset(self, uri: str, sha256: str, rows: int, features: list[str], target: str, task: str) -> None:
        from mlflow.entities import Dataset, DatasetInput, InputTag

        dataset = Dataset(
            name=uri.rstrip("/").rsplit("/", 1)[-1], digest=sha256[:32], source_type="s3" if uri.startswith("s3://") else "local",
            source=json.dumps({"uri": uri}), schema=json.dumps({"features": features, "target": target, "task": task}),
            profile=json.dumps({"rows": rows, "sha256": sha256}),
        )
        inputs = [DatasetInput(dataset=dataset, tags=[InputTag("mlflow.data.context", "training")])]
        for run_id in (self.parent_run_id, self.run_id):
            if run_id is not None:
                self.mlflow.log_inputs(run_id, datasets=inputs)

    def log_artifact(self, uri: str, artifact_path: str | None = None, *, run_id: str | None = None) -> None:
        """A file or a folder, local or on an object store, into the run's artifacts."""
        self._call(f"uploading {uri}", self._log_artifact, uri, artifact_path, run_id)

    def _log_artifact(self, uri: str, artifact_path: str | None, run_id: str | None) -> None:
        from sentinel_sdk.model import local_folder  # model imports metrics; only needed here

        target = run_id or self.run_id
        if target is None:
            return
        fs, path = storage._fs(uri)
        if fs.isdir(path):
            with local_folder(uri) as d:
                self.mlflow.log_artifacts(target, d, artifact_path)
            return
        if storage.is_local(uri):
            self.mlflow.log_artifact(target, path, artifact_path)
            return
        with tempfile.TemporaryDirectory(prefix="sentinel-artifact-") as d:
            local = os.path.join(d, path.rstrip("/").rsplit("/", 1)[-1])
            with open(local, "wb") as f:
                f.write(storage.read_bytes(uri))
            self.mlflow.log_artifact(target, local, artifact_path)

    def step_logger(self, run_id: str | None = None) -> StepLogger | None:
        target = run_id or self.run_id
        return StepLogger(self.uri, target) if self.enabled and target is not None else None

    def child_run(self, name: str, tags: Mapping[str, str], params: Mapping[str, Any] | None = None, *, create: bool = True) -> str | None:
        """A run nested under this stage's run (a Tune trial), found again by its tags when it already exists."""
        return self._call(f"opening run {name}", self._child_run, name, dict(tags), params or {}, create)

    def _child_run(self, name: str, tags: dict[str, str], params: Mapping[str, Any], create: bool) -> str | None:
        if self.run_id is None:
            return None
        c = self.mlflow
        where = " and ".join([f"tags.`mlflow.parentRunId` = '{self.run_id}'", *(f"tags.`{k}` = '{v}'" for k, v in tags.items())])
        found = c.search_runs([self.experiment_id], filter_string=where, max_results=1)
        if found:
            return str(found[0].info.run_id)
        if not create:
            return None
        run_id = str(c.create_run(self.experiment_id, run_name=name, tags={
            **self.lineage, **tags, "mlflow.parentRunId": self.run_id, "sentinel.stage": f"{self.stage}.trial",
        }).info.run_id)
        if params:
            self._log_params(params, run_id)
        return run_id

    def end_run(self, run_id: str, status: str) -> None:
        self._call("ending a run", lambda: self.mlflow.set_terminated(run_id, status=status))

    # The stage's end -------------------------------------------------------------------------------------------

    def finish(self, result: StageResult) -> None:
        """The stage's final metrics (also on the pipeline run, as `<stage>.<metric>`), its artifacts, the run
        ended FINISHED; then `details.tracking` in the result says where it is."""
        if self.enabled and self.run_id is not None:
            # At the last iteration's step, so a curve's end is the stage's final value (not a stray point at step 0).
            last = result.metrics.get("iterations")
            self.log_metrics(result.metrics, step=int(last) if isinstance(last, (int, float)) else None)
            self.log_metrics({f"{self.stage}.{k}": v for k, v in result.metrics.items()}, run_id=self.parent_run_id)
            timing = result.details.get("timing")
            if isinstance(timing, Mapping):
                self.log_metrics({f"seconds.{k.removesuffix('Seconds')}": v for k, v in timing.items()})
            model_uri = result.artifacts.get("model")
            if model_uri:
                # How the control plane finds the run that logged the model it promotes (registry source runs:/<id>/model).
                self.set_tags({"sentinel.modelUri": model_uri})
            for key in TRACKED_ARTIFACTS:
                if key in result.artifacts:
                    self.log_artifact(result.artifacts[key], "model" if key == "model" else None)
            self._call("uploading result.json", self._log_result, result)
            self._call("ending the run", lambda: self.mlflow.set_terminated(str(self.run_id), status="FINISHED"))
        if self._on:
            result.details["tracking"] = self.details()

    def _log_result(self, result: StageResult) -> None:
        body = {"stage": self.stage, "metrics": result.metrics, "artifacts": result.artifacts, "details": result.details}
        self.mlflow.log_dict(str(self.run_id), json.loads(json.dumps(body, default=str)), "result.json")

    def fail(self, line: str) -> None:
        if self.enabled and self.run_id is not None:
            self.set_tags({"sentinel.error": line[:5000]})
            self._call("ending the run", lambda: self.mlflow.set_terminated(str(self.run_id), status="FAILED"))


_current = StageTracker(None)


def start_stage(si: StageInput) -> StageTracker:
    """The stage's tracker (run_stage calls this after parsing the input); `current()` hands it to the stage."""
    global _current
    _current = StageTracker(si)
    if si.tracking is not None:
        _current.start(si)
    return _current


def current() -> StageTracker:
    """This stage's tracker; disabled outside a stage and when tracking is off."""
    return _current
