"""A tune stage killed midway (its driver dies, as on a reclaimed node) resumes the same search when re-run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from helpers import model_params, read_result, run_module, stage_input
from sentinel_sdk.contract import ENV_VAR, encode_stage_input


def test_rerun_resumes_the_interrupted_search(ray_address: str, workdir: Path, ingested: dict[str, Any]) -> None:
    payload = stage_input(workdir, "tune", model_params({
        "dataUri": ingested["stageUri"],
        "metric": "roc_auc",
        "searchSpace": {"eta": {"type": "loguniform", "lower": 0.05, "upper": 0.3}, "max_depth": {"type": "randint", "lower": 2, "upper": 4}},
        "numSamples": 4,
        "maxConcurrent": 2,
        "maxIterations": 40,
        "gracePeriod": 40,  # no early stopping: every trial must reach 40 rounds, resumed or not
        "reductionFactor": 2,
    }), run_id="r-tune-resume")
    # Save Tune's experiment state often so the kill below lands after a snapshot.
    env = {**os.environ, ENV_VAR: encode_stage_input(payload), "RAY_ADDRESS": ray_address, "TUNE_GLOBAL_CHECKPOINT_S": "0.5"}
    first = subprocess.Popen([sys.executable, "-m", "sentinel_jobs.tune"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True, start_new_session=True)
    assert first.stdout is not None
    seen: list[str] = []
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        line = first.stdout.readline()
        if not line:
            break
        seen.append(line)
        if "completed at iteration 40/40" in line:  # one trial finished, others still running: kill now
            break
    os.killpg(first.pid, signal.SIGKILL)
    first.wait(30)
    done_lines = [ln for ln in seen if "completed at iteration 40/40" in ln]
    assert done_lines, "".join(seen)[-3000:]
    finished_trial = done_lines[0].split("[tune] trial ", 1)[1].split(" ", 1)[0]
    stage_dir = Path(payload["stageUri"])
    assert not (stage_dir / "result.json").exists()

    second = run_module("tune", payload, ray_address)
    assert second.returncode == 0, second.stderr[-3000:]
    assert "[tune] resuming the search from" in second.stdout
    result = read_result(payload)
    assert result["details"]["resumed"] is True
    assert result["metrics"]["trials"] == 4, "the same search of 4 trials, not a new one"
    # The trial that finished before the kill is not trained again.
    assert f"trial {finished_trial} iteration" not in second.stdout
    trials = json.loads((stage_dir / "trials.json").read_text())["trials"]
    assert next(t for t in trials if t["trialId"] == finished_trial)["iterations"] == 40
    assert (stage_dir / "model" / "model.json").exists()
