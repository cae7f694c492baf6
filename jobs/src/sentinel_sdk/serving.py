"""Ray Serve for any Sentinel model folder: `sentinel_sdk.serving:app` with args {model_uri, run_id, pipeline,
max_rows}.

The model's definition (from its card) decides the request: a model with `Request` gets that pydantic schema and
its `respond`; any other gets the tabular `{"rows": [{feature: number, ...}]}`, at most `max_rows` rows (the spec's
`serve.maxRowsPerRequest`, default `MAX_ROWS`). A malformed body, or one over the limit, gets HTTP 400 naming the
field or the limit. GET returns the model's identity, task, features, the request schema and an example body, and
no storage location.

Tabular requests are micro-batched: the rows of every request that arrived while the previous prediction ran are
stacked into one matrix, predicted with one call to the model, and split back. Under load this turns N small
predictions (each paying for a DataFrame and the framework's own per-call setup) into one; with a single client
every request is predicted at once, without waiting for company. `Predictor` holds everything that is not Serve
(parsing, prediction, answers), so a bare server (`sentinel_sdk.bare_server`) answers byte for byte the same.

A user's module that wants its own application builder writes `app = build_app()`; the deployment keeps the name
`ModelServer`, which the control plane's serve config addresses (replicas, autoscaling, CPUs, max ongoing requests).
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import chain
from operator import itemgetter
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from ray import serve
from ray.serve import Application
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from sentinel_sdk.metrics import THRESHOLD
from sentinel_sdk.model import ModelCard, load_model_folder

#: Rows one tabular request may carry when the spec does not say (`serve.maxRowsPerRequest`).
MAX_ROWS = 1000
#: Rows predicted in one call at most (one request over it is still predicted whole, on its own).
MAX_BATCH_ROWS = 4096
DEPLOYMENT = "ModelServer"

Matrix = npt.NDArray[np.float64]


class AppArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    model_uri: str = Field(min_length=1)
    run_id: str = Field(min_length=1)
    pipeline: str = Field(min_length=1)
    max_rows: int = Field(MAX_ROWS, ge=1)


class BadRequest(ValueError):
    pass


def _check_rows(rows: list[Any], features: list[str]) -> None:
    """The slow, precise check: raises BadRequest naming the first bad row and feature."""
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise BadRequest(f"rows[{i}] must be an object of feature values")
        missing = [f for f in features if f not in row]
        if missing:
            more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
            raise BadRequest(f"rows[{i}] is missing feature(s) {', '.join(map(repr, missing[:5]))}{more}")
        for name in features:
            value = row[name]
            # bool is an int in Python but never a meaningful feature value in JSON.
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not _finite(value):
                raise BadRequest(f"rows[{i}].{name} must be a finite number; got {json.dumps(value)[:40]}")


def _finite(value: float) -> bool:
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer beyond float's range
        return False


def parse_rows(body: Any, features: list[str], max_rows: int = MAX_ROWS) -> Matrix:
    """Validates a request body into an (n, len(features)) float64 matrix in the model's feature order (extra keys
    are ignored). The common case, a well-formed body, is checked in bulk; a bad one is re-checked row by row so the
    400 names the field."""
    if not isinstance(body, dict) or "rows" not in body:
        raise BadRequest('body must be a JSON object like {"rows": [{"feature": value, ...}]}')
    rows = body["rows"]
    if not isinstance(rows, list) or not rows:
        raise BadRequest('"rows" must be a non-empty list of objects')
    if len(rows) > max_rows:
        raise BadRequest(f'"rows" has {len(rows)} entries; at most {max_rows} per request')
    getter = itemgetter(*features)
    try:
        values = [getter(row) for row in rows] if len(features) > 1 else [(getter(row),) for row in rows]
        if not {type(v) for v in chain.from_iterable(values)} <= {int, float}:  # type(), not isinstance: bool is out
            raise TypeError
        matrix = np.array(values, dtype=np.float64)
        if not np.isfinite(matrix).all():
            raise TypeError
    except (KeyError, TypeError, IndexError, OverflowError):
        _check_rows(rows, features)  # raises, naming the row and feature
        raise BadRequest("rows must be objects of finite numbers") from None
    return matrix


def tabular_answer(card: ModelCard, pred: Matrix) -> dict[str, Any]:
    """Predictions in the task's terms: class labels (and probabilities) or values."""
    if card.task == "binary":
        labels = card.classes or [0, 1]
        return {
            "predictions": [labels[int(positive)] for positive in (pred >= THRESHOLD).tolist()],
            "probabilities": pred.tolist(),
        }
    if card.task == "multiclass":
        labels = card.classes or list(range(pred.shape[1]))
        return {
            "predictions": [labels[i] for i in pred.argmax(axis=1).tolist()],
            "probabilities": [[round(v, 6) for v in row] for row in pred.tolist()],
            "classes": labels,
        }
    return {"predictions": pred.tolist()}


def _field_errors(error: ValidationError) -> str:
    parts = []
    for item in error.errors()[:5]:
        loc = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in item["loc"]).lstrip(".")
        parts.append(f"{loc or 'body'}: {item['msg']}")
    return "; ".join(parts)


Answer = tuple[int, dict[str, Any]]


class Predictor:
    """A loaded model folder and everything about answering it that is not Ray Serve: the request schema, parsing
    (400s), batched tabular prediction and the answers. Ray Serve's `ModelServer` and the bare server share it."""

    def __init__(self, model_uri: str, run_id: str, pipeline: str, max_rows: int = MAX_ROWS) -> None:
        # Loaded once per replica; a bad model_uri fails the deployment instead of every request.
        self.model_def, self.model, self.card = load_model_folder(model_uri)
        self.identity = {"runId": run_id, "pipeline": pipeline}
        self.max_rows = max_rows
        self.request_cls = self.model_def.Request
        self.request_schema = (
            self.request_cls.model_json_schema() if self.request_cls is not None
            else {"type": "object", "required": ["rows"], "properties": {"rows": {
                "type": "array", "minItems": 1, "maxItems": max_rows,
                "items": {"type": "object", "required": self.card.features,
                          "properties": {f: {"type": "number"} for f in self.card.features}}}}}
        )

    @property
    def tabular(self) -> bool:
        return self.request_cls is None

    def describe(self) -> dict[str, Any]:
        return {
            "model": self.identity,
            "task": self.card.task,
            "framework": self.card.framework,
            "features": self.card.features,
            **({"classes": self.card.classes} if self.card.classes is not None else {}),
            **({"maxRowsPerRequest": self.max_rows} if self.tabular else {}),
            "request": self.request_schema,
            "example": self.card.example,
        }

    def parse(self, body: Any) -> Matrix:
        """A tabular body as a matrix of the model's features; BadRequest names what is wrong."""
        return parse_rows(body, self.card.features, self.max_rows)

    def predict_many(self, matrices: list[Matrix]) -> list[dict[str, Any]]:
        """One model call for every matrix (stacked), answers split back in order."""
        stacked = matrices[0] if len(matrices) == 1 else np.concatenate(matrices)
        frame = pd.DataFrame(stacked, columns=self.card.features, copy=False)
        pred = self.model_def.predictions(self.model, frame, self.card.info)
        answers, start = [], 0
        for m in matrices:
            answers.append({**tabular_answer(self.card, pred[start:start + len(m)]), "model": self.identity})
            start += len(m)
        return answers

    def respond(self, body: Any) -> Answer:
        """A model with its own Request: validate and answer one body."""
        assert self.request_cls is not None
        try:
            parsed = self.request_cls.model_validate(body)
        except ValidationError as e:
            return 400, {"error": _field_errors(e)}
        try:
            out = self.model_def.respond(self.model, parsed, self.card)
        except ValueError as e:
            return 400, {"error": str(e)}
        return 200, {**out, "model": self.identity}

    def answer(self, body: Any) -> Answer:
        """One body, unbatched (tests, and the bare server's reference path)."""
        if not self.tabular:
            return self.respond(body)
        try:
            matrix = self.parse(body)
        except BadRequest as e:
            return 400, {"error": str(e)}
        return 200, self.predict_many([matrix])[0]


@dataclass
class _Pending:
    matrix: Matrix
    future: asyncio.Future[dict[str, Any]]


@dataclass
class MicroBatcher:
    """Adaptive batching on one event loop: a request is predicted at once when nothing else waits; requests that
    arrive while a prediction runs are predicted together next (up to `max_rows` rows a call). No timer: batches
    grow with the load, and a lone client never waits for company.

    (Ray's @serve.batch forms its next batch while the previous one still runs, so with a zero wait it predicts
    mostly one request at a time, and with a positive wait every request at low load pays that wait.)"""

    predict: Callable[[list[Matrix]], list[dict[str, Any]]]
    max_rows: int = MAX_BATCH_ROWS
    batches: int = 0
    requests: int = 0
    _queue: list[_Pending] = field(default_factory=list)
    _wake: asyncio.Event | None = None
    _worker: asyncio.Task[None] | None = None

    async def submit(self, matrix: Matrix) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        if self._wake is None:
            self._wake = asyncio.Event()
        if self._worker is None or self._worker.done():
            self._worker = loop.create_task(self._run())
        pending = _Pending(matrix, loop.create_future())
        self._queue.append(pending)
        self._wake.set()
        return await pending.future

    def _take(self) -> list[_Pending]:
        batch, rows = [self._queue[0]], len(self._queue[0].matrix)
        for p in self._queue[1:]:
            if rows + len(p.matrix) > self.max_rows:
                break
            batch.append(p)
            rows += len(p.matrix)
        del self._queue[:len(batch)]
        return batch

    async def _run(self) -> None:
        assert self._wake is not None
        while True:
            if not self._queue:
                self._wake.clear()
                await self._wake.wait()
                continue
            batch = [p for p in self._take() if not p.future.done()]  # a client that went away is not predicted
            if not batch:
                continue
            self.batches += 1
            self.requests += len(batch)
            try:
                answers = self.predict([p.matrix for p in batch])
            except Exception as e:  # noqa: BLE001 - the model's failure is every waiting request's answer
                for p in batch:
                    if not p.future.done():
                        p.future.set_exception(e)
            else:
                for p, a in zip(batch, answers, strict=True):
                    if not p.future.done():
                        p.future.set_result(a)
            # Let the requests that arrived during the prediction reach the queue before the next batch is taken.
            await asyncio.sleep(0)


def json_response(payload: dict[str, Any], status: int = 200) -> Response:
    # Compact separators: the same bytes from Serve and the bare server, a little less to send.
    return Response(json.dumps(payload, separators=(",", ":"), allow_nan=False), status_code=status,
                    media_type="application/json")


async def read_json(request: Request) -> Any:
    """The body as JSON; BadRequest (a 400) when it is not."""
    try:
        return json.loads(await request.body())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise BadRequest(f"body is not valid JSON: {e}") from None


class ModelServer:
    def __init__(self, model_uri: str, run_id: str, pipeline: str, max_rows: int = MAX_ROWS) -> None:
        self.predictor = Predictor(model_uri, run_id, pipeline, max_rows)
        self.batcher = MicroBatcher(self.predictor.predict_many, max(MAX_BATCH_ROWS, max_rows))

    def describe(self) -> dict[str, Any]:
        return self.predictor.describe()

    def answer(self, body: Any) -> Answer:
        return self.predictor.answer(body)

    async def __call__(self, request: Request) -> Response:
        if request.method == "GET":
            return JSONResponse(self.describe())
        if request.method != "POST":
            return JSONResponse({"error": f"method {request.method} not allowed; use GET or POST"}, status_code=405)
        try:
            body = await read_json(request)
            if not self.predictor.tabular:
                status, payload = self.predictor.respond(body)
                return json_response(payload, status)
            matrix = self.predictor.parse(body)
        except BadRequest as e:
            return json_response({"error": str(e)}, 400)
        return json_response(await self.batcher.submit(matrix))


# Replica count, CPUs and max ongoing requests are the control plane's (serve config: autoscaling_config,
# ray_actor_options, max_ongoing_requests); this default only keeps an ad-hoc `serve run` from reserving a whole core.
Deployment = serve.deployment(name=DEPLOYMENT, ray_actor_options={"num_cpus": 0.1})(ModelServer)


def build_app() -> Callable[[dict[str, Any]], Application]:
    """An application builder for a user's module: `app = build_app()`, then `serve.app: mymodule:app` in the spec."""

    def builder(args: dict[str, Any]) -> Application:
        parsed = AppArgs.model_validate(args)
        return Deployment.bind(parsed.model_uri, parsed.run_id, parsed.pipeline, parsed.max_rows)

    return builder


app = build_app()
