"""The stage contract (docs/stage-contract.md): input from SENTINEL_STAGE_INPUT, result.json out, one-line errors.

The shapes are not defined here: they are the JSON Schema files beside this module, generated from the control
plane's zod schemas (`npm run contract`). Every stage input is validated against its stage's schema, with the
schema's defaults filled in, and every result.json against `result.schema.json`, so the two sides cannot drift.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any, NoReturn

import jsonschema

from sentinel_sdk import storage

SCHEMA_DIR = Path(__file__).resolve().parent
STAGES = ("ingest", "train", "tune", "evaluate")
_MISSING: Any = object()


class StageError(Exception):
    """A failure with a known cause; printed as one `Kind: message` line on stderr."""

    kind = "StageFailed"

    def line(self) -> str:
        return one_line(f"{self.kind}: {self}")


class ValidationFailed(StageError):
    """Bad data: retrying cannot help, and the control plane maps this prefix to a non-retryable error."""

    kind = "ValidationFailed"


class InvalidInput(ValidationFailed):
    """Bad stage input (params, missing splits or models): as deterministic as bad data, so reported the same way."""


class TrainingFailed(StageError):
    kind = "TrainingFailed"


def one_line(text: str, limit: int = 1000) -> str:
    flat = re.sub(r"\s+", " ", text).strip()
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


#: At most this many characters of one input (a column name, a cell, a line of a file) are echoed in an error,
#: as on the control plane (core/errors.ts MAX_ECHO).
MAX_ECHO = 200


def capped(text: str, limit: int = MAX_ECHO) -> str:
    """`text` as an error may echo it: whole up to `limit` characters, else its start, `…` and its whole length."""
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text)} characters)"


def echo(value: Any, limit: int = MAX_ECHO) -> str:
    """A value as errors show it (its repr), capped: `'price'`, or `'AAAA… (6000000 characters)`."""
    return capped(repr(value), limit)


@cache
def schema(name: str) -> dict[str, Any]:
    """A generated contract file: `<stage>.input`, `result` (schemas), `vocabulary` or `wire`."""
    path = SCHEMA_DIR / (f"{name}.json" if name in ("vocabulary", "wire") else f"{name}.schema.json")
    try:
        loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise StageError(f"contract file {path.name} is missing from the sentinel_sdk package (run `npm run contract`)") from None
    return loaded


def _where(path: Any) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def check(instance: Any, schema_name: str, where: str) -> None:
    """Validates against a generated schema; the error names the field (`SENTINEL_STAGE_INPUT.params.target`)."""
    validator = jsonschema.Draft202012Validator(schema(schema_name))
    errors = sorted(validator.iter_errors(instance), key=lambda e: (len(e.absolute_path), list(map(str, e.absolute_path))))
    if errors:
        shown = "; ".join(f"{where}{_where(e.absolute_path)}: {_message(e)}" for e in errors[:5])
        more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
        raise InvalidInput(shown + more)


def _message(error: jsonschema.ValidationError) -> str:
    if error.validator == "required":
        return one_line(error.message.replace(" is a required property", " is missing"), 200)
    return one_line(error.message, 200)


def _with_defaults(instance: Any, node: Mapping[str, Any], root: Mapping[str, Any]) -> Any:
    """Fills `default`s from the schema into objects (recursively), the only place defaults come from."""
    if "$ref" in node:
        ref = str(node["$ref"])
        if ref.startswith("#/"):
            target: Any = root
            for part in ref[2:].split("/"):
                target = target[part]
            return _with_defaults(instance, target, root)
    for key in ("anyOf", "oneOf"):
        if key in node and isinstance(instance, dict):
            for option in node[key]:
                if isinstance(option, Mapping) and option.get("type") == "object":
                    instance = _with_defaults(instance, option, root)
                    break
    if isinstance(instance, dict) and isinstance(node.get("properties"), Mapping):
        out = dict(instance)
        for name, prop in node["properties"].items():
            if not isinstance(prop, Mapping):
                continue
            if name not in out and "default" in prop:
                out[name] = json.loads(json.dumps(prop["default"]))
            if name in out:
                out[name] = _with_defaults(out[name], prop, root)
        return out
    return instance


class Params:
    """Read access to a validated JSON object; errors name the full key path (e.g. params.split.seed)."""

    def __init__(self, data: Mapping[str, Any], where: str = "params") -> None:
        self._data = data
        self._where = where

    def _fail(self, key: str, expected: str, value: Any) -> NoReturn:
        raise InvalidInput(f"{self._where}.{key} must be {expected}; got {json.dumps(value, default=str)[:80]}")

    def raw(self, key: str, default: Any = _MISSING) -> Any:
        if key in self._data and self._data[key] is not None:
            return self._data[key]
        if default is _MISSING:
            raise InvalidInput(f"{self._where}.{key} is missing")
        return default

    @property
    def where(self) -> str:
        return self._where

    def keys(self) -> list[str]:
        return list(self._data)

    def as_dict(self) -> dict[str, Any]:
        return dict(self._data)

    def text(self, key: str, default: Any = _MISSING) -> str:
        value = self.raw(key, default)
        if not isinstance(value, str) or not value:
            self._fail(key, "a non-empty string", value)
        return value

    def integer(self, key: str, minimum: int | None = None, default: Any = _MISSING) -> int:
        value = self.raw(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or (minimum is not None and value < minimum):
            self._fail(key, "an integer" + (f" >= {minimum}" if minimum is not None else ""), value)
        return value

    def number(self, key: str, low: float | None = None, high: float | None = None, default: Any = _MISSING) -> float:
        value = self.raw(key, default)
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        if ok and ((low is not None and value <= low) or (high is not None and value >= high)):
            ok = False
        if not ok:
            bounds = f" strictly between {low} and {high}" if low is not None and high is not None else ""
            self._fail(key, "a finite number" + bounds, value)
        return float(value)

    def obj(self, key: str, default: Any = _MISSING) -> Params:
        value = self.raw(key, default)
        if not isinstance(value, Mapping):
            self._fail(key, "an object", value)
        return Params(value, f"{self._where}.{key}")

    def mapping(self, key: str, default: Any = _MISSING) -> dict[str, Any]:
        value = self.raw(key, default)
        if not isinstance(value, Mapping):
            self._fail(key, "an object", value)
        return dict(value)


@dataclass(frozen=True)
class StageInput:
    pipeline: str
    run_id: str
    stage: str
    stage_uri: str
    run_uri: str
    params: Params
    #: Where to log to MLflow (`uri`, `experimentId`, `parentRunId`, `tags`), or None: tracking off.
    tracking: Mapping[str, Any] | None = None


@dataclass
class StageResult:
    metrics: dict[str, float] = field(default_factory=dict)
    artifacts: dict[str, str] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)


def _wire() -> dict[str, str]:
    """Where the stage input is and how it is encoded: the generated wire.json (core/stage-input-wire.ts)."""
    wire: dict[str, str] = schema("wire")["stageInput"]
    if wire.get("encoding") != "base64" or wire.get("charset") != "utf-8" or wire.get("format") != "json":
        raise StageError(f"wire.json describes an encoding this sentinel_sdk does not read: {wire}")
    return wire


#: The environment variable with the stage input: base64 (standard, padded) of its UTF-8 JSON. Ray expands `$VAR`
#: in runtime-env values and KubeRay parses runtimeEnvYAML as YAML 1.1; neither touches the base64 alphabet.
ENV_VAR = _wire()["env"]
#: The files a stage job writes in its stage folder (core/artifacts.ts RESULT_FILE and FAILURE_FILE, via wire.json).
RESULT_FILE: str = schema("wire")["stageFiles"]["result"]
FAILURE_FILE: str = schema("wire")["stageFiles"]["failure"]
#: A failure record's reason is cut to this (failure.schema.json's maxLength, core/contract.ts MAX_FAILURE_REASON).
MAX_FAILURE_REASON: int = schema("failure")["properties"]["reason"]["maxLength"]
_ERROR_NAME = re.compile(r"^[A-Z][A-Za-z0-9]{0,63}$")


def encode_stage_input(data: Any) -> str:
    """The variable's value for a stage input, as the control plane writes it (tests and tools that run a stage)."""
    return base64.b64encode(json.dumps(data, ensure_ascii=False).encode("utf-8")).decode("ascii")


def decode_stage_input(raw: str | None) -> Any:
    """The stage input in the variable's value. Anything but base64 of UTF-8 JSON is InvalidInput naming the variable."""
    if raw is None or not raw.strip():
        raise InvalidInput(f"environment variable {ENV_VAR} is not set")
    try:
        data = base64.b64decode(raw.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error) as e:
        raise InvalidInput(f"{ENV_VAR} is not base64 (standard alphabet, padded; {len(raw)} characters): {e}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput(f"{ENV_VAR} decodes to bytes that are not UTF-8") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise InvalidInput(f"{ENV_VAR} decodes to text that is not JSON: {capped(str(e))}") from None


def _check_uri(value: str, key: str) -> str:
    # Relative paths would resolve against whatever cwd the Ray job happens to have.
    if "://" in value or os.path.isabs(value):
        return value.rstrip("/") or "/"
    raise InvalidInput(f"{key} must be an absolute path or a URL such as s3://bucket/prefix; got {echo(value)}")


def parse_stage_input(raw: str | None, expected_stage: str) -> StageInput:
    data = decode_stage_input(raw)
    if not isinstance(data, dict):
        raise InvalidInput(f"{ENV_VAR} must be a JSON object")
    stage = data.get("stage")
    if isinstance(stage, str) and stage in STAGES and stage != expected_stage:
        raise InvalidInput(f"{ENV_VAR}.stage is {stage!r} but this entrypoint runs {expected_stage!r}")
    name = f"{expected_stage}.input"
    check(data, name, ENV_VAR)
    data = _with_defaults(data, schema(name), schema(name))
    top = Params(data, ENV_VAR)
    return StageInput(
        pipeline=top.text("pipeline"),
        run_id=top.text("runId"),
        stage=top.text("stage"),
        stage_uri=_check_uri(top.text("stageUri"), f"{ENV_VAR}.stageUri"),
        run_uri=_check_uri(top.text("runUri"), f"{ENV_VAR}.runUri"),
        params=Params(top.mapping("params"), "params"),
        tracking=data.get("tracking"),
    )


def check_uri_param(params: Params, key: str) -> str:
    return _check_uri(params.text(key), f"{params.where}.{key}")


def split_uri(data_uri: str, split: str) -> str:
    """Where ingest puts a split; train/tune/evaluate receive the ingest stage folder as `dataUri`."""
    return storage.join(data_uri, f"{split}.parquet")


def write_result(stage_input: StageInput, result: StageResult) -> str:
    """Written last and atomically: its presence is how the control plane knows the stage finished."""
    for name, value in result.metrics.items():
        if not math.isfinite(value):
            raise StageError(f"metric {name} is not finite ({value})")
    uri = storage.join(stage_input.stage_uri, RESULT_FILE)
    body = {
        "stage": stage_input.stage,
        "metrics": {k: float(v) if isinstance(v, float) else v for k, v in result.metrics.items()},
        "artifacts": result.artifacts,
        "details": result.details,
    }
    body = json.loads(storage.dumps(body))  # exactly what the reader will parse
    try:
        check(body, "result", RESULT_FILE)
    except InvalidInput as e:
        raise StageError(f"this stage produced a result that breaks the contract: {e}") from None
    storage.write_json(uri, body, atomic=True)
    return uri


def failure_record(stage_input: StageInput, attempt: int, error: str, reason: str, now: datetime | None = None) -> dict[str, Any]:
    """The failure record of this attempt (failure.schema.json): who failed, as what, the one-line reason, when."""
    body = {
        "pipeline": stage_input.pipeline,
        "runId": stage_input.run_id,
        "stage": stage_input.stage,
        "attempt": attempt,
        "error": error if _ERROR_NAME.match(error) else StageError.kind,
        "reason": one_line(reason, MAX_FAILURE_REASON) or error,
        "time": (now or datetime.now(UTC)).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
    }
    check(body, "failure", FAILURE_FILE)
    return body


def write_failure(stage_input: StageInput, attempt: int, error: str, reason: str) -> str:
    """Writes <stageUri>/failure.json atomically: its Object Created fails the attempt's task by the pushed path
    (core/pushed-completion.ts), which still takes the outcome from the compute port, not from this record."""
    uri = storage.join(stage_input.stage_uri, FAILURE_FILE)
    storage.write_json(uri, failure_record(stage_input, attempt, error, reason), atomic=True)
    return uri


_connected_here = False  # only disconnect a Ray connection this stage made (not, e.g., a test session's)


def _stop_log_forwarding() -> None:
    """Disconnect from Ray so forwarded worker logs cannot land after our one-line reason."""
    global _connected_here
    if _connected_here:
        import ray

        ray.shutdown()
        _connected_here = False


def init_ray() -> None:
    """No address on purpose: under `ray job submit` RAY_ADDRESS attaches us to the existing cluster."""
    global _connected_here
    import ray

    # Forwarded worker lines ("(RayTrainWorker pid=..) [train] ...") without ANSI colours: the control plane parses them.
    os.environ.setdefault("RAY_COLOR_PREFIX", "0")
    if not ray.is_initialized():
        ray.init()
        _connected_here = True
