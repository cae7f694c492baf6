"""The driver log (sentinel_sdk/driver_log.py): real processes writing to their real fds 1 and 2, real files.

Each capture test runs its writer as a subprocess (pytest itself replaces fds 1 and 2), and checks both ends: the
log file in the stage folder and what still reached the process's own stdout/stderr (Ray's job log).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import fsspec
import pytest

from helpers import run_module, stage_input
from sentinel_sdk import driver_log

SRC = str(Path(__file__).resolve().parents[1] / "src")


def job_env(name: str) -> dict[str, str]:
    """What Ray's job supervisor gives a driver: its job config, with the submission id (the Sentinel job name)."""
    return {driver_log.RAY_JOB_CONFIG_ENV: json.dumps({"runtime_env": {}, "metadata": {driver_log.SUBMISSION_ID_KEY: name}})}


def python(code: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.Popen[str]:
    full = {**os.environ, "PYTHONPATH": SRC, **(env or {})}
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], env=full, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_attempt_from_the_ray_submission_id() -> None:
    assert driver_log.attempt_from_job("breast-cancer", "r0000000a1", "train", job_env("breast-cancer-r0000000a1-train-3")) == 3
    assert driver_log.attempt_from_job("breast-cancer", "r0000000a1", "train", job_env("breast-cancer-r0000000a1-train-12")) == 12
    # Another stage's, another run's, or a name that is not a job name: no attempt, hence no log.
    assert driver_log.attempt_from_job("breast-cancer", "r0000000a1", "tune", job_env("breast-cancer-r0000000a1-train-3")) is None
    assert driver_log.attempt_from_job("breast-cancer", "r0000000a2", "train", job_env("breast-cancer-r0000000a1-train-3")) is None
    assert driver_log.attempt_from_job("breast-cancer", "r0000000a1", "train", job_env("breast-cancer-r0000000a1-train-0")) is None
    assert driver_log.attempt_from_job("breast-cancer", "r0000000a1", "train", job_env("breast-cancer-r0000000a1-train-x1")) is None
    assert driver_log.attempt_from_job("breast-cancer", "r0000000a1", "train", {}) is None
    assert driver_log.attempt_from_job("breast-cancer", "r0000000a1", "train", {driver_log.RAY_JOB_CONFIG_ENV: "{not json"}) is None
    assert driver_log.log_uri("s3://b/artifacts/p/r0000000a1/train", 2) == "s3://b/artifacts/p/r0000000a1/train/logs/attempt-2.log"


def test_fd_level_capture_flushes_while_running_and_keeps_the_original_streams(tmp_path: Path) -> None:
    log = tmp_path / "train" / "logs" / "attempt-1.log"
    go = tmp_path / "go"
    proc = python(f"""
        import logging, os, subprocess, sys, time
        from sentinel_sdk.driver_log import DriverLog
        logging.basicConfig(stream=sys.stderr, level=logging.INFO)  # a handler holding the stream from before
        with DriverLog({str(log)!r}, header="hello", flush_seconds=0.2):
            print("python stdout line", flush=True)
            print("python stderr line", file=sys.stderr, flush=True)
            os.write(1, b"fd one line\\n")
            os.write(2, b"fd two line\\n")
            subprocess.run(["echo", "child process line"], check=True)
            logging.getLogger("x").info("a logging line")
            sys.stdout.write("a partial line without its end")
            sys.stdout.flush()
            while not os.path.exists({str(go)!r}):
                time.sleep(0.05)
            print(" and its end")
        print("after close")
    """)
    try:
        # The log is readable while the process runs (periodic flush), partial line included after an interval.
        deadline = time.monotonic() + 30
        text = ""
        while time.monotonic() < deadline:
            text = log.read_text() if log.exists() else ""
            if "a partial line without its end" in text:
                break
            time.sleep(0.1)
        assert "a partial line without its end" in text, text
        assert proc.poll() is None, "the writer is still running"
        go.touch()
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    text = log.read_text()
    lines = text.splitlines()
    assert lines[0] == "[sentinel] hello"
    for expected in ("python stdout line", "python stderr line", "fd one line", "fd two line", "child process line", "INFO:x:a logging line"):
        assert expected in lines, (expected, text)
    # The partial line went in on its own after an interval (seen above), and its end joined it: bytes as written.
    assert "a partial line without its end and its end" in lines
    assert lines[-1].startswith("[sentinel] log closed at ")
    assert "after close" not in text
    # Everything still reached the process's own stdout and stderr, each on its own stream.
    assert "python stdout line" in out and "fd one line" in out and "child process line" in out and "after close" in out
    assert "python stderr line" in err and "fd two line" in err and "INFO:x:a logging line" in err
    assert "python stderr line" not in out


def test_an_exception_is_in_the_log_and_the_log_is_closed(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "attempt-2.log"
    proc = python(f"""
        from sentinel_sdk.driver_log import DriverLog
        with DriverLog({str(log)!r}, flush_seconds=5):
            print("before the failure", flush=True)
            raise RuntimeError("boom in the stage")
    """)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1
    text = log.read_text()
    assert "before the failure" in text
    assert "Traceback (most recent call last)" in text and "RuntimeError: boom in the stage" in text
    assert "RuntimeError: boom in the stage" in err  # the interpreter still prints it on the original stderr
    assert text.splitlines()[-1].startswith("[sentinel] log closed") and "ended by RuntimeError" in text


def test_python_level_fallback_and_the_size_cap(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = tmp_path / "logs" / "attempt-1.log"
    with driver_log.DriverLog(str(log), fd_level=False, max_bytes=200):
        print("x" * 50)
        print("y" * 500)
        print("z" * 50)
    text = log.read_text()
    assert "x" * 50 in text
    assert "z" * 50 not in text
    assert "the log reached 200 bytes and stops here" in text
    assert len(text.encode()) < 200 + 200
    assert "z" * 50 in capsys.readouterr().out  # the stream itself is untouched


def test_object_store_log_is_rewritten_whole_on_each_flush(capsys: pytest.CaptureFixture[str]) -> None:
    uri = "memory://sentinel-test-bucket/artifacts/p/r0000000b1/train/logs/attempt-1.log"
    fs = fsspec.filesystem("memory")
    log = driver_log.DriverLog(uri, fd_level=False, flush_seconds=0.1).start()
    try:
        assert not log.local
        print("first line")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and b"first line" not in (fs.cat_file(uri) if fs.exists(uri) else b""):
            time.sleep(0.05)
        first = bytes(fs.cat_file(uri))
        assert b"first line" in first
        print("second line")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and b"second line" not in bytes(fs.cat_file(uri)):
            time.sleep(0.05)
        second = bytes(fs.cat_file(uri))
        assert second.startswith(first), "each rewrite extends the one before (a reader can go on from its offset)"
        assert b"second line" in second
    finally:
        log.close()
    final = bytes(fs.cat_file(uri)).decode()
    assert final.splitlines()[-1].startswith("[sentinel] log closed")
    assert log.upload_errors == 0
    fs.rm(uri)


def ingest_payload(tmp_path: Path, csv: Path) -> dict[str, object]:
    return stage_input(tmp_path, "ingest", {"datasetUri": str(csv), "target": "target", "task": "binary",
                                            "split": {"validation": 0.2, "test": 0.2, "seed": 7}}, run_id="r-driver-log")


def test_run_stage_keeps_the_attempts_log_beside_its_result(tmp_path: Path, reference_csv: Path) -> None:
    payload = ingest_payload(tmp_path, reference_csv)
    name = f"breast-cancer-{payload['runId']}-ingest-1"
    proc = run_module("ingest", payload, extra_env=job_env(name))
    assert proc.returncode == 0, proc.stderr
    stage = Path(str(payload["stageUri"]))
    assert (stage / "result.json").exists()
    text = (stage / "logs" / "attempt-1.log").read_text()
    lines = text.splitlines()
    assert lines[0].startswith(f"[sentinel] ingest attempt 1 of run {payload['runId']}")
    assert any(ln.startswith("[ingest] binary:") for ln in lines), text
    assert f"[ingest] wrote {stage / 'result.json'}" in lines
    assert lines[-1].startswith("[sentinel] log closed")


def test_a_failed_stage_log_ends_with_its_reason_and_a_second_attempt_gets_its_own(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    payload = ingest_payload(tmp_path, bad)
    for attempt in (1, 2):
        proc = run_module("ingest", payload, extra_env=job_env(f"breast-cancer-{payload['runId']}-ingest-{attempt}"))
        assert proc.returncode == 1
        reason = [ln for ln in proc.stderr.splitlines() if ln.strip()][-1]
        assert reason.startswith("ValidationFailed:"), proc.stderr
        lines = (Path(str(payload["stageUri"])) / "logs" / f"attempt-{attempt}.log").read_text().splitlines()
        assert lines[0].startswith(f"[sentinel] ingest attempt {attempt} ")
        assert lines[-2] == reason, lines  # the one-line reason, then the closing line
        assert lines[-1].startswith("[sentinel] log closed")
        # Its failure record (stage_main._write_failure) names this attempt: the job the pushed path fails.
        record = json.loads((Path(str(payload["stageUri"])) / "failure.json").read_text())
        assert (record["attempt"], record["error"], record["reason"]) == (attempt, "ValidationFailed", reason)
    assert sorted(p.name for p in (Path(str(payload["stageUri"])) / "logs").iterdir()) == ["attempt-1.log", "attempt-2.log"]


def test_no_ray_job_no_log(tmp_path: Path, reference_csv: Path) -> None:
    payload = ingest_payload(tmp_path, reference_csv)
    proc = run_module("ingest", payload)
    assert proc.returncode == 0, proc.stderr
    assert not (Path(str(payload["stageUri"])) / "logs").exists()


def test_sigterm_closes_the_log(tmp_path: Path) -> None:
    stage = tmp_path / "p" / "r0000000c1" / "train"
    proc = python(f"""
        import time
        from types import SimpleNamespace
        from sentinel_sdk import driver_log
        si = SimpleNamespace(pipeline="p", run_id="r0000000c1", stage="train", stage_uri={str(stage)!r})
        driver_log.start(si)
        try:
            print("working", flush=True)
            time.sleep(60)
        finally:
            driver_log.stop()
    """, env=job_env("p-r0000000c1-train-4"))
    try:
        log = stage / "logs" / "attempt-4.log"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and "working" not in (log.read_text() if log.exists() else ""):
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 128 + signal.SIGTERM
    lines = log.read_text().splitlines()
    assert "working" in lines
    assert lines[-1].startswith("[sentinel] log closed") and "ended by SystemExit 143" in lines[-1]
