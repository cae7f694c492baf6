"""A train stage killed midway resumes from its latest checkpoint when the same stage is run again."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from helpers import last_stderr_line, model_params, read_result, run_module, stage_input
from sentinel_jobs.train import FAIL_ENV


def test_rerun_resumes_from_latest_checkpoint(ray_address: str, workdir: Path, ingested: dict[str, Any]) -> None:
    payload = stage_input(workdir, "train", model_params({
        "dataUri": ingested["stageUri"],
        "metric": "accuracy",
        "iterations": 20,
        "numWorkers": 1,
        "checkpointEvery": 5,
    }, model={"max_depth": 2}), run_id="r-resume")
    stage_dir = Path(payload["stageUri"])
    # The control plane retries with identical input and environment; the hook only fires on a fresh run.
    env = {FAIL_ENV: "12"}

    first = run_module("train", payload, ray_address, env)
    assert first.returncode != 0
    assert last_stderr_line(first).startswith("TrainingFailed: worker 0: injected failure after iteration 12")
    assert not (stage_dir / "result.json").exists()
    assert list((stage_dir / "checkpoints" / "train").glob("checkpoint_*/model.json"))

    second = run_module("train", payload, ray_address, env)
    assert second.returncode == 0, second.stderr[-3000:]
    result = read_result(payload)
    resumed = result["details"]["resumedFromIteration"]
    assert resumed in (5, 10)  # a checkpoint boundary at or before the failure
    assert result["metrics"]["iterations"] == 20
    assert f"resuming from checkpoint at iteration {resumed}/20" in second.stdout
    # Only the remaining rounds were boosted on the second attempt.
    assert f"[train] iteration {resumed}/20" not in second.stdout
    assert "[train] iteration 20/20" in second.stdout
