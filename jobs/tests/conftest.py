"""Shared fixtures: one Ray cluster per session; stage modules run as subprocess drivers attached to it,
exactly like `ray job submit` runs them (RAY_ADDRESS set, input in SENTINEL_STAGE_INPUT)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
# Before ray.init: Ray workers, Serve replicas and subprocess drivers inherit this environment.
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(SRC), os.environ.get("PYTHONPATH", "")) if p)
os.environ["RAY_COLOR_PREFIX"] = "0"
sys.path.insert(0, str(SRC))

from helpers import model_params, read_result, run_module, stage_input  # noqa: E402
from sentinel_jobs.reference_data import reference_frame  # noqa: E402


@pytest.fixture(scope="session")
def ray_address() -> Iterator[str]:
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()


@pytest.fixture(scope="session")
def reference_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("upload") / "breast_cancer.csv"
    reference_frame().to_csv(path, index=False)
    return path


@pytest.fixture(scope="session")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("runs")


@pytest.fixture(scope="session")
def ingested(workdir: Path, reference_csv: Path) -> dict[str, Any]:
    """Ingest runs once; train, tune, evaluate and serve tests all read its splits."""
    payload = stage_input(workdir, "ingest", {
        "datasetUri": str(reference_csv),
        "target": "target",
        "task": "binary",
        "split": {"validation": 0.2, "test": 0.2, "seed": 7},
        "minRows": 30,
    })
    proc = run_module("ingest", payload)
    assert proc.returncode == 0, proc.stderr
    return payload


@pytest.fixture(scope="session")
def trained(ray_address: str, workdir: Path, ingested: dict[str, Any]) -> dict[str, Any]:
    payload = stage_input(workdir, "train", model_params({
        "dataUri": ingested["stageUri"],
        "metric": "roc_auc",
        "iterations": 12,
        "numWorkers": 2,
        "checkpointEvery": 4,
    }, model={"max_depth": 3, "eta": 0.3}))
    proc = run_module("train", payload, ray_address)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return {"payload": payload, "stdout": proc.stdout, "result": read_result(payload)}
