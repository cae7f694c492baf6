"""ingest -> train -> tune -> evaluate on the reference data, each stage a Ray job driver attached to the
session cluster, with a tiny budget."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import xgboost as xgb

from helpers import model_params, read_result, run_module, stage_input

MAX_T = 8


@pytest.fixture(scope="session")
def tuned(ray_address: str, workdir: Path, ingested: dict[str, Any]) -> dict[str, Any]:
    payload = stage_input(workdir, "tune", model_params({
        "dataUri": ingested["stageUri"],
        "metric": "logloss",
        # A hopeless learning rate next to a good one, so ASHA has something to stop. With the default
        # seed (0) the sampler proposes the two eta=0.3 trials first; the eta=0.001 ones start only after a
        # good trial has recorded its rung-2 value, so ASHA's stop decisions do not depend on timing.
        "searchSpace": {
            "eta": {"type": "choice", "values": [0.001, 0.3]},
            "max_depth": {"type": "randint", "lower": 2, "upper": 4},
        },
        "numSamples": 5,
        "maxConcurrent": 2,
        "maxIterations": MAX_T,
        "gracePeriod": 2,
        "reductionFactor": 2,
    }))
    proc = run_module("tune", payload, ray_address)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return {"payload": payload, "stdout": proc.stdout, "result": read_result(payload)}


def test_train(trained: dict[str, Any]) -> None:
    result = trained["result"]
    assert result["stage"] == "train"
    assert result["metrics"]["iterations"] == 12
    assert result["metrics"]["validation_roc_auc"] > 0.95
    assert result["details"]["resumedFromIteration"] == 0
    assert result["details"]["numWorkers"] == 2
    model_dir = Path(result["artifacts"]["model"])
    booster = xgb.Booster(model_file=str(model_dir / "model.json"))  # XGBoost JSON inside the model folder
    assert booster.num_boosted_rounds() == 12
    card = json.loads((model_dir / "sentinel-model.json").read_text())
    assert booster.feature_names == card["features"]
    assert (card["module"], card["framework"], card["task"], card["iterations"]) == ("sentinel_jobs.models.xgboost", "xgboost", "binary", 12)
    assert card["params"]["max_depth"] == 3 and card["example"]["rows"]
    ckpt = Path(result["artifacts"]["checkpoint"])
    assert ckpt.is_relative_to(Path(trained["payload"]["stageUri"]) / "checkpoints")
    assert (ckpt / "model.json").exists() and (ckpt / "sentinel-checkpoint.json").exists()
    timing = result["details"]["timing"]
    assert timing["fitSeconds"] >= timing["userSeconds"] > 0
    # Progress lines for the control plane's log tail.
    assert re.search(r"\[train\] iteration 4/12 validation_roc_auc=0\.\d{4}", trained["stdout"])
    assert "[train] done: 12 iterations" in trained["stdout"]


def test_tune(tuned: dict[str, Any]) -> None:
    result = tuned["result"]
    metrics, artifacts = result["metrics"], result["artifacts"]
    assert metrics["trials"] == 5
    doc = json.loads(Path(artifacts["trials"]).read_text())
    trials = doc["trials"]
    assert len(trials) == 5 and all(t["error"] is None for t in trials)
    for t in trials:
        assert len(t["history"]) == t["iterations"] >= 2  # every trial survives the grace period
        assert t["stoppedEarly"] == (t["iterations"] < MAX_T)
        assert t["config"]["eta"] in (0.3, 0.001) and 2 <= t["config"]["max_depth"] <= 4
    assert metrics["stopped_early"] == sum(t["stoppedEarly"] for t in trials) >= 1
    assert any(t["iterations"] == MAX_T for t in trials)

    best = [t for t in trials if t["best"]]
    assert len(best) == 1 and best[0]["trialId"] == doc["bestTrialId"]
    finished = [t["metric"] for t in trials]
    assert best[0]["metric"] == min(finished)
    assert result["details"]["bestConfig"] == best[0]["config"]
    assert best[0]["config"]["eta"] == 0.3
    # The saved model is the best trial's checkpoint: same rounds, same validation score.
    assert metrics["validation_logloss"] == pytest.approx(best[0]["metric"], rel=1e-6)
    assert xgb.Booster(model_file=str(Path(artifacts["model"]) / "model.json")).num_boosted_rounds() == best[0]["iterations"]

    root = ET.fromstring(Path(artifacts["curves"]).read_text())
    lines = [p for p in root.iter("{http://www.w3.org/2000/svg}polyline") if p.get("data-label")]
    assert sorted(p.get("data-label", "") for p in lines) == sorted(t["trialId"] for t in trials)
    assert [p.get("data-label") for p in lines if "best" in p.get("class", "")] == [doc["bestTrialId"]]
    assert re.search(r"\[tune\] trial \S+ (completed|stopped early by ASHA) at iteration", tuned["stdout"])


def test_evaluate_candidate_against_champion(workdir: Path, ingested: dict[str, Any],
                                             trained: dict[str, Any], tuned: dict[str, Any]) -> None:
    payload = stage_input(workdir, "evaluate", {
        "dataUri": ingested["stageUri"],
        "target": "target",
        "task": "binary",
        "metric": "roc_auc",
        "candidate": {"modelUri": tuned["result"]["artifacts"]["model"], "source": "tune"},
        "champion": {"modelUri": trained["result"]["artifacts"]["model"], "runId": "r0000000ff"},
    })
    proc = run_module("evaluate", payload)
    assert proc.returncode == 0, proc.stderr
    result = read_result(payload)
    m = result["metrics"]
    assert 0.9 < m["candidate_roc_auc"] <= 1.0 and 0.9 < m["champion_roc_auc"] <= 1.0
    assert m["candidate_roc_auc"] != m["champion_roc_auc"]  # different models really were scored
    assert m["test_rows"] == read_result(ingested)["metrics"]["test_rows"]
    assert result["details"]["champion"]["runId"] == "r0000000ff"
    assert result["details"]["candidate"]["source"] == "tune"


def test_evaluate_without_champion_and_bad_model(workdir: Path, ingested: dict[str, Any],
                                                 trained: dict[str, Any]) -> None:
    params = {"dataUri": ingested["stageUri"], "target": "target", "task": "binary", "metric": "f1",
              "candidate": {"modelUri": trained["result"]["artifacts"]["model"], "source": "train"}, "champion": None}
    payload = stage_input(workdir, "evaluate", params, run_id="r-solo")
    assert run_module("evaluate", payload).returncode == 0
    assert set(read_result(payload)["metrics"]) == {"candidate_f1", "test_rows"}

    missing = stage_input(workdir, "evaluate", {**params, "candidate": {"modelUri": str(workdir / "nope"), "source": "train"}},
                          run_id="r-missing")
    proc = run_module("evaluate", missing)
    assert proc.returncode != 0
    assert proc.stderr.strip().splitlines()[-1] == f"ValidationFailed: model {workdir / 'nope'} has no sentinel-model.json; it is not a Sentinel model folder"
