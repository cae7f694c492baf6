"""MLflow tracking through the SDK, against a real MLflow server started here (SQLite backend, artifacts in a
folder): the stages of one pipeline run nest under its MLflow run with params, a metric per iteration, Tune trials
as nested runs, artifacts and lineage tags. Tracking off imports nothing; a server that errors never fails a stage."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from helpers import model_params, read_result, run_module, stage_input
from sentinel_sdk.contract import ENV_VAR, encode_stage_input
from sentinel_sdk.tracking import client

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

LINEAGE = {"sentinel.runId": "", "sentinel.pipeline": "breast-cancer", "sentinel.executionName": "breast-cancer-tracked",
           "sentinel.image": "sentinel-jobs:test", "sentinel.datasetUri": ""}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`mlflow server` as `sentinel run` starts it: 127.0.0.1, a free port, SQLite, artifacts served from a folder."""
    home = tmp_path_factory.mktemp("mlflow")
    port = _free_port()
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    log = open(home / "server.log", "wb")
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "mlflow"), "server", "--backend-store-uri", f"sqlite:///{home}/mlflow.db",
         "--artifacts-destination", str(home / "artifacts"), "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    uri = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 240
        while True:
            try:
                with urllib.request.urlopen(f"{uri}/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            assert proc.poll() is None, (home / "server.log").read_text()[-2000:]
            assert time.monotonic() < deadline, "mlflow server did not come up"
            time.sleep(0.5)
        yield uri
    finally:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                proc.wait(timeout=10)
                break
            except subprocess.TimeoutExpired:
                continue
        log.close()


def _pipeline_run(uri: str, run_id: str, dataset: str) -> dict[str, Any]:
    """What the control plane's prepare-run does: the experiment named after the pipeline, one run per pipeline run."""
    c = client(uri)
    found = c.get_experiment_by_name("breast-cancer")
    experiment_id = found.experiment_id if found else c.create_experiment("breast-cancer")
    tags = {**LINEAGE, "sentinel.runId": run_id, "sentinel.datasetUri": dataset}
    parent = c.create_run(experiment_id, run_name=run_id, tags=tags).info.run_id
    return {"uri": uri, "experimentId": experiment_id, "parentRunId": parent, "tags": tags}


@pytest.fixture(scope="session")
def tracked(mlflow_server: str, ray_address: str, workdir: Path, reference_csv: Path) -> dict[str, Any]:
    """Ingest, train, tune and evaluate of one pipeline run, tracked."""
    from helpers import run_id_of

    run_id = run_id_of("tracked")
    tracking = _pipeline_run(mlflow_server, run_id, str(reference_csv))
    out: dict[str, Any] = {"tracking": tracking}

    def stage(name: str, params: dict[str, Any]) -> dict[str, Any]:
        payload = {**stage_input(workdir, name, params, run_id="tracked"), "tracking": tracking}
        t0 = time.monotonic()
        proc = run_module(name, payload, ray_address if name in ("train", "tune") else None)
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert "[tracking]" not in proc.stdout, proc.stdout
        return {"payload": payload, "result": read_result(payload), "stdout": proc.stdout, "seconds": time.monotonic() - t0}

    ingest = stage("ingest", {"datasetUri": str(reference_csv), "target": "target", "task": "binary",
                              "split": {"validation": 0.2, "test": 0.2, "seed": 7}, "minRows": 30})
    data_uri = ingest["payload"]["stageUri"]
    train = stage("train", model_params({"dataUri": data_uri, "metric": "roc_auc", "iterations": 6, "numWorkers": 1,
                                         "checkpointEvery": 3}, model={"max_depth": 3, "eta": 0.3}))
    tune = stage("tune", model_params({
        "dataUri": data_uri, "metric": "roc_auc", "numSamples": 3, "maxConcurrent": 2, "maxIterations": 6, "gracePeriod": 2,
        "reductionFactor": 2, "searchSpace": {"eta": {"type": "loguniform", "lower": 0.05, "upper": 0.5},
                                              "max_depth": {"type": "randint", "lower": 2, "upper": 4}},
    }, model={"max_depth": 3}))
    evaluate = stage("evaluate", {"dataUri": data_uri, "target": "target", "task": "binary", "metric": "roc_auc",
                                  "candidate": {"modelUri": tune["result"]["artifacts"]["model"], "source": "tune"},
                                  "champion": {"modelUri": train["result"]["artifacts"]["model"], "runId": run_id}})
    out.update(ingest=ingest, train=train, tune=tune, evaluate=evaluate)
    return out


def _stage_runs(t: dict[str, Any]) -> dict[str, Any]:
    c = client(t["tracking"]["uri"])
    runs = c.search_runs([t["tracking"]["experimentId"]], f"tags.`mlflow.parentRunId` = '{t['tracking']['parentRunId']}'")
    return {r.data.tags["sentinel.stage"]: r for r in runs}


def test_each_stage_is_a_run_nested_under_the_pipeline_run(tracked: dict[str, Any]) -> None:
    runs = _stage_runs(tracked)
    assert sorted(runs) == ["evaluate", "ingest", "train", "tune"]
    for stage, run in runs.items():
        assert run.info.status == "FINISHED", stage
        assert run.info.run_name == stage
        tags = run.data.tags
        assert tags["sentinel.runId"] == tracked["tracking"]["tags"]["sentinel.runId"]
        assert tags["sentinel.image"] == "sentinel-jobs:test"
        assert tags["sentinel.executionName"] == "breast-cancer-tracked"
        details = tracked[stage]["result"]["details"]["tracking"]
        assert details["runId"] == run.info.run_id
        assert details["url"].endswith(f"/#/experiments/{tracked['tracking']['experimentId']}/runs/{run.info.run_id}")
    # Params: the stage input's params, flattened.
    train = runs["train"].data.params
    assert train["iterations"] == "6"
    assert train["model.params.max_depth"] == "3"
    assert train["model.module"] == "sentinel_jobs.models.xgboost"


def test_train_logs_its_metric_at_every_iteration(tracked: dict[str, Any]) -> None:
    run = _stage_runs(tracked)["train"]
    history = client(tracked["tracking"]["uri"]).get_metric_history(run.info.run_id, "validation_roc_auc")
    assert sorted({m.step for m in history}) == [1, 2, 3, 4, 5, 6]  # one point per iteration (+ the final at 6)
    final = tracked["train"]["result"]["metrics"]["validation_roc_auc"]
    assert run.data.metrics["validation_roc_auc"] == pytest.approx(final)  # the final value is the latest one
    assert [m.value for m in history if m.step == 6] == pytest.approx([final] * len([m for m in history if m.step == 6]))
    assert run.data.metrics["iterations"] == 6


def test_tune_trials_are_nested_runs_with_configs_and_curves(tracked: dict[str, Any]) -> None:
    tune = _stage_runs(tracked)["tune"]
    c = client(tracked["tracking"]["uri"])
    trials = c.search_runs([tracked["tracking"]["experimentId"]], f"tags.`mlflow.parentRunId` = '{tune.info.run_id}'")
    summary = json.loads(Path(tracked["tune"]["result"]["artifacts"]["trials"]).read_text())
    by_id = {t["trialId"]: t for t in summary["trials"]}
    assert sorted(r.data.tags["sentinel.trialId"] for r in trials) == sorted(by_id)
    for run in trials:
        record = by_id[run.data.tags["sentinel.trialId"]]
        assert run.info.status == "FINISHED"
        assert {k: run.data.params[k] for k in ("eta", "max_depth")} == {k: str(v) for k, v in record["config"].items()}
        curve = c.get_metric_history(run.info.run_id, "validation_roc_auc")
        assert [m.value for m in sorted(curve, key=lambda m: m.step)] == pytest.approx(record["history"])
        assert run.data.tags["sentinel.stoppedEarly"] == str(record["stoppedEarly"]).lower()
    assert [r.data.tags["sentinel.trialId"] for r in trials if r.data.tags.get("sentinel.best") == "true"] == [summary["bestTrialId"]]
    assert tune.data.params["bestTrialId"] == summary["bestTrialId"]


def test_artifacts_and_the_model_folder(tracked: dict[str, Any]) -> None:
    runs = _stage_runs(tracked)
    c = client(tracked["tracking"]["uri"])

    def files(stage: str, path: str | None = None) -> set[str]:
        return {f.path for f in c.list_artifacts(runs[stage].info.run_id, path)}

    assert {"manifest.json", "result.json"} <= files("ingest")
    assert {"curves.svg", "trials.json", "model", "result.json"} <= files("tune")
    assert "model/sentinel-model.json" in files("train", "model")
    assert "model/sentinel-model.json" in files("tune", "model")
    # The run that logged a model says which model folder it is: how promotion finds the registry version's source.
    assert runs["tune"].data.tags["sentinel.modelUri"] == tracked["tune"]["result"]["artifacts"]["model"]
    card = json.loads(Path(c.download_artifacts(runs["train"].info.run_id, "model/sentinel-model.json")).read_text())
    assert card["iterations"] == 6


def test_the_pipeline_run_compares_stages_and_carries_the_dataset_lineage(tracked: dict[str, Any]) -> None:
    c = client(tracked["tracking"]["uri"])
    parent = c.get_run(tracked["tracking"]["parentRunId"])
    metrics = parent.data.metrics
    assert metrics["train.validation_roc_auc"] == pytest.approx(tracked["train"]["result"]["metrics"]["validation_roc_auc"])
    assert metrics["tune.trials"] == 3
    assert metrics["evaluate.candidate_roc_auc"] == pytest.approx(tracked["evaluate"]["result"]["metrics"]["candidate_roc_auc"])
    assert metrics["ingest.rows"] == 569
    sha = tracked["ingest"]["result"]["details"]["sha256"]
    assert parent.data.tags["sentinel.dataset.sha256"] == sha
    assert parent.inputs is not None
    inputs = parent.inputs.dataset_inputs
    assert [d.dataset.name for d in inputs] == ["breast_cancer.csv"]
    assert sha.startswith(inputs[0].dataset.digest)
    evaluate = _stage_runs(tracked)["evaluate"].data.metrics
    assert {"candidate_accuracy", "candidate_logloss", "champion_roc_auc", "champion_f1"} <= set(evaluate)


def _run_ingest_inline(payload: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    """Ingest in a fresh interpreter that reports whether the MLflow client was ever imported."""
    code = "import sys; from sentinel_jobs.ingest import main; rc = main(); print('mlflow imported:', 'mlflow' in sys.modules); sys.exit(rc)"
    env = {**os.environ, ENV_VAR: encode_stage_input(payload)}
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)


def _ingest_payload(workdir: Path, csv: Path, name: str) -> dict[str, Any]:
    return stage_input(workdir, "ingest", {"datasetUri": str(csv), "target": "target", "task": "binary",
                                           "split": {"validation": 0.2, "test": 0.2, "seed": 7}, "minRows": 30}, run_id=name)


def test_tracking_off_imports_nothing_and_adds_nothing(workdir: Path, reference_csv: Path) -> None:
    payload = _ingest_payload(workdir, reference_csv, "untracked")
    proc = _run_ingest_inline(payload)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "mlflow imported: False" in proc.stdout
    assert "tracking" not in read_result(payload)["details"]


def test_a_server_that_errors_never_fails_the_stage(mlflow_server: str, workdir: Path, reference_csv: Path) -> None:
    # The real server refuses: the pipeline run named in the input does not exist (RESOURCE_DOES_NOT_EXIST).
    c = client(mlflow_server)
    experiment_id = c.get_experiment_by_name("breast-cancer")
    assert experiment_id is not None
    payload = {**_ingest_payload(workdir, reference_csv, "refused"),
               "tracking": {"uri": mlflow_server, "experimentId": experiment_id.experiment_id, "parentRunId": "0" * 32, "tags": {}}}
    proc = _run_ingest_inline(payload)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("[tracking]")]
    assert len(lines) == 1, proc.stdout  # said once, then quiet
    assert "carrying on without tracking" in lines[0]
    details = read_result(payload)["details"]["tracking"]
    assert details["error"]


def test_an_unreachable_server_costs_seconds_not_the_stage(workdir: Path, reference_csv: Path) -> None:
    payload = {**_ingest_payload(workdir, reference_csv, "unreachable"),
               "tracking": {"uri": f"http://127.0.0.1:{_free_port()}", "experimentId": "1", "parentRunId": "x", "tags": {}}}
    t0 = time.monotonic()
    proc = _run_ingest_inline(payload)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert len([ln for ln in proc.stdout.splitlines() if ln.startswith("[tracking]")]) == 1
    assert time.monotonic() - t0 < 90  # bounded retries (2, backoff 1 s), not MLflow's default minutes
