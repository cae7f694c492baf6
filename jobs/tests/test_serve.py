"""Serve: the app builder deployed with serve.run, queried over HTTP on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd
import pytest
import requests
import xgboost as xgb

from helpers import run_id_of
from sentinel_sdk.serving import MAX_ROWS, AppArgs, BadRequest, MicroBatcher, Predictor, app, parse_rows

FEATURES = ["a", "b"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([1, 2], 'body must be a JSON object like {"rows"'),
        ({"data": []}, 'body must be a JSON object like {"rows"'),
        ({"rows": []}, '"rows" must be a non-empty list'),
        ({"rows": [{"a": 1, "b": 2}, 3]}, "rows[1] must be an object"),
        ({"rows": [{"a": 1}]}, "rows[0] is missing feature(s) 'b'"),
        ({"rows": [{"a": 1, "b": "2"}]}, 'rows[0].b must be a finite number; got "2"'),
        ({"rows": [{"a": True, "b": 2}]}, "rows[0].a must be a finite number; got true"),
        ({"rows": [{"a": float("nan"), "b": 2}]}, "rows[0].a must be a finite number; got NaN"),
    ],
)
def test_parse_rows_rejects_bad_bodies(body: Any, message: str) -> None:
    with pytest.raises(BadRequest) as err:
        parse_rows(body, FEATURES)
    assert message in str(err.value)


def test_parse_rows_orders_features_and_ignores_extras() -> None:
    matrix = parse_rows({"rows": [{"b": 2, "a": 1.5, "target": 1}, {"a": -1, "b": 1e3}]}, FEATURES)
    assert matrix.dtype == np.float64 and matrix.tolist() == [[1.5, 2.0], [-1.0, 1000.0]]
    assert parse_rows({"rows": [{"a": 3}]}, ["a"]).tolist() == [[3.0]]  # one feature: still a matrix


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"rows": [{"a": 1, "b": 2}, {"a": 10**400, "b": 2}]}, "rows[1].a must be a finite number"),
        ({"rows": [{"a": 1, "b": [2]}]}, "rows[0].b must be a finite number; got [2]"),
        ({"rows": [{"a": 1, "b": None}]}, "rows[0].b must be a finite number; got null"),
        ({"rows": [[1, 2]]}, "rows[0] must be an object"),
        ({"rows": [{"a": 1, "b": 2}] * 3}, '"rows" has 3 entries; at most 2 per request'),
    ],
)
def test_parse_rows_bulk_path_still_names_the_field_and_the_limit(body: Any, message: str) -> None:
    with pytest.raises(BadRequest) as err:
        parse_rows(body, FEATURES, max_rows=2)
    assert message in str(err.value)


def test_app_args_are_validated() -> None:
    with pytest.raises(ValueError, match="model_uri"):
        AppArgs.model_validate({"run_id": "r", "pipeline": "p"})
    with pytest.raises(ValueError, match="max_rows"):
        AppArgs.model_validate({"model_uri": "/m", "run_id": "r", "pipeline": "p", "max_rows": 0})
    assert AppArgs.model_validate({"model_uri": "/m", "run_id": "r", "pipeline": "p"}).max_rows == MAX_ROWS == 1000


# Without Ray: a model folder fitted in-process, the Predictor and the micro-batcher -------------------------------


@pytest.fixture(scope="module")
def local_model(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, pd.DataFrame]:
    """A small binary XGBoost model folder (fitted without Ray) and the rows it was fitted on."""
    from sentinel_jobs.reference_data import reference_frame
    from sentinel_sdk.model import load_model_def
    from sentinel_sdk.testing import fit_locally, save_locally

    frame = reference_frame()
    model_def = load_model_def("sentinel_jobs.models.xgboost")
    fit = fit_locally(model_def, frame, target="target", task="binary", params={"max_depth": 3}, iterations=8, checkpoint_every=8)
    folder = save_locally(model_def, fit, str(tmp_path_factory.mktemp("model") / "model"), "sentinel_jobs.models.xgboost")
    return folder, frame.drop(columns=["target"])


def _booster_predictions(folder: str, X: pd.DataFrame) -> list[float]:
    booster = xgb.Booster(model_file=str(Path(folder) / "model.json"))
    names = list(booster.feature_names or X.columns)
    return cast("list[float]", booster.predict(xgb.DMatrix(X[names], feature_names=names)).tolist())


def _rows(X: pd.DataFrame) -> list[dict[str, Any]]:
    return cast("list[dict[str, Any]]", X.to_dict(orient="records"))


def test_a_thousand_rows_are_answered_and_one_more_is_refused_with_the_limit(local_model: tuple[str, pd.DataFrame]) -> None:
    folder, X = local_model
    predictor = Predictor(folder, "r000000001", "breast-cancer")
    big = pd.concat([X, X]).head(1000)
    status, body = predictor.answer({"rows": _rows(big)})
    assert status == 200 and len(body["predictions"]) == 1000
    assert body["probabilities"] == pytest.approx(_booster_predictions(folder, big), abs=1e-6)
    assert body["predictions"] == [int(p >= 0.5) for p in body["probabilities"]]
    status, refused = predictor.answer({"rows": _rows(pd.concat([X, X]).head(1001))})
    assert status == 400 and refused["error"] == '"rows" has 1001 entries; at most 1000 per request'
    assert predictor.describe()["maxRowsPerRequest"] == 1000 and predictor.describe()["request"]["properties"]["rows"]["maxItems"] == 1000
    small = Predictor(folder, "r000000001", "breast-cancer", max_rows=10)
    assert small.answer({"rows": _rows(X.head(11))})[1]["error"] == '"rows" has 11 entries; at most 10 per request'


def test_micro_batching_predicts_concurrent_requests_together_with_the_same_answers(local_model: tuple[str, pd.DataFrame]) -> None:
    folder, X = local_model
    predictor = Predictor(folder, "r000000001", "breast-cancer")
    calls: list[int] = []

    def predict(matrices: list[Any]) -> list[dict[str, Any]]:
        calls.append(len(matrices))
        return predictor.predict_many(matrices)

    bodies = [{"rows": _rows(X.iloc[i:i + 1 + i % 4])} for i in range(40)]

    async def burst() -> list[dict[str, Any]]:
        batcher = MicroBatcher(predict)
        return list(await asyncio.gather(*(batcher.submit(predictor.parse(b)) for b in bodies)))

    answers = asyncio.run(burst())
    assert sum(calls) == 40 and len(calls) < 40 and max(calls) > 1, calls  # batched, every request once
    for body, answer in zip(bodies, answers, strict=True):
        assert answer == predictor.answer(body)[1]  # the same numbers as predicting it alone

    async def lone() -> None:  # one client: predicted at once, nothing to wait for
        batcher = MicroBatcher(predict)
        for b in bodies[:3]:
            assert await batcher.submit(predictor.parse(b)) == predictor.answer(b)[1]

    calls.clear()
    asyncio.run(lone())
    assert calls == [1, 1, 1]


def test_micro_batching_keeps_a_batch_under_its_row_cap_and_fails_only_its_own_batch(local_model: tuple[str, pd.DataFrame]) -> None:
    folder, X = local_model
    predictor = Predictor(folder, "r000000001", "breast-cancer")
    sizes: list[int] = []

    def predict(matrices: list[Any]) -> list[dict[str, Any]]:
        sizes.append(sum(len(m) for m in matrices))
        if any(len(m) == 7 for m in matrices):
            raise RuntimeError("model failed")
        return predictor.predict_many(matrices)

    async def run() -> list[Any]:
        batcher = MicroBatcher(predict, max_rows=10)
        return list(await asyncio.gather(*(batcher.submit(predictor.parse({"rows": _rows(X.head(n))})) for n in (4, 4, 4, 7, 3)),
                                         return_exceptions=True))

    results = asyncio.run(run())
    assert all(s <= 10 for s in sizes), sizes
    assert [isinstance(r, RuntimeError) for r in results].count(True) >= 1
    assert all(isinstance(r, dict) and len(r["predictions"]) == n for r, n in zip(results, (4, 4, 4, 7, 3), strict=True) if not isinstance(r, Exception))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def served(ray_address: str, trained: dict[str, Any]) -> Iterator[str]:
    from ray import serve

    port = _free_port()
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    args = {"model_uri": trained["result"]["artifacts"]["model"], "run_id": run_id_of("r-test"), "pipeline": "breast-cancer"}
    serve.run(app(args), name="breast-cancer", route_prefix="/breast-cancer")
    try:
        yield f"http://127.0.0.1:{port}/breast-cancer"
    finally:
        serve.shutdown()  # type: ignore[no-untyped-call]


def test_serve_predicts_over_http(served: str, trained: dict[str, Any], ingested: dict[str, Any]) -> None:
    info = requests.get(served, timeout=30).json()
    features = trained["result"]["details"]["features"]
    run_id = run_id_of("r-test")
    assert info["features"] == features
    assert info["model"] == {"runId": run_id, "pipeline": "breast-cancer"}
    assert info["task"] == "binary" and info["request"]["required"] == ["rows"]
    assert "modelUri" not in json.dumps(info) and trained["result"]["artifacts"]["model"] not in json.dumps(info)
    example = requests.post(served, json=info["example"], timeout=30)  # the advertised example is a valid request
    assert example.status_code == 200 and len(example.json()["predictions"]) == len(info["example"]["rows"])

    test = pd.read_parquet(Path(ingested["stageUri"]) / "test.parquet").head(20)
    rows = cast("list[dict[str, Any]]", test.drop(columns=["target"]).to_dict(orient="records"))  # column names are str
    resp = requests.post(served, json={"rows": rows}, timeout=30)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    expected = xgb.Booster(model_file=str(Path(trained["result"]["artifacts"]["model"]) / "model.json")).predict(
        xgb.DMatrix(test[features], feature_names=features))
    assert body["probabilities"] == pytest.approx(expected.tolist(), abs=1e-6)
    assert body["predictions"] == [int(p >= 0.5) for p in expected]
    assert np.mean(np.array(body["predictions"]) == test["target"].to_numpy()) >= 0.85
    assert body["model"] == {"runId": run_id, "pipeline": "breast-cancer"}

    bad = requests.post(served, json={"rows": [{k: v for k, v in rows[0].items() if k != features[3]}]}, timeout=30)
    assert bad.status_code == 400
    assert f"missing feature(s) '{features[3]}'" in bad.json()["error"]
    bad = requests.post(served, json={"rows": [{**rows[0], features[0]: "big"}]}, timeout=30)
    assert bad.status_code == 400 and f"rows[0].{features[0]} must be a finite number" in bad.json()["error"]
    bad = requests.post(served, data=b"{oops", headers={"content-type": "application/json"}, timeout=30)
    assert bad.status_code == 400 and "not valid JSON" in bad.json()["error"]


@pytest.fixture
def bare(trained: dict[str, Any]) -> Iterator[str]:
    """The bare single-process server (the serving benchmark's baseline) on the same model folder."""
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "sentinel_sdk.bare_server", "--model-uri", trained["result"]["artifacts"]["model"],
         "--route", "/breast-cancer", "--port", str(port), "--run-id", run_id_of("r-test"), "--pipeline", "breast-cancer"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    url = f"http://127.0.0.1:{port}/breast-cancer"
    try:
        deadline = time.time() + 60
        while True:
            try:
                if requests.get(url, timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else "bare server exited"
            assert time.time() < deadline, "bare server did not answer"
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_bare_server_and_serve_answer_byte_for_byte_the_same(served: str, bare: str, ingested: dict[str, Any]) -> None:
    """The benchmark compares like with like: the same model folder, body, predictions and bytes from both."""
    test = pd.read_parquet(Path(ingested["stageUri"]) / "test.parquet")
    rows = cast("list[dict[str, Any]]", test.drop(columns=["target"]).to_dict(orient="records"))
    bodies: list[Any] = [{"rows": rows[:3]}, {"rows": rows}, {"rows": rows[:1]}, {"rows": [{"x": 1}]}, {"rows": (rows * 20)[:1001]}]
    for body in bodies:
        a, b = requests.post(served, json=body, timeout=30), requests.post(bare, json=body, timeout=30)
        assert (a.status_code, a.content) == (b.status_code, b.content), body if len(json.dumps(body)) < 300 else len(body["rows"])
    ok = requests.post(served, json={"rows": (rows * 20)[:1000]}, timeout=30)
    assert ok.status_code == 200 and len(ok.json()["predictions"]) == 1000
    over = requests.post(served, json={"rows": (rows * 20)[:1001]}, timeout=30)
    assert over.status_code == 400 and over.json()["error"] == '"rows" has 1001 entries; at most 1000 per request'


def test_get_shows_run_pipeline_and_features_but_no_storage_location(served: str, bare: str, trained: dict[str, Any]) -> None:
    model_uri = trained["result"]["artifacts"]["model"]
    for url in (served, bare):
        info = requests.get(url, timeout=30)
        assert info.status_code == 200
        body = info.json()
        assert body["model"] == {"runId": run_id_of("r-test"), "pipeline": "breast-cancer"}
        assert body["features"] == trained["result"]["details"]["features"]
        text = info.text
        # Neither the folder nor any absolute path or URI: a public endpoint says what it serves, not where it is kept.
        assert model_uri not in text and str(Path(model_uri).parent) not in text
        assert not any(k in text for k in ("modelUri", "model_uri", "s3://", "file://", "/tmp/"))


@pytest.mark.parametrize(("task", "target"), [("binary", "target"), ("multiclass", "species"), ("regression", "progression")])
def test_xgboost_in_place_prediction_equals_predicting_a_dmatrix(task: str, target: str) -> None:
    """XGBoostModel.predict skips the DataFrame → DMatrix conversion; the numbers stay exactly the same."""
    from sentinel_jobs.reference_data import diabetes_frame, iris_frame, reference_frame
    from sentinel_sdk.model import load_model_def
    from sentinel_sdk.testing import fit_locally

    frame = {"binary": reference_frame, "multiclass": iris_frame, "regression": diabetes_frame}[task]()
    model_def = load_model_def("sentinel_jobs.models.xgboost")
    fit = fit_locally(model_def, frame, target=target, task=task, iterations=5, checkpoint_every=5)  # type: ignore[arg-type]
    X = fit.data.validation.X
    expected = fit.model.predict(xgb.DMatrix(X, feature_names=list(X.columns)))
    assert np.array_equal(np.asarray(model_def.predict(fit.model, X)), expected)
    shuffled = X[list(reversed(X.columns))]  # columns in another order are put back in the model's
    assert np.array_equal(np.asarray(model_def.predict(fit.model, shuffled)), expected)
