"""A bare single-process HTTP server for one model folder: uvicorn + Starlette, no Ray. The baseline the serving
benchmark holds Sentinel's Ray Serve endpoint against (`npm run bench:serving`), and a way to try a model folder
locally without a Ray head.

It loads the folder through its card exactly as `ModelServer` does and answers with the same `Predictor`, the same
parsing, the same 400s and the same JSON bytes, one request at a time (no batching, no replicas): what one plain
Python process serves.

    python -m sentinel_sdk.bare_server --model-uri DIR --route /predict --port 8100 [--run-id R --pipeline P]
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sentinel_sdk.serving import MAX_ROWS, BadRequest, Predictor, json_response, read_json


def make_app(predictor: Predictor, route: str) -> Starlette:
    async def handle(request: Request) -> Response:
        if request.method == "GET":
            return JSONResponse(predictor.describe())
        try:
            body: Any = await read_json(request)
        except BadRequest as e:
            return json_response({"error": str(e)}, 400)
        status, payload = predictor.answer(body)
        return json_response(payload, status)

    return Starlette(routes=[Route(route, handle, methods=["GET", "POST"])])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sentinel_sdk.bare_server", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-uri", required=True)
    parser.add_argument("--route", default="/predict")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8100)
    parser.add_argument("--run-id", default="bare")
    parser.add_argument("--pipeline", default="bare")
    parser.add_argument("--max-rows", type=int, default=MAX_ROWS)
    args = parser.parse_args(argv)
    # One process, one thread of model compute: what a Ray Serve replica with under one CPU gets (Ray sets
    # OMP_NUM_THREADS=1 there), so neither side is helped or hurt by OpenMP thread teams on a small machine.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import uvicorn

    predictor = Predictor(args.model_uri, args.run_id, args.pipeline, args.max_rows)
    uvicorn.run(make_app(predictor, args.route), host=args.host, port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
