"""A failing stage's failure record (run_stage → contract.write_failure → <stageUri>/failure.json): written on a
known StageError and on an unexpected exception, never on success nor outside a Ray job; its write is best effort
(a store that fails or hangs changes neither the exit code nor the one-line reason the log ends with)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import jsonschema
import pytest

import sentinel_sdk.contract as contract
import sentinel_sdk.stage_main as stage_main
from sentinel_sdk import driver_log
from sentinel_sdk.contract import ENV_VAR, StageInput, StageResult, TrainingFailed, ValidationFailed, encode_stage_input
from sentinel_sdk.stage_main import run_stage

RUN = "r0000000f1"
INGEST = {"datasetUri": "/d.csv", "target": "y", "task": "binary", "split": {"validation": 0.2, "test": 0.2, "seed": 1}}
EVALUATE = {"dataUri": "/d", "target": "y", "task": "binary", "metric": "f1",
            "candidate": {"modelUri": "/m", "source": "train"}, "champion": None}


def _stage_dir(tmp_path: Path, stage: str) -> Path:
    return tmp_path / "p" / RUN / stage


AsJob = Callable[[str, int | None], Path]


@pytest.fixture
def as_job(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[AsJob]:
    """Sets up `stage`'s input and Ray's job config naming attempt `attempt` (the driver log itself is off here:
    it captures fds 1 and 2, which pytest owns; tests/test_driver_log.py runs it in real processes)."""
    monkeypatch.setattr(driver_log, "start", lambda *_a, **_k: None)

    def setup(stage: str, attempt: int | None) -> Path:
        params = INGEST if stage == "ingest" else EVALUATE
        monkeypatch.setenv(ENV_VAR, encode_stage_input({
            "pipeline": "p", "runId": RUN, "stage": stage, "stageUri": str(_stage_dir(tmp_path, stage)),
            "runUri": str(tmp_path / "p" / RUN), "params": params,
        }))
        if attempt is None:
            monkeypatch.delenv(driver_log.RAY_JOB_CONFIG_ENV, raising=False)
        else:
            config = {"runtime_env": {}, "metadata": {driver_log.SUBMISSION_ID_KEY: f"p-{RUN}-{stage}-{attempt}"}}
            monkeypatch.setenv(driver_log.RAY_JOB_CONFIG_ENV, json.dumps(config))
        return _stage_dir(tmp_path, stage)

    yield setup


def _record(stage_dir: Path) -> dict[str, object]:
    loaded: dict[str, object] = json.loads((stage_dir / contract.FAILURE_FILE).read_text())
    return loaded


def _last_line(err: str) -> str:
    return [ln for ln in err.splitlines() if ln.strip()][-1]


def test_the_file_name_and_bounds_come_from_the_generated_contract() -> None:
    wire = json.loads((contract.SCHEMA_DIR / "wire.json").read_text())
    assert (contract.RESULT_FILE, contract.FAILURE_FILE) == (wire["stageFiles"]["result"], wire["stageFiles"]["failure"])
    assert contract.FAILURE_FILE == "failure.json"
    assert contract.MAX_FAILURE_REASON == 1000


def test_a_stage_error_writes_its_attempts_record_and_still_ends_with_the_reason(as_job: AsJob, capsys: pytest.CaptureFixture[str]) -> None:
    stage_dir = as_job("ingest", 2)

    def body(_: StageInput) -> StageResult:
        raise ValidationFailed("column 'b' has non-numeric values\n(row 7)")

    assert run_stage("ingest", body) == 1
    err = capsys.readouterr().err
    assert _last_line(err) == "ValidationFailed: column 'b' has non-numeric values (row 7)"
    assert "not written" not in err
    record = _record(stage_dir)
    jsonschema.Draft202012Validator(contract.schema("failure")).validate(record)
    assert {k: v for k, v in record.items() if k != "time"} == {
        "pipeline": "p", "runId": RUN, "stage": "ingest", "attempt": 2, "error": "ValidationFailed",
        "reason": "ValidationFailed: column 'b' has non-numeric values (row 7)",
    }
    assert abs(time.time() - _iso_seconds(str(record["time"]))) < 60
    assert not (stage_dir / contract.RESULT_FILE).exists()
    assert sorted(p.name for p in stage_dir.iterdir()) == [contract.FAILURE_FILE], "no temporary file left"


def test_an_unexpected_exception_writes_a_stage_failed_record(as_job: AsJob, capsys: pytest.CaptureFixture[str]) -> None:
    stage_dir = as_job("evaluate", 1)

    def body(_: StageInput) -> StageResult:
        raise KeyError("boom")

    assert run_stage("evaluate", body) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err
    assert _last_line(err) == "StageFailed: KeyError: 'boom'"
    record = _record(stage_dir)
    assert (record["attempt"], record["error"], record["reason"]) == (1, "StageFailed", "StageFailed: KeyError: 'boom'")


def test_a_long_reason_is_cut_to_the_contracts_bound(as_job: AsJob, capsys: pytest.CaptureFixture[str]) -> None:
    stage_dir = as_job("ingest", 2)

    def body(_: StageInput) -> StageResult:
        raise TrainingFailed("x" * 50_000)

    assert run_stage("ingest", body) == 1
    capsys.readouterr()
    record = _record(stage_dir)
    assert record["error"] == "TrainingFailed"
    assert len(str(record["reason"])) == contract.MAX_FAILURE_REASON
    assert (stage_dir / contract.FAILURE_FILE).stat().st_size < 2048


def test_success_writes_no_record(as_job: AsJob) -> None:
    stage_dir = as_job("evaluate", 2)
    assert run_stage("evaluate", lambda _si: StageResult(metrics={"candidate_f1": 0.5})) == 0
    assert (stage_dir / contract.RESULT_FILE).exists()
    assert not (stage_dir / contract.FAILURE_FILE).exists()


def test_outside_a_ray_job_no_record_names_no_job(as_job: AsJob, capsys: pytest.CaptureFixture[str]) -> None:
    stage_dir = as_job("ingest", None)

    def body(_: StageInput) -> StageResult:
        raise ValidationFailed("bad")

    assert run_stage("ingest", body) == 1
    assert _last_line(capsys.readouterr().err) == "ValidationFailed: bad"
    assert not (stage_dir / contract.FAILURE_FILE).exists()


def test_bad_input_writes_nothing_it_has_no_stage_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv(ENV_VAR, "not base64!")
    assert run_stage("ingest", lambda _si: StageResult()) == 1
    assert _last_line(capsys.readouterr().err).startswith("ValidationFailed:")
    assert list(tmp_path.iterdir()) == []


def test_a_record_that_cannot_be_written_changes_nothing_but_a_note_before_the_reason(
        as_job: AsJob, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    stage_dir = as_job("ingest", 2)

    def refuse(*_a: object) -> str:
        raise PermissionError("AccessDenied on PutObject")

    monkeypatch.setattr(contract, "write_failure", refuse)

    def body(_: StageInput) -> StageResult:
        raise ValidationFailed("column 'b' is empty")

    assert run_stage("ingest", body) == 1
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert lines[-1] == "ValidationFailed: column 'b' is empty"
    assert lines[-2].startswith(f"[ingest] {contract.FAILURE_FILE} not written (PermissionError: AccessDenied")
    assert not (stage_dir / contract.FAILURE_FILE).exists()


def test_a_write_that_hangs_is_given_up_and_the_stage_still_exits_with_its_error(
        as_job: AsJob, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    as_job("evaluate", 2)
    monkeypatch.setattr(stage_main, "FAILURE_WRITE_TIMEOUT_SECONDS", 0.2)
    monkeypatch.setattr(contract, "write_failure", lambda *_a: time.sleep(5))

    def body(_: StageInput) -> StageResult:
        raise KeyError("boom")

    started = time.monotonic()
    assert run_stage("evaluate", body) == 1
    assert time.monotonic() - started < 3
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert lines[-1] == "StageFailed: KeyError: 'boom'"
    assert "still writing after 0.2 s" in lines[-2]


def _iso_seconds(text: str) -> float:
    from datetime import datetime

    assert text.endswith("Z"), text
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
