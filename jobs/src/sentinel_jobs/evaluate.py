"""Evaluate: score the candidate (and the current champion, if any) on the same held-out test split."""

from __future__ import annotations

from typing import Any

import pandas as pd

from sentinel_jobs import metrics, storage
from sentinel_jobs.contract import InvalidInput, StageInput, StageResult, check_uri_param, run_stage, split_uri
from sentinel_jobs.modeling import Split, load_booster, predict


def _scores(model_uri: str, test: pd.DataFrame, target: str) -> dict[str, float]:
    """Every supported metric for one model; the features come from the model itself."""
    booster = load_booster(model_uri)
    missing = [f for f in booster.feature_names or [] if f not in test.columns]
    if missing:
        raise InvalidInput(f"model {model_uri} needs features the test split lacks: {', '.join(missing[:5])}")
    split = Split(X=test[list(booster.feature_names or [])], y=test[target].to_numpy())
    prob = predict(booster, split.X)
    return {name: metrics.compute(name, split.y, prob) for name in metrics.METRIC_MODES}


def run(stage_input: StageInput) -> StageResult:
    p = stage_input.params
    data_uri = check_uri_param(p, "dataUri")
    target = p.text("target")
    metric = p.metric()
    p.mode(metric)
    candidate = p.obj("candidate")
    candidate_uri = check_uri_param(candidate, "modelUri")
    champion = p.obj("champion") if p.raw("champion", default=None) is not None else None

    test_uri = split_uri(data_uri, "test")
    try:
        test = storage.read_parquet(test_uri)
    except FileNotFoundError:
        raise InvalidInput(f"the test split {test_uri} does not exist; is dataUri the ingest stage folder?") from None
    if target not in test.columns:
        raise InvalidInput(f"the test split {test_uri} has no target column {target!r}")

    cand = _scores(candidate_uri, test, target)
    result_metrics = {f"candidate_{metric}": cand[metric], "test_rows": len(test)}
    details: dict[str, Any] = {
        "testRows": len(test),
        "candidate": {"modelUri": candidate_uri, "source": candidate.raw("source", default=None), "metrics": cand},
    }
    line = f"[evaluate] candidate {metric}={cand[metric]:.4f}"
    if champion is not None:
        champion_uri = check_uri_param(champion, "modelUri")
        champ = _scores(champion_uri, test, target)
        result_metrics[f"champion_{metric}"] = champ[metric]
        details["champion"] = {"modelUri": champion_uri, "runId": champion.raw("runId", default=None), "metrics": champ}
        details["candidateBetter"] = metrics.is_better(metric, cand[metric], champ[metric])
        line += f" champion {metric}={champ[metric]:.4f}"
    print(line, flush=True)
    return StageResult(metrics=result_metrics, artifacts={}, details=details)


def main() -> int:
    return run_stage("evaluate", run)


if __name__ == "__main__":
    raise SystemExit(main())
