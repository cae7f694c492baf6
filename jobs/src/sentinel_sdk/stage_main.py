"""A stage's `main`: parse its input, start its driver log and tracking, run it, write result.json (or, when it fails,
its failure record, failure.json, best effort).

Apart from `sentinel_sdk.contract` because it ties the contract to tracking (which itself reads the contract's
types): here both are imported one way, so neither module imports the other back.
"""

from __future__ import annotations

import os
import sys
import threading
import traceback
from collections.abc import Callable

from sentinel_sdk import contract, driver_log, tracking
from sentinel_sdk.contract import StageInput, StageResult


def run_stage(stage: str, body: Callable[[StageInput], StageResult]) -> int:
    """Shared `main`: parse input, run the stage, write result.json; on failure, write failure.json (best effort) and
    exit non-zero with one line."""
    try:
        return _run_stage(stage, body)
    finally:
        driver_log.stop()  # last: the log ends with the one-line reason (sentinel_sdk/driver_log.py)


def _run_stage(stage: str, body: Callable[[StageInput], StageResult]) -> int:
    tracker: tracking.StageTracker | None = None
    stage_input: StageInput | None = None
    try:
        stage_input = contract.parse_stage_input(os.environ.get(contract.ENV_VAR), stage)
        driver_log.start(stage_input)  # this attempt's driver output, kept beside its result as it runs
        # Best effort from here on: a tracking server that errors is reported once and never fails the stage.
        tracker = tracking.start_stage(stage_input)
        result = body(stage_input)
        tracker.finish(result)
        # The write is the job's last act: its Object Created completes the task (the pushed completion), which
        # waits until the backend reports the job ended. Disconnecting from Ray first (Tune's and Train's actors are
        # torn down with the driver's connection) leaves only the process exit between the two.
        contract._stop_log_forwarding()
        uri = contract.write_result(stage_input, result)
    except contract.StageError as e:
        if tracker is not None:
            tracker.fail(e.line())
        contract._stop_log_forwarding()
        _write_failure(stage_input, e.kind, e.line())
        print(e.line(), file=sys.stderr, flush=True)
        return 1
    except Exception as e:  # unexpected: keep the traceback for debugging, but end with the one-line reason
        traceback.print_exc()
        line = contract.one_line(f"StageFailed: {type(e).__name__}: {e}")
        if tracker is not None:
            tracker.fail(line)
        contract._stop_log_forwarding()
        _write_failure(stage_input, contract.StageError.kind, line)
        print(line, file=sys.stderr, flush=True)
        return 1
    print(f"[{stage}] wrote {uri}", flush=True)
    return 0


#: How long the failure record's write may hold up the job's exit (a slow or unreachable store): then it is given up.
FAILURE_WRITE_TIMEOUT_SECONDS = 10.0


def _write_failure(stage_input: StageInput | None, error: str, line: str) -> None:
    """Best effort: this attempt's failure record (contract.write_failure), whose Object Created fails its task by the
    pushed path. Nothing is written without a parsed input or outside a Ray job (no attempt: it would name no job).
    A write that fails or takes too long is reported in one line before the reason and changes nothing else: the
    stage's own error, its exit code and its last line stay as they are; the watcher completes the task instead."""
    if stage_input is None:
        return
    attempt = driver_log.attempt_from_job(stage_input.pipeline, stage_input.run_id, stage_input.stage)
    if attempt is None:
        return
    problem: list[str] = []

    def write() -> None:
        try:
            contract.write_failure(stage_input, attempt, error, line)
        except BaseException as e:  # noqa: BLE001 (reported below; never raised into the stage's own failure)
            problem.append(f"{type(e).__name__}: {e}")

    writer = threading.Thread(target=write, name="sentinel-failure-record", daemon=True)
    try:
        writer.start()
        writer.join(FAILURE_WRITE_TIMEOUT_SECONDS)
    except BaseException as e:  # noqa: BLE001 (e.g. no thread could be started)
        problem.append(f"{type(e).__name__}: {e}")
    if writer.is_alive():
        problem.append(f"still writing after {FAILURE_WRITE_TIMEOUT_SECONDS:g} s")
    if problem:
        note = contract.one_line(f"[{stage_input.stage}] {contract.FAILURE_FILE} not written ({problem[0]}); the watcher will complete the task", 500)
        print(note, file=sys.stderr, flush=True)
