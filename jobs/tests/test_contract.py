from __future__ import annotations

import base64
import datetime
import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

import sentinel_sdk.contract as contract_module
from sentinel_sdk import storage
from sentinel_sdk.contract import (
    ENV_VAR,
    InvalidInput,
    Params,
    StageError,
    StageResult,
    TrainingFailed,
    ValidationFailed,
    decode_stage_input,
    encode_stage_input,
    parse_stage_input,
    write_result,
)
from sentinel_sdk.stage_main import run_stage
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
    return encode_stage_input({
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
        # Plain JSON is refused, not guessed at: Ray would have expanded any `$VAR` in it on the way.
        (json.dumps({"stage": "train", "pipeline": "p", "runId": RUN, "stageUri": "/a", "runUri": "/a", "params": VALID["train"]}),
         "is not base64"),
        ("{not json", "is not base64"),
        ("e30", "is not base64"),  # unpadded
        ("e30=\n", "is not base64"),
        ("é30=", "is not base64"),
        (base64.b64encode(b"\xff\xfe{}").decode(), "not UTF-8"),
        (base64.b64encode(b"{not json").decode(), "is not JSON"),
        (encode_stage_input([1, 2]), "must be a JSON object"),
        (encode_stage_input({"stage": "train", "pipeline": "p", "runId": RUN, "stageUri": "/a", "runUri": "/a"}),
         "'params' is missing"),
        (encode_stage_input({"stage": "train", "pipeline": "p", "runId": RUN, "stageUri": "rel/dir", "runUri": "/a",
                             "params": VALID["train"]}), "stageUri must be an absolute path"),
        (encode_stage_input({"stage": "ingest", "pipeline": "p", "runId": RUN, "stageUri": "/a", "runUri": "/a",
                             "params": {}}), "stage is 'ingest' but this entrypoint runs 'train'"),
    ],
)
def test_rejects_bad_input_with_clear_error(raw: str | None, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse_stage_input(raw, "train")


#: What Ray (`$VAR`, `${VAR}`), a shell (backticks, quotes, `#`) or YAML 1.1 (NEL, LS, PS) would alter, and emoji.
HOSTILE = "price$HOME.csv ${HOME} $ `id` 'single' \"double\" # not a comment \u0085 \u2028 \u2029 \U0001F600 \\ \u00e9"


def test_the_wire_encoding_round_trips_what_ray_and_yaml_would_alter() -> None:
    data = {"params": {"datasetUri": f"s3://b/datasets/{HOSTILE}", HOSTILE: [HOSTILE]}}
    raw = encode_stage_input(data)
    assert set(raw) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="), "only the base64 alphabet"
    assert decode_stage_input(raw) == data
    # The control plane's encoding of the same value (core/stage-input-wire.ts: UTF-8 JSON, standard base64).
    assert decode_stage_input(base64.b64encode(json.dumps(data).encode()).decode()) == data
    assert contract_module.ENV_VAR == json.loads((contract_module.SCHEMA_DIR / "wire.json").read_text())["stageInput"]["env"]


def test_echoed_input_is_capped() -> None:
    from sentinel_sdk.contract import MAX_ECHO, capped, echo

    assert capped("short") == "short"
    big = "A" * 6_000_000
    assert capped(big) == "A" * MAX_ECHO + "… (6000000 characters)"
    assert len(echo(big)) < MAX_ECHO + 30
    with pytest.raises(InvalidInput) as e:
        parse_stage_input(encode_stage_input({"stage": "train", "pipeline": "p", "runId": RUN, "stageUri": big, "runUri": "/r",
                                              "params": VALID["train"]}), "train")
    assert len(str(e.value)) < 400 and "(6000002 characters)" in str(e.value)


def test_accepts_s3_uris() -> None:
    raw = encode_stage_input({"stage": "train", "pipeline": "p", "runId": RUN, "stageUri": "s3://b/x/r/train/",
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


# --- Behaviour the stages and the control plane rely on (mutation testing: scripts/mutation-py.sh) ---------------


def test_one_line_collapses_whitespace_and_keeps_within_the_limit() -> None:
    from sentinel_sdk.contract import one_line

    assert one_line("  a\n\tb   c \n") == "a b c"
    assert one_line("x" * 1000) == "x" * 1000, "exactly the default limit is kept whole"
    cut = one_line("x" * 1001)
    assert len(cut) == 1000 and cut.endswith("...") and cut.startswith("x" * 997)
    assert one_line("abcdef", 5) == "ab..."
    assert one_line("abcde", 5) == "abcde"
    assert StageError("a\nb").line() == "StageFailed: a b"
    assert InvalidInput("x").line() == "ValidationFailed: x", "bad input is reported as ValidationFailed"


def test_check_names_each_field_shallow_first_and_at_most_five() -> None:
    from sentinel_sdk.contract import check

    bad = {"stage": "train", "pipeline": 1, "runId": 2, "stageUri": 3, "runUri": 4, "params": VALID["train"] | {"model": 5, "iterations": "x"}}
    with pytest.raises(InvalidInput) as e:
        check(bad, "train.input", "IN")
    parts = str(e.value).split("; ")
    assert len(parts) == 5
    fields = [p.split(": ")[0] for p in parts]
    # Shallow fields first (by name), then deeper ones, each named from the root; then how many were not shown.
    assert fields == ["IN.pipeline", "IN.runId", "IN.runUri", "IN.stageUri", "IN.params.iterations"]
    assert parts[4].endswith(" (and 1 more)")
    # Exactly five: no "more".
    five = {"stage": "train", "pipeline": 1, "runId": 2, "stageUri": 3, "runUri": 4, "params": VALID["train"] | {"iterations": "x"}}
    with pytest.raises(InvalidInput) as e5:
        check(five, "train.input", "IN")
    assert len(str(e5.value).split("; ")) == 5 and not str(e5.value).endswith("more)")
    # List items are named by index; a missing field is named as missing.
    from sentinel_sdk.contract import _where

    assert _where(["searchSpace", "eta", "values", 0]) == ".searchSpace.eta.values[0]"
    assert _where([]) == ""
    with pytest.raises(InvalidInput, match=r"^IN: 'params' is missing$"):
        check({"stage": "train", "pipeline": "p", "runId": RUN, "stageUri": "/s", "runUri": "/r"}, "train.input", "IN")


def test_each_error_message_is_one_line_of_at_most_200_characters() -> None:
    from sentinel_sdk.contract import check

    long = "x" * 500
    with pytest.raises(InvalidInput) as e:
        check({"stage": "train", "pipeline": "p", "runId": RUN, "stageUri": "/s", "runUri": "/r", "params": VALID["train"] | {"task": long}},
              "train.input", "IN")
    message = str(e.value).split(": ", 1)[1]
    assert len(message) == 200 and message.endswith("...")
    with pytest.raises(InvalidInput) as missing:
        check({"stage": "train", "pipeline": "p", "runId": RUN, "stageUri": "/s", "runUri": "/r", "params": {k: v for k, v in VALID["train"].items() if k != "dataUri"}},
              "train.input", "IN")
    assert str(missing.value) == "IN.params: 'dataUri' is missing"


def test_defaults_are_filled_through_refs_and_object_options() -> None:
    from sentinel_sdk.contract import _with_defaults

    root = {
        "$defs": {"split": {"type": "object", "properties": {"seed": {"default": 42}, "test": {"default": 0.2}}}},
        "type": "object",
        "properties": {
            "split": {"$ref": "#/$defs/split"},
            "champion": {"anyOf": [{"type": "null"}, {"type": "object", "properties": {"n": {"default": 1}}}]},
            "other": {"oneOf": [{"type": "object", "properties": {"m": {"default": [1]}}}, {"type": "object", "properties": {"m": {"default": 2}}}]},
            "external": {"$ref": "other.json#/x"},
            "flag": {"default": False},
            "odd": True,
        },
    }
    filled = _with_defaults({"split": {"seed": 7}, "champion": {}, "other": {}, "external": {}}, root, root)
    assert filled == {"split": {"seed": 7, "test": 0.2}, "champion": {"n": 1}, "other": {"m": [1]}, "external": {}, "flag": False}
    assert _with_defaults({"champion": None}, root, root)["champion"] is None
    # Defaults are copies: filling twice never shares a mutable default.
    a = _with_defaults({"other": {}}, root, root)
    a["other"]["m"].append(9)
    assert _with_defaults({"other": {}}, root, root)["other"]["m"] == [1]
    assert _with_defaults("text", root, root) == "text"
    # The evaluate input: a null champion stays null, a champion object is kept.
    raw = encode_stage_input({"stage": "evaluate", "pipeline": "p", "runId": RUN, "stageUri": "/s", "runUri": "/r",
                              "params": VALID["evaluate"] | {"champion": {"modelUri": "/c", "runId": RUN}}})
    assert parse_stage_input(raw, "evaluate").params.raw("champion") == {"modelUri": "/c", "runId": RUN}


def test_params_accessors_check_types_and_bounds_and_name_the_key() -> None:
    p = Params({"s": "x", "empty": "", "n": 3, "f": 0.5, "b": True, "inf": float("inf"), "o": {"k": 1}, "none": None, "l": [1]}, "params.x")
    assert p.text("s") == "x"
    assert p.text("none", default="d") == "d", "null counts as absent"
    assert p.integer("n", minimum=3) == 3, "the minimum is allowed"
    assert p.integer("n") == 3
    assert p.number("f", low=0.0, high=1.0) == 0.5
    assert p.number("n") == 3.0 and isinstance(p.number("n"), float)
    assert p.obj("o").integer("k") == 1 and p.obj("o").where == "params.x.o"
    assert p.mapping("o") == {"k": 1}
    assert p.where == "params.x"
    assert p.keys() == ["s", "empty", "n", "f", "b", "inf", "o", "none", "l"]
    assert p.as_dict()["n"] == 3
    failing: list[Callable[[], object]] = [
        lambda: p.text("empty"), lambda: p.text("n"), lambda: p.integer("n", minimum=4), lambda: p.integer("f"), lambda: p.integer("b"),
        lambda: p.number("b"), lambda: p.number("inf"), lambda: p.number("s"), lambda: p.number("f", low=0.5, high=1.0),
        lambda: p.number("f", low=0.0, high=0.5), lambda: p.obj("l"), lambda: p.mapping("s"), lambda: p.raw("none"), lambda: p.text("absent"),
    ]
    for call in failing:
        with pytest.raises(InvalidInput, match=r"^params\.x\.(empty|n|f|b|inf|s|l|none|absent) "):
            call()
    with pytest.raises(InvalidInput, match=r"; got \{\"k\": 1\}$"):
        Params({"k": {"k": 1}}).text("k")
    with pytest.raises(InvalidInput) as e:
        Params({"k": "y" * 200}).integer("k")
    assert len(str(e.value).split("; got ")[1]) == 80, "the offending value is cut to 80 characters"
    with pytest.raises(InvalidInput, match=r"; got \"\d{4}-"):
        Params({"k": datetime.date(2024, 1, 2)}).integer("k")


def test_stage_and_run_uris_are_absolute_and_lose_trailing_slashes(tmp_path: Path) -> None:
    from sentinel_sdk.contract import check_uri_param, split_uri

    raw = encode_stage_input({"stage": "train", "pipeline": "p", "runId": RUN, "stageUri": "/", "runUri": "s3://b/r/",
                              "params": VALID["train"], "tracking": {"uri": "http://mlflow", "experimentId": "1", "parentRunId": "p"}})
    si = parse_stage_input(raw, "train")
    assert (si.stage_uri, si.run_uri) == ("/", "s3://b/r")
    assert si.tracking == {"uri": "http://mlflow", "experimentId": "1", "parentRunId": "p", "tags": {}}
    assert si.params.where == "params" and si.params.integer("iterations") == 5
    assert parse_stage_input(_raw(tmp_path), "train").tracking is None
    with pytest.raises(InvalidInput, match=r"^SENTINEL_STAGE_INPUT\.runUri "):
        parse_stage_input(encode_stage_input({"stage": "train", "pipeline": "p", "runId": RUN, "stageUri": "/s", "runUri": "r", "params": VALID["train"]}), "train")
    assert check_uri_param(Params({"dataUri": "/d/"}), "dataUri") == "/d"
    with pytest.raises(InvalidInput, match=r"^params\.dataUri "):
        check_uri_param(Params({"dataUri": "d"}), "dataUri")
    assert split_uri("s3://b/ingest", "train") == "s3://b/ingest/train.parquet"
    assert split_uri("/x/ingest/", "test") == "/x/ingest/test.parquet"
    with pytest.raises(InvalidInput, match="is not set"):
        parse_stage_input("   ", "train")


def test_write_result_writes_atomically_and_refuses_a_result_that_breaks_the_contract(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    si = parse_stage_input(_raw(tmp_path), "train")
    calls: list[tuple[str, object, bool]] = []
    monkeypatch.setattr(storage, "write_json", lambda uri, obj, atomic=False: calls.append((uri, obj, atomic)))
    uri = write_result(si, StageResult(metrics={"n": 3, "v": 0.5}))
    assert calls == [(uri, {"stage": "train", "metrics": {"n": 3, "v": 0.5}, "artifacts": {}, "details": {}}, True)]
    assert uri == str(tmp_path / "r1" / "train" / "result.json")
    with pytest.raises(StageError, match=r"result\.json\.artifacts\.model") as e:
        write_result(si, StageResult(artifacts={"model": 1}))  # type: ignore[dict-item]
    assert not isinstance(e.value, InvalidInput), "a bad result is the stage's fault, not bad input"
    assert len(calls) == 1


class _Tracker:
    def __init__(self) -> None:
        self.calls: list[tuple[str, object]] = []

    def finish(self, result: StageResult) -> None:
        self.calls.append(("finish", result))

    def fail(self, line: str) -> None:
        self.calls.append(("fail", line))


def test_run_stage_tells_the_tracker_how_it_ended(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from sentinel_sdk import tracking

    trackers: list[_Tracker] = []
    seen: list[object] = []

    def start(si: object) -> _Tracker:
        seen.append(si)
        trackers.append(_Tracker())
        return trackers[-1]

    monkeypatch.setattr(tracking, "start_stage", start)
    monkeypatch.setenv(ENV_VAR, _raw(tmp_path, stage="evaluate"))
    result = StageResult(metrics={"candidate_f1": 0.5})
    bodies: list[object] = []
    def body(si: object) -> StageResult:
        bodies.append(si)
        return result

    assert run_stage("evaluate", body) == 0
    assert trackers[0].calls == [("finish", result)]
    assert bodies == seen and getattr(bodies[0], "stage", None) == "evaluate", "the body gets the parsed input"
    assert capsys.readouterr().out == f"[evaluate] wrote {tmp_path / 'r1' / 'evaluate' / 'result.json'}\n"

    def known(_: object) -> StageResult:
        raise TrainingFailed("diverged")

    assert run_stage("evaluate", known) == 1
    assert trackers[1].calls == [("fail", "TrainingFailed: diverged")]

    def unexpected(_: object) -> StageResult:
        raise RuntimeError("oops")

    assert run_stage("evaluate", unexpected) == 1
    assert trackers[2].calls == [("fail", "StageFailed: RuntimeError: oops")]
    # Bad input fails before any tracking starts.
    monkeypatch.setenv(ENV_VAR, "{")
    assert run_stage("evaluate", lambda si: result) == 1
    assert len(trackers) == 3
    monkeypatch.setenv(ENV_VAR, _raw(tmp_path, stage="evaluate"))
    monkeypatch.setattr(contract_module, "write_result", lambda si, r: (_ for _ in ()).throw(RuntimeError("disk full")))
    assert run_stage("evaluate", lambda si: result) == 1
    assert trackers[3].calls == [("finish", result), ("fail", "StageFailed: RuntimeError: disk full")]


def test_ray_connection_is_opened_once_and_closed_only_by_the_stage_that_opened_it(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys
    import types

    calls: list[str] = []
    state = {"up": False}
    def init() -> None:
        calls.append("init")
        state["up"] = True

    def shutdown() -> None:
        calls.append("shutdown")
        state["up"] = False

    fake = types.ModuleType("ray")
    fake.is_initialized = lambda: state["up"]  # type: ignore[attr-defined]
    fake.init = init  # type: ignore[attr-defined]
    fake.shutdown = shutdown  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "ray", fake)
    monkeypatch.delenv("RAY_COLOR_PREFIX", raising=False)
    monkeypatch.setattr(contract_module, "_connected_here", False)
    contract_module._stop_log_forwarding()
    assert calls == [], "nothing to close"
    contract_module.init_ray()
    assert os.environ["RAY_COLOR_PREFIX"] == "0"
    contract_module.init_ray()
    assert calls == ["init"], "an existing connection is reused"
    contract_module._stop_log_forwarding()
    contract_module._stop_log_forwarding()
    assert calls == ["init", "shutdown"]
    # A connection someone else made (a test session's) is left open.
    state["up"] = True
    monkeypatch.setenv("RAY_COLOR_PREFIX", "1")
    contract_module.init_ray()
    contract_module._stop_log_forwarding()
    assert calls == ["init", "shutdown"] and os.environ["RAY_COLOR_PREFIX"] == "1"


def test_schema_files_and_stage_names() -> None:
    from sentinel_sdk.contract import STAGES, schema

    assert STAGES == ("ingest", "train", "tune", "evaluate")
    assert set(schema("vocabulary")["tasks"]) == {"binary", "multiclass", "regression"}
    assert schema("result")["type"] == "object"
    with pytest.raises(StageError, match=r"nope\.schema\.json"):
        schema("nope")
