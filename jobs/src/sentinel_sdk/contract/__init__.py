"""The stage contract (docs/stage-contract.md): input from SENTINEL_STAGE_INPUT, result.json out, one-line errors."""

from __future__ import annotations

import json
import math
import os
import re
import sys
import traceback
from dataclasses import dataclass, field
from typing import Any, NoReturn
from collections.abc import Callable, Mapping

from sentinel_jobs import storage
from sentinel_jobs.metrics import METRIC_MODES, Mode

ENV_VAR = "SENTINEL_STAGE_INPUT"
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


class Params:
    """Typed, validated access to a JSON object; errors name the full key path (e.g. params.split.seed)."""

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

    def metric(self) -> str:
        value = self.text("metric")
        if value not in METRIC_MODES:
            self._fail("metric", f"one of {', '.join(METRIC_MODES)}", value)
        return value

    def mode(self, metric: str) -> Mode:
        """Mode is checked against the metric: maximising logloss would silently pick the worst model."""
        value = self.text("mode", default=METRIC_MODES[metric])
        if value not in ("max", "min"):
            self._fail("mode", "'max' or 'min'", value)
        if value != METRIC_MODES[metric]:
            self._fail("mode", f"{METRIC_MODES[metric]!r} for metric {metric!r}", value)
        return value


@dataclass(frozen=True)
class StageInput:
    pipeline: str
    run_id: str
    stage: str
    stage_uri: str
    run_uri: str
    params: Params


@dataclass
class StageResult:
    metrics: dict[str, float] = field(default_factory=dict)
    artifacts: dict[str, str] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)


def _check_uri(value: str, key: str) -> str:
    # Relative paths would resolve against whatever cwd the Ray job happens to have.
    if "://" in value or os.path.isabs(value):
        return value.rstrip("/") or "/"
    raise InvalidInput(f"{key} must be an absolute path or a URL such as s3://bucket/prefix; got {value!r}")


def parse_stage_input(raw: str | None, expected_stage: str) -> StageInput:
    if raw is None or not raw.strip():
        raise InvalidInput(f"environment variable {ENV_VAR} is not set")
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as e:
        raise InvalidInput(f"{ENV_VAR} is not valid JSON: {e}") from None
    if not isinstance(data, dict):
        raise InvalidInput(f"{ENV_VAR} must be a JSON object")
    top = Params(data, ENV_VAR)
    stage = top.text("stage")
    if stage != expected_stage:
        raise InvalidInput(f"{ENV_VAR}.stage is {stage!r} but this entrypoint runs {expected_stage!r}")
    return StageInput(
        pipeline=top.text("pipeline"),
        run_id=top.text("runId"),
        stage=stage,
        stage_uri=_check_uri(top.text("stageUri"), f"{ENV_VAR}.stageUri"),
        run_uri=_check_uri(top.text("runUri"), f"{ENV_VAR}.runUri"),
        params=top.obj("params"),
    )


def check_uri_param(params: Params, key: str) -> str:
    return _check_uri(params.text(key), f"params.{key}")


def split_uri(data_uri: str, split: str) -> str:
    """Where ingest puts a split; train/tune/evaluate receive the ingest stage folder as `dataUri`."""
    return storage.join(data_uri, f"{split}.parquet")


def write_result(stage_input: StageInput, result: StageResult) -> str:
    """Written last and atomically: its presence is how the control plane knows the stage finished."""
    for name, value in result.metrics.items():
        if not math.isfinite(value):
            raise StageError(f"metric {name} is not finite ({value})")
    uri = storage.join(stage_input.stage_uri, "result.json")
    body = {
        "stage": stage_input.stage,
        "metrics": result.metrics,
        "artifacts": result.artifacts,
        "details": result.details,
    }
    storage.write_json(uri, body, atomic=True)
    return uri


def run_stage(stage: str, body: Callable[[StageInput], StageResult]) -> int:
    """Shared `main`: parse input, run the stage, write result.json; on failure, exit non-zero with one line."""
    try:
        stage_input = parse_stage_input(os.environ.get(ENV_VAR), stage)
        result = body(stage_input)
        uri = write_result(stage_input, result)
    except StageError as e:
        _stop_log_forwarding()
        print(e.line(), file=sys.stderr, flush=True)
        return 1
    except Exception as e:  # unexpected: keep the traceback for debugging, but end with the one-line reason
        traceback.print_exc()
        _stop_log_forwarding()
        print(one_line(f"StageFailed: {type(e).__name__}: {e}"), file=sys.stderr, flush=True)
        return 1
    print(f"[{stage}] wrote {uri}", flush=True)
    return 0


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
