"""A stage's `main`: parse its input, start its driver log and tracking, run it, write result.json.

Apart from `sentinel_sdk.contract` because it ties the contract to tracking (which itself reads the contract's
types): here both are imported one way, so neither module imports the other back.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable

from sentinel_sdk import contract, driver_log, tracking
from sentinel_sdk.contract import StageInput, StageResult


def run_stage(stage: str, body: Callable[[StageInput], StageResult]) -> int:
    """Shared `main`: parse input, run the stage, write result.json; on failure, exit non-zero with one line."""
    try:
        return _run_stage(stage, body)
    finally:
        driver_log.stop()  # last: the log ends with the one-line reason (sentinel_sdk/driver_log.py)


def _run_stage(stage: str, body: Callable[[StageInput], StageResult]) -> int:
    tracker: tracking.StageTracker | None = None
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
        print(e.line(), file=sys.stderr, flush=True)
        return 1
    except Exception as e:  # unexpected: keep the traceback for debugging, but end with the one-line reason
        traceback.print_exc()
        line = contract.one_line(f"StageFailed: {type(e).__name__}: {e}")
        if tracker is not None:
            tracker.fail(line)
        contract._stop_log_forwarding()
        print(line, file=sys.stderr, flush=True)
        return 1
    print(f"[{stage}] wrote {uri}", flush=True)
    return 0
