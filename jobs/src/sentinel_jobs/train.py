"""Train: the spec's model on Ray Train (see sentinel_sdk.train); the entrypoint `python -m sentinel_jobs.train`."""

from __future__ import annotations

from sentinel_sdk.stage_main import run_stage
from sentinel_sdk.train import FAIL_ENV, run

__all__ = ["FAIL_ENV", "main", "run"]


def main() -> int:
    return run_stage("train", run)


if __name__ == "__main__":
    raise SystemExit(main())
