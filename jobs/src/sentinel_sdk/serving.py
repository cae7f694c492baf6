"""Ray Serve for any Sentinel model folder: `sentinel_sdk.serving:app` with args {model_uri, run_id, pipeline}.

The model's definition (from its card) decides the request: a model with `Request` gets that pydantic schema and
its `respond`; any other gets the tabular `{"rows": [{feature: number, ...}]}`. A malformed body gets HTTP 400
naming the field. GET returns the model's identity, task, features, the request schema and an example body, and
no storage location.

A user's module that wants its own application builder writes `app = build_app()`; the deployment keeps the name
`ModelServer`, which the control plane's serve config addresses (replicas, autoscaling, CPUs).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from ray import serve
from ray.serve import Application
from starlette.requests import Request
from starlette.responses import JSONResponse

from sentinel_sdk.metrics import THRESHOLD
from sentinel_sdk.model import ModelCard, load_model_folder

MAX_ROWS = 10_000
DEPLOYMENT = "ModelServer"


class AppArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    model_uri: str = Field(min_length=1)
    run_id: str = Field(min_length=1)
    pipeline: str = Field(min_length=1)


class BadRequest(ValueError):
    pass


def parse_rows(body: Any, features: list[str], max_rows: int = MAX_ROWS) -> pd.DataFrame:
    """Validate a request body into a frame with exactly the model's feature columns (extra keys are ignored)."""
    if not isinstance(body, dict) or "rows" not in body:
        raise BadRequest('body must be a JSON object like {"rows": [{"feature": value, ...}]}')
    rows = body["rows"]
    if not isinstance(rows, list) or not rows:
        raise BadRequest('"rows" must be a non-empty list of objects')
    if len(rows) > max_rows:
        raise BadRequest(f'"rows" has {len(rows)} entries; at most {max_rows} per request')
    matrix = np.empty((len(rows), len(features)), dtype=np.float64)
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise BadRequest(f"rows[{i}] must be an object of feature values")
        missing = [f for f in features if f not in row]
        if missing:
            more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
            raise BadRequest(f"rows[{i}] is missing feature(s) {', '.join(map(repr, missing[:5]))}{more}")
        for j, name in enumerate(features):
            value = row[name]
            # bool is an int in Python but never a meaningful feature value in JSON.
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise BadRequest(f"rows[{i}].{name} must be a finite number; got {json.dumps(value)[:40]}")
            matrix[i, j] = value
    return pd.DataFrame(matrix, columns=features)


def tabular_answer(card: ModelCard, pred: np.ndarray) -> dict[str, Any]:
    """Predictions in the task's terms: class labels (and probabilities) or values."""
    if card.task == "binary":
        labels = card.classes or [0, 1]
        return {
            "predictions": [labels[int(p >= THRESHOLD)] for p in pred],
            "probabilities": [float(p) for p in pred],
        }
    if card.task == "multiclass":
        labels = card.classes or list(range(pred.shape[1]))
        return {
            "predictions": [labels[int(i)] for i in pred.argmax(axis=1)],
            "probabilities": [[round(float(v), 6) for v in row] for row in pred],
            "classes": labels,
        }
    return {"predictions": [float(v) for v in pred]}


def _field_errors(error: ValidationError) -> str:
    parts = []
    for item in error.errors()[:5]:
        loc = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in item["loc"]).lstrip(".")
        parts.append(f"{loc or 'body'}: {item['msg']}")
    return "; ".join(parts)


class ModelServer:
    def __init__(self, model_uri: str, run_id: str, pipeline: str) -> None:
        # Loaded once per replica; a bad model_uri fails the deployment instead of every request.
        self._def, self._model, self._card = load_model_folder(model_uri)
        self._identity = {"runId": run_id, "pipeline": pipeline}
        request_cls = self._def.Request
        self._request_schema = (
            request_cls.model_json_schema() if request_cls is not None
            else {"type": "object", "required": ["rows"], "properties": {"rows": {
                "type": "array", "minItems": 1, "maxItems": MAX_ROWS,
                "items": {"type": "object", "required": self._card.features,
                          "properties": {f: {"type": "number"} for f in self._card.features}}}}}
        )
        self._example = self._card.example

    def describe(self) -> dict[str, Any]:
        return {
            "model": self._identity,
            "task": self._card.task,
            "framework": self._card.framework,
            "features": self._card.features,
            **({"classes": self._card.classes} if self._card.classes is not None else {}),
            "request": self._request_schema,
            "example": self._example,
        }

    def answer(self, body: Any) -> tuple[int, dict[str, Any]]:
        request_cls = self._def.Request
        if request_cls is not None:
            try:
                parsed = request_cls.model_validate(body)
            except ValidationError as e:
                return 400, {"error": _field_errors(e)}
            try:
                out = self._def.respond(self._model, parsed, self._card)
            except ValueError as e:
                return 400, {"error": str(e)}
            return 200, {**out, "model": self._identity}
        try:
            frame = parse_rows(body, self._card.features)
        except BadRequest as e:
            return 400, {"error": str(e)}
        pred = self._def.predictions(self._model, frame, self._card.info)
        return 200, {**tabular_answer(self._card, pred), "model": self._identity}

    async def __call__(self, request: Request) -> JSONResponse:
        if request.method == "GET":
            return JSONResponse(self.describe())
        if request.method != "POST":
            return JSONResponse({"error": f"method {request.method} not allowed; use GET or POST"}, status_code=405)
        try:
            body = json.loads(await request.body())
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            return JSONResponse({"error": f"body is not valid JSON: {e}"}, status_code=400)
        status, payload = self.answer(body)
        return JSONResponse(payload, status_code=status)


# Replica count and CPUs are the control plane's (serve config: autoscaling_config, ray_actor_options); this default
# only keeps an ad-hoc `serve run` from reserving a whole core.
Deployment = serve.deployment(name=DEPLOYMENT, ray_actor_options={"num_cpus": 0.1})(ModelServer)


def build_app() -> Callable[[dict[str, Any]], Application]:
    """An application builder for a user's module: `app = build_app()`, then `serve.app: mymodule:app` in the spec."""

    def builder(args: dict[str, Any]) -> Application:
        parsed = AppArgs.model_validate(args)
        return Deployment.bind(parsed.model_uri, parsed.run_id, parsed.pipeline)

    return builder


app = build_app()

