from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from sentinel_jobs import storage
from sentinel_jobs.contract import (
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
from sentinel_jobs.tune import search_space


def _raw(tmp_path: Path, stage: str = "train", **params: object) -> str:
    return json.dumps({
        "pipeline": "p", "runId": "r1", "stage": stage,
        "stageUri": str(tmp_path / "r1" / stage), "runUri": str(tmp_path / "r1"),
        "params": params,
    })


def test_parses_valid_input(tmp_path: Path) -> None:
    si = parse_stage_input(_raw(tmp_path, numBoostRound=5), "train")
    assert (si.pipeline, si.run_id, si.stage) == ("p", "r1", "train")
    assert si.stage_uri == str(tmp_path / "r1" / "train")
    assert si.params.integer("numBoostRound", minimum=1) == 5


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (None, "is not set"),
        ("{not json", "not valid JSON"),
        ("[1, 2]", "must be a JSON object"),
        (json.dumps({"stage": "train", "pipeline": "p", "runId": "r", "stageUri": "/a", "runUri": "/a"}),
         "SENTINEL_STAGE_INPUT.params is missing"),
        (json.dumps({"stage": "train", "pipeline": "p", "runId": "r", "stageUri": "rel/dir", "runUri": "/a",
                     "params": {}}), "stageUri must be an absolute path"),
        (json.dumps({"stage": "ingest", "pipeline": "p", "runId": "r", "stageUri": "/a", "runUri": "/a",
                     "params": {}}), "stage is 'ingest' but this entrypoint runs 'train'"),
    ],
)
def test_rejects_bad_input_with_clear_error(raw: str | None, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse_stage_input(raw, "train")


def test_accepts_s3_uris() -> None:
    raw = json.dumps({"stage": "train", "pipeline": "p", "runId": "r", "stageUri": "s3://b/x/r/train/",
                      "runUri": "s3://b/x/r", "params": {}})
    assert parse_stage_input(raw, "train").stage_uri == "s3://b/x/r/train"


def test_params_errors_name_the_key() -> None:
    p = Params({"numBoostRound": "ten", "split": {"seed": -1}, "flag": True, "metric": "auc", "mode": "max"})
    with pytest.raises(InvalidInput, match=r"params\.numBoostRound must be an integer >= 1; got \"ten\""):
        p.integer("numBoostRound", minimum=1)
    with pytest.raises(InvalidInput, match=r"params\.split\.seed must be an integer >= 0; got -1"):
        p.obj("split").integer("seed", minimum=0)
    with pytest.raises(InvalidInput, match=r"params\.flag must be an integer"):
        p.integer("flag")  # JSON true is not 1
    with pytest.raises(InvalidInput, match=r"params\.missing is missing"):
        p.raw("missing")
    with pytest.raises(InvalidInput, match=r"params\.metric must be one of roc_auc"):
        p.metric()
    assert p.integer("absent", default=3) == 3


def test_mode_must_match_metric_direction() -> None:
    assert Params({"metric": "logloss", "mode": "min"}).mode("logloss") == "min"
    assert Params({"metric": "f1"}).mode("f1") == "max"  # defaults to the metric's direction
    with pytest.raises(InvalidInput, match="'min' for metric 'logloss'"):
        Params({"mode": "max"}).mode("logloss")


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
