"""Evaluate: score the candidate (and the current champion, if any) on the same held-out test split.

Both models are loaded through their model folder's card, so a champion trained by another module still loads.
"""

from __future__ import annotations

from typing import Any, cast

from sentinel_sdk import metrics, tracking
from sentinel_sdk.contract import InvalidInput, StageInput, StageResult, check_uri_param
from sentinel_sdk.data import load_split
from sentinel_sdk.metrics import Task, mode_of
from sentinel_sdk.model import load_model_folder
from sentinel_sdk.stage_main import run_stage


def scores(model_uri: str, data_uri: str, target: str, task: Task) -> dict[str, float]:
    """Every metric of the task for one model; the features come from the model's card."""
    model_def, model, card = load_model_folder(model_uri)
    if card.task != task:
        raise InvalidInput(f"model {model_uri} was trained for task {card.task!r}, not {task!r}")
    test = load_split(data_uri, "test", target, task, card.features)
    pred = model_def.predictions(model, test.X, card.info)
    return metrics.all_metrics(task, test.y, pred)


def run(stage_input: StageInput) -> StageResult:
    p = stage_input.params
    data_uri = check_uri_param(p, "dataUri")
    target = p.text("target")
    task = cast(Task, p.text("task"))
    metric = p.text("metric")
    try:
        mode_of(task, metric)
    except ValueError as e:
        raise InvalidInput(f"params.metric: {e}") from None
    candidate = p.obj("candidate")
    candidate_uri = check_uri_param(candidate, "modelUri")
    champion = p.obj("champion") if p.raw("champion", default=None) is not None else None

    cand = scores(candidate_uri, data_uri, target, task)
    test_rows = len(load_split(data_uri, "test", target, task).y)
    result_metrics = {f"candidate_{metric}": cand[metric], "test_rows": test_rows}
    details: dict[str, Any] = {
        "testRows": test_rows,
        "candidate": {"modelUri": candidate_uri, "source": candidate.raw("source", default=None), "metrics": cand},
    }
    line = f"[evaluate] candidate {metric}={cand[metric]:.4f}"
    if champion is not None:
        champion_uri = check_uri_param(champion, "modelUri")
        champ = scores(champion_uri, data_uri, target, task)
        result_metrics[f"champion_{metric}"] = champ[metric]
        details["champion"] = {"modelUri": champion_uri, "runId": champion.raw("runId", default=None), "metrics": champ}
        details["candidateBetter"] = metrics.is_better(task, metric, cand[metric], champ[metric])
        line += f" champion {metric}={champ[metric]:.4f}"
    print(line, flush=True)
    # Every metric of the task for both models, not only the gate's: the MLflow run compares them all.
    tracking.current().log_metrics({
        **{f"candidate_{k}": v for k, v in cand.items()},
        **{f"champion_{k}": v for k, v in details.get("champion", {}).get("metrics", {}).items()},
    })
    return StageResult(metrics=result_metrics, artifacts={}, details=details)


def main() -> int:
    return run_stage("evaluate", run)


if __name__ == "__main__":
    raise SystemExit(main())
