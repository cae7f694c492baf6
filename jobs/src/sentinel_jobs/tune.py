"""Tune: Ray Tune + ASHA over the spec's model (see sentinel_sdk.tune); the entrypoint `python -m sentinel_jobs.tune`."""

from __future__ import annotations

from sentinel_sdk.stage_main import run_stage
from sentinel_sdk.tune import run, search_space

__all__ = ["main", "run", "search_space"]


def main() -> int:
    return run_stage("tune", run)


if __name__ == "__main__":
    raise SystemExit(main())
