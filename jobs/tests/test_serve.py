"""Serve: the app builder deployed with serve.run, queried over HTTP on 127.0.0.1."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd
import pytest
import requests
import xgboost as xgb

from helpers import run_id_of
from sentinel_sdk.serving import AppArgs, BadRequest, app, parse_rows

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
    frame = parse_rows({"rows": [{"b": 2, "a": 1.5, "target": 1}]}, FEATURES)
    assert list(frame.columns) == FEATURES and frame.iloc[0].tolist() == [1.5, 2.0]


def test_app_args_are_validated() -> None:
    with pytest.raises(ValueError, match="model_uri"):
        AppArgs.model_validate({"run_id": "r", "pipeline": "p"})


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
