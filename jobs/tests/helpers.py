"""Helpers to run stage modules the way the control plane does: a subprocess with SENTINEL_STAGE_INPUT set."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from sentinel_jobs.contract import ENV_VAR


def stage_input(root: Path, stage: str, params: dict[str, Any], run_id: str = "r-test") -> dict[str, Any]:
    run_uri = root / "breast-cancer" / run_id
    return {
        "pipeline": "breast-cancer",
        "runId": run_id,
        "stage": stage,
        "stageUri": str(run_uri / stage),
        "runUri": str(run_uri),
        "params": params,
    }


def run_module(module: str, payload: dict[str, Any], address: str | None = None,
               extra_env: dict[str, str] | None = None, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, ENV_VAR: json.dumps(payload), **(extra_env or {})}
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
