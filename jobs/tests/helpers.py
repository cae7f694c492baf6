"""Helpers to run stage modules the way the control plane does: a subprocess with SENTINEL_STAGE_INPUT set."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from sentinel_sdk.contract import ENV_VAR, encode_stage_input

RUN_IDS = {"r-test": "r000000001"}


def run_id_of(name: str) -> str:
    """Readable test names to run ids of the contract's shape (r + 9 hex digits)."""
    if name not in RUN_IDS:
        RUN_IDS[name] = f"r{len(RUN_IDS) + 1:09x}"
    return RUN_IDS[name]


def model_params(params: dict[str, Any], *, module: str = "sentinel_jobs.models.xgboost", model: dict[str, Any] | None = None,
                 task: str = "binary", target: str = "target", **extra: Any) -> dict[str, Any]:
    """Train/tune params as the control plane builds them: the model section, resources and seed filled in."""
    out = {"target": target, "task": task, "model": {"module": module, "params": model or {}},
           "resources": {"cpu": 1, "gpu": 0}, "seed": 0, **params, **extra}
    if "mode" not in out:
        from sentinel_sdk.metrics import mode_of
        out["mode"] = mode_of(task, out["metric"])
    return out


def stage_input(root: Path, stage: str, params: dict[str, Any], run_id: str = "r-test", pipeline: str = "breast-cancer") -> dict[str, Any]:
    run_id = run_id_of(run_id)
    run_uri = root / pipeline / run_id
    return {
        "pipeline": pipeline,
        "runId": run_id,
        "stage": stage,
        "stageUri": str(run_uri / stage),
        "runUri": str(run_uri),
        "params": params,
    }


def run_module(module: str, payload: dict[str, Any], address: str | None = None,
               extra_env: dict[str, str] | None = None, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, ENV_VAR: encode_stage_input(payload), **(extra_env or {})}
    if address:
        env["RAY_ADDRESS"] = address
    else:
        env.pop("RAY_ADDRESS", None)
    return subprocess.run(
        [sys.executable, "-m", f"sentinel_jobs.{module}"],
        env=env, capture_output=True, text=True, timeout=timeout,
    )


def last_stderr_line(proc: subprocess.CompletedProcess[str]) -> str:
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    return lines[-1] if lines else ""


def read_result(payload: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = json.loads((Path(payload["stageUri"]) / "result.json").read_text())
    return result
