from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from sentinel_sdk import storage
from sentinel_sdk.contract import (
    ENV_VAR,
    InvalidInput,
    Params,
    StageError,
    StageResult,
    ValidationFailed,
    parse_stage_input,
    run_stage,
    write_result,
)
from sentinel_sdk.tune import search_space

RUN = "r000000001"
VALID: dict[str, dict[str, object]] = {
    "ingest": {"datasetUri": "/d.csv", "target": "y", "task": "binary", "split": {"validation": 0.2, "test": 0.2, "seed": 1}},
    "train": {"dataUri": "/d", "target": "y", "task": "binary", "metric": "roc_auc", "mode": "max",
              "model": {"module": "sentinel_jobs.models.xgboost", "params": {}}, "iterations": 5},
    "evaluate": {"dataUri": "/d", "target": "y", "task": "binary", "metric": "f1",
                 "candidate": {"modelUri": "/m", "source": "train"}, "champion": None},
}


def _raw(tmp_path: Path, stage: str = "train", **params: object) -> str:
    return json.dumps({
        "pipeline": "p", "runId": RUN, "stage": stage,
        "stageUri": str(tmp_path / "r1" / stage), "runUri": str(tmp_path / "r1"),
        "params": {**VALID.get(stage, {}), **params},
    })


def test_parses_valid_input_and_fills_defaults_from_the_contract(tmp_path: Path) -> None:
    si = parse_stage_input(_raw(tmp_path, iterations=5), "train")
    assert (si.pipeline, si.run_id, si.stage) == ("p", RUN, "train")
    assert si.stage_uri == str(tmp_path / "r1" / "train")
    assert si.params.integer("iterations", minimum=1) == 5
    # Defaults come from the generated JSON Schema, the same ones the control plane applies.
    from sentinel_sdk.contract import schema
    props = schema("train.input")["properties"]["params"]["properties"]
    assert si.params.integer("checkpointEvery") == props["checkpointEvery"]["default"]
    assert si.params.integer("numWorkers") == props["numWorkers"]["default"] == 1


def test_tune_grace_period_default_is_the_control_planes() -> None:
    from sentinel_sdk.contract import schema
    assert schema("tune.input")["properties"]["params"]["properties"]["gracePeriod"]["default"] == 5


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"iterations": "ten"}, "SENTINEL_STAGE_INPUT.params.iterations"),
        ({"task": "ranking"}, "SENTINEL_STAGE_INPUT.params.task"),
        ({"model": {"module": "x y", "params": {}}}, "SENTINEL_STAGE_INPUT.params.model.module"),
        ({"surprise": 1}, "SENTINEL_STAGE_INPUT.params"),
    ],
)
def test_contract_violations_name_the_field(tmp_path: Path, change: dict[str, object], where: str) -> None:
    with pytest.raises(InvalidInput, match=where.replace(".", r"\.")):
        parse_stage_input(_raw(tmp_path, "train", **change), "train")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (None, "is not set"),
        ("{not json", "not valid JSON"),
        ("[1, 2]", "must be a JSON object"),
        (json.dumps({"stage": "train", "pipeline": "p", "runId": RUN, "stageUri": "/a", "runUri": "/a"}),
         "'params' is missing"),
        (json.dumps({"stage": "train", "pipeline": "p", "runId": RUN, "stageUri": "rel/dir", "runUri": "/a",
                     "params": VALID["train"]}), "stageUri must be an absolute path"),
        (json.dumps({"stage": "ingest", "pipeline": "p", "runId": RUN, "stageUri": "/a", "runUri": "/a",
                     "params": {}}), "stage is 'ingest' but this entrypoint runs 'train'"),
    ],
)
def test_rejects_bad_input_with_clear_error(raw: str | None, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse_stage_input(raw, "train")


def test_accepts_s3_uris() -> None:
    raw = json.dumps({"stage": "train", "pipeline": "p", "runId": RUN, "stageUri": "s3://b/x/r/train/",
                      "runUri": "s3://b/x/r", "params": VALID["train"]})
    assert parse_stage_input(raw, "train").stage_uri == "s3://b/x/r/train"


def test_params_errors_name_the_key() -> None:
    p = Params({"iterations": "ten", "split": {"seed": -1}, "flag": True})
    with pytest.raises(InvalidInput, match=r"params\.iterations must be an integer >= 1; got \"ten\""):
        p.integer("iterations", minimum=1)
    with pytest.raises(InvalidInput, match=r"params\.split\.seed must be an integer >= 0; got -1"):
        p.obj("split").integer("seed", minimum=0)
    with pytest.raises(InvalidInput, match=r"params\.flag must be an integer"):
        p.integer("flag")  # JSON true is not 1
    with pytest.raises(InvalidInput, match=r"params\.missing is missing"):
        p.raw("missing")
    assert p.integer("absent", default=3) == 3


def test_fraction_bounds() -> None:
    with pytest.raises(InvalidInput, match=r"strictly between 0\.0 and 1\.0"):
        Params({"test": 1.0}).number("test", low=0.0, high=1.0)


def test_write_result_is_atomic_and_complete(tmp_path: Path) -> None:
    si = parse_stage_input(_raw(tmp_path), "train")
    uri = write_result(si, StageResult(metrics={"validation_roc_auc": 0.99}, artifacts={"model": "/m"},
                                       details={"resumedFromIteration": 0}))
    assert json.loads(Path(uri).read_text()) == {
        "stage": "train", "metrics": {"validation_roc_auc": 0.99}, "artifacts": {"model": "/m"},
        "details": {"resumedFromIteration": 0},
    }
    assert os.listdir(Path(uri).parent) == ["result.json"]  # no temp file left behind


def test_write_result_rejects_non_finite_metrics(tmp_path: Path) -> None:
    si = parse_stage_input(_raw(tmp_path), "train")
    with pytest.raises(StageError, match="not finite"):
        write_result(si, StageResult(metrics={"x": float("nan")}))
    assert not (tmp_path / "r1" / "train" / "result.json").exists()


def test_run_stage_failure_is_one_line_and_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv(ENV_VAR, _raw(tmp_path, stage="ingest"))

    def body(_: object) -> StageResult:
        raise ValidationFailed("column 'x' has 3 NaN\nvalues")

    assert run_stage("ingest", body) == 1
    assert capsys.readouterr().err == "ValidationFailed: column 'x' has 3 NaN values\n"
    assert not (tmp_path / "r1" / "ingest" / "result.json").exists()


def test_run_stage_unexpected_error_ends_with_reason(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv(ENV_VAR, _raw(tmp_path, stage="ingest"))

    def body(_: object) -> StageResult:
        raise KeyError("boom")

    assert run_stage("ingest", body) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err
    assert err.strip().splitlines()[-1] == "StageFailed: KeyError: 'boom'"


def test_run_stage_success_writes_result(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_VAR, _raw(tmp_path, stage="evaluate"))
    assert run_stage("evaluate", lambda si: StageResult(metrics={"candidate_f1": 0.5})) == 0
    assert storage.read_json(str(tmp_path / "r1" / "evaluate" / "result.json"))["metrics"] == {"candidate_f1": 0.5}


def test_storage_uri_helpers() -> None:
    assert storage.join("s3://b/p/", "/x", "y.json") == "s3://b/p/x/y.json"
    assert storage.join("/tmp/a", "b") == "/tmp/a/b"
    assert storage.fs_path_to_uri("b/p/checkpoints/c1", "s3://b/p/checkpoints") == "s3://b/p/checkpoints/c1"
    assert storage.fs_path_to_uri("/tmp/c1", "/tmp") == "/tmp/c1"
    assert storage.ray_storage_path("file:///tmp/x") == "/tmp/x"


def test_search_space_translation() -> None:
    space = search_space(Params({
        "eta": {"type": "loguniform", "lower": 0.01, "upper": 0.3},
        "subsample": {"type": "uniform", "lower": 0.5, "upper": 1.0},
        "max_depth": {"type": "randint", "lower": 2, "upper": 3},
        "min_child_weight": {"type": "choice", "values": [1, 5]},
    }, "params.searchSpace"))
    depths = {space["max_depth"].sample() for _ in range(200)}
    assert depths == {2, 3}  # bounds are inclusive
    assert all(0.01 <= space["eta"].sample() <= 0.3 for _ in range(50))
    assert {space["min_child_weight"].sample() for _ in range(100)} == {1, 5}


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({}, "at least one parameter"),
        ({"eta": {"type": "normal"}}, r"params.searchSpace.eta.type must be uniform, loguniform, randint or choice"),
        ({"eta": {"type": "loguniform", "lower": 0, "upper": 1}}, "loguniform needs lower > 0"),
        ({"eta": {"type": "uniform", "lower": 1, "upper": 1}}, "lower .* must be < upper"),
        ({"d": {"type": "randint", "lower": 2.5, "upper": 4}}, r"params.searchSpace.d.lower must be an integer"),
        ({"d": {"type": "choice", "values": []}}, "values must be a non-empty list"),
    ],
)
def test_search_space_errors(spec: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        search_space(Params(spec, "params.searchSpace"))
