"""Ray Serve app: `sentinel_jobs.serve:app` with args {model_uri, run_id, pipeline}.

POST {"rows": [{feature: number, ...}, ...]} -> predictions, probabilities and the model identity.
GET -> identity and feature names. Malformed bodies get HTTP 400 naming the problem.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field
from ray import serve
from ray.serve import Application
from starlette.requests import Request
from starlette.responses import JSONResponse

from sentinel_jobs.modeling import load_booster, predict
from sentinel_jobs.metrics import THRESHOLD

MAX_ROWS = 10_000


class AppArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    model_uri: str = Field(min_length=1)
    run_id: str = Field(min_length=1)
    pipeline: str = Field(min_length=1)


class BadRequest(ValueError):
    pass


def parse_rows(body: Any, features: list[str]) -> pd.DataFrame:
    """Validate a request body into a frame with exactly the model's feature columns (extra keys are ignored)."""
    if not isinstance(body, dict) or "rows" not in body:
        raise BadRequest('body must be a JSON object like {"rows": [{"feature": value, ...}]}')
    rows = body["rows"]
    if not isinstance(rows, list) or not rows:
        raise BadRequest('"rows" must be a non-empty list of objects')
    if len(rows) > MAX_ROWS:
        raise BadRequest(f'"rows" has {len(rows)} entries; at most {MAX_ROWS} per request')
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


# Replica count and CPUs are the control plane's (serve config: autoscaling_config, ray_actor_options);
# this default only keeps an ad-hoc `serve run` from reserving a whole core.
@serve.deployment(ray_actor_options={"num_cpus": 0.1})
class ModelServer:
    def __init__(self, model_uri: str, run_id: str, pipeline: str) -> None:
        # Loaded once per replica; a bad model_uri fails the deployment instead of every request.
        self._booster = load_booster(model_uri)
        self._features = list(self._booster.feature_names or [])
        self._identity = {"runId": run_id, "pipeline": pipeline, "modelUri": model_uri}

    async def __call__(self, request: Request) -> JSONResponse:
        if request.method == "GET":
            return JSONResponse({"model": self._identity, "features": self._features})
        if request.method != "POST":
            return JSONResponse({"error": f"method {request.method} not allowed; use GET or POST"}, status_code=405)
        try:
            body = json.loads(await request.body())
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            return JSONResponse({"error": f"body is not valid JSON: {e}"}, status_code=400)
        try:
            frame = parse_rows(body, self._features)
        except BadRequest as e:
            return JSONResponse({"error": str(e)}, status_code=400)
        prob = predict(self._booster, frame)
        return JSONResponse({
            "predictions": [int(p >= THRESHOLD) for p in prob],
            "probabilities": [float(p) for p in prob],
            "model": {"runId": self._identity["runId"], "pipeline": self._identity["pipeline"]},
        })


def app(args: dict[str, Any]) -> Application:
    """Application builder for `serve run`/the dashboard REST API; also callable directly with a dict."""
    parsed = AppArgs.model_validate(args)
    return ModelServer.bind(parsed.model_uri, parsed.run_id, parsed.pipeline)  # type: ignore[attr-defined,no-any-return]
