"""`python -m sentinel_sdk check`: validates a spec's model section against the model's own declared schema, before
any compute. Reads `{"model": {"module", "params"}, "task", "searchSpace", "numWorkers", "gpu"}` on stdin; prints
`{"ok": true, "framework", "paramsSchema"}` (exit 0) or `{"ok": false, "errors": [{"path": [...], "message"}]}`
(exit 1). Anything else (exit 2) is a crash of this checker, with the reason on stderr.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from pydantic import ValidationError

from sentinel_sdk.contract import InvalidInput
from sentinel_sdk.model import Model, load_model_def, param_names


def _error(path: list[Any], message: str) -> dict[str, Any]:
    return {"path": path, "message": message}


def check(request: dict[str, Any]) -> dict[str, Any]:
    model = request.get("model") or {}
    module = model.get("module")
    if not isinstance(module, str) or not module:
        return {"ok": False, "errors": [_error(["model", "module"], "is missing")]}
    try:
        model_def: Model[Any] = load_model_def(module, "model.module")
    except InvalidInput as e:
        return {"ok": False, "errors": [_error(["model", "module"], str(e).removeprefix("model.module: "))]}
    errors: list[dict[str, Any]] = []
    params = model.get("params") or {}
    try:
        model_def.Params.model_validate(params)
    except ValidationError as e:
        for item in e.errors():
            errors.append(_error(["model", "params", *item["loc"]], item["msg"]))
    task = request.get("task")
    if task not in model_def.tasks:
        errors.append(_error(["task"], f"{module} supports {', '.join(model_def.tasks)}, not {task!r}"))
    workers = int(request.get("numWorkers") or 1)
    if workers > 1 and not model_def.distributed:
        errors.append(_error(["stages", "train", "numWorkers"], f"{module} ({model_def.framework}) trains on one worker only; set 1"))
    if int(request.get("gpu") or 0) > 0 and model_def.framework == "sklearn":
        errors.append(_error(["stages", "train", "resources", "gpu"], "scikit-learn models do not train on GPUs; set 0"))
    names = param_names(model_def.Params)
    for key, dim in (request.get("searchSpace") or {}).items():
        if key not in names:
            errors.append(_error(["stages", "tune", "searchSpace", key], f"not a parameter of {module} (its parameters: {', '.join(sorted(names)) or 'none'})"))
            continue
        samples = dim.get("values", []) if dim.get("type") == "choice" else [dim.get("lower"), dim.get("upper")]
        for sample in samples:
            try:
                model_def.Params.model_validate({**params, key: sample})
            except ValidationError as e:
                for item in e.errors():
                    if item["loc"] and item["loc"][0] == key:
                        errors.append(_error(["stages", "tune", "searchSpace", key], f"{sample!r}: {item['msg']}"))
                        break
    if errors:
        return {"ok": False, "errors": errors}
    return {"ok": True, "framework": model_def.framework, "tasks": list(model_def.tasks), "paramsSchema": model_def.Params.model_json_schema(by_alias=True)}


def main(argv: list[str]) -> int:
    if argv[:1] != ["check"]:
        print("usage: python -m sentinel_sdk check < request.json", file=sys.stderr)
        return 2
    try:
        request = json.loads(sys.stdin.read())
        if not isinstance(request, dict):
            raise ValueError("the request must be a JSON object")
    except ValueError as e:
        print(f"sentinel_sdk check: {e}", file=sys.stderr)
        return 2
    answer = check(request)
    print(json.dumps(answer, default=str))
    return 0 if answer["ok"] else 1
