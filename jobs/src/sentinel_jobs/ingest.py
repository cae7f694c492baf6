"""Ingest: validate the uploaded CSV, split it stratified into train/validation/test Parquet, write a manifest."""

from __future__ import annotations

import csv
import hashlib
import io
from collections import Counter

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from sentinel_jobs import storage
from sentinel_jobs.contract import (
    StageInput,
    StageResult,
    ValidationFailed,
    check_uri_param,
    run_stage,
    split_uri,
)

DEFAULT_MIN_ROWS = 30
_XGB_FORBIDDEN = set("[]<")  # XGBoost rejects feature names containing these
_MAX_LISTED = 5


def _listed(items: list[str]) -> str:
    shown = ", ".join(items[:_MAX_LISTED])
    return shown + (f" and {len(items) - _MAX_LISTED} more" if len(items) > _MAX_LISTED else "")


def check_header(data: bytes) -> list[str]:
    """Header checks run on the raw line because pandas silently renames duplicates to 'x.1'."""
    text = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8-sig", errors="replace", newline="")
    header = next(csv.reader(text), None)  # decodes lazily: only the header is read
    if not header or all(not h.strip() for h in header):
        raise ValidationFailed("the file is empty or has no header row")
    problems: list[str] = []
    dupes = [f"{name!r} ({n}x)" for name, n in Counter(header).items() if n > 1]
    if dupes:
        problems.append(f"duplicate column names: {_listed(dupes)}")
    blanks = [str(i + 1) for i, h in enumerate(header) if not h.strip()]
    if blanks:
        problems.append(f"columns at positions {_listed(blanks)} have empty names")
    bad = [repr(h) for h in header if _XGB_FORBIDDEN & set(h)]
    if bad:
        problems.append(f"column names must not contain '[', ']' or '<': {_listed(bad)}")
    if problems:
        raise ValidationFailed("; ".join(problems))
    return header


def parse_csv(data: bytes) -> pd.DataFrame:
    check_header(data)
    try:
        return pd.read_csv(io.BytesIO(data), encoding="utf-8-sig")
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as e:
        raise ValidationFailed(f"the file is not a readable CSV: {e}") from None


def _first_bad(series: pd.Series, mask: pd.Series) -> str:
    idx = int(np.flatnonzero(mask.to_numpy())[0])
    return f"{series.iloc[idx]!r} on line {idx + 2}"  # +2: 1-based and the header is line 1


def validate(df: pd.DataFrame, target: str, min_rows: int) -> pd.DataFrame:
    """Return a clean frame (numeric features, int target) or raise ValidationFailed listing every problem."""
    if target not in df.columns:
        raise ValidationFailed(f"target column {target!r} is missing; columns are: {_listed(list(map(str, df.columns)))}")
    features = [c for c in df.columns if c != target]
    if not features:
        raise ValidationFailed("the file has no feature columns besides the target")
    problems: list[str] = []
    if len(df) < min_rows:
        problems.append(f"the file has {len(df)} data rows but needs at least {min_rows}")

    y = pd.to_numeric(df[target], errors="coerce")
    if y.isna().any():
        raw_missing = df[target].isna()
        if raw_missing.any():
            problems.append(f"target column {target!r} has {int(raw_missing.sum())} empty values")
        else:
            problems.append(f"target column {target!r} must be 0/1; found {_first_bad(df[target], y.isna())}")
    else:
        odd = ~y.isin([0, 1])
        if odd.any():
            values = sorted({repr(v) for v in df[target][odd].tolist()})
            problems.append(f"target column {target!r} must be binary 0/1; found values {_listed(values)}")
        elif y.nunique() < 2:
            problems.append(f"target column {target!r} contains only class {int(y.iloc[0])}; both 0 and 1 are needed")

    clean = pd.DataFrame(index=df.index)
    for col in features:
        s = df[col]
        if pd.api.types.is_bool_dtype(s):
            s = s.astype(np.int8)
        if not pd.api.types.is_numeric_dtype(s):
            as_num = pd.to_numeric(s, errors="coerce")
            non_numeric = as_num.isna() & s.notna()
            problems.append(f"column {col!r} is not numeric: {_first_bad(s, non_numeric)}")
            continue
        values = s.to_numpy(dtype=np.float64)
        n_nan, n_inf = int(np.isnan(values).sum()), int(np.isinf(values).sum())
        if n_nan:
            problems.append(f"column {col!r} has {n_nan} NaN/empty values")
        if n_inf:
            problems.append(f"column {col!r} has {n_inf} infinite values")
        clean[col] = s
    if problems:
        raise ValidationFailed("; ".join(problems))
    clean[target] = y.astype(np.int64)
    return clean


def split(df: pd.DataFrame, target: str, validation: float, test: float, seed: int) -> dict[str, pd.DataFrame]:
    """Stratified split; every part must hold both classes or its metrics are meaningless."""
    try:
        rest, test_df = train_test_split(df, test_size=test, stratify=df[target], random_state=seed)
        train_df, valid_df = train_test_split(
            rest, test_size=validation / (1.0 - test), stratify=rest[target], random_state=seed
        )
    except ValueError as e:
        raise ValidationFailed(f"cannot split stratified with these fractions: {e}") from None
    parts = {"train": train_df, "validation": valid_df, "test": test_df}
    for name, part in parts.items():
        if part[target].nunique() < 2:
            raise ValidationFailed(f"the {name} split would contain a single class; upload more rows of the minority class")
    return {name: part.reset_index(drop=True) for name, part in parts.items()}


def run(stage_input: StageInput) -> StageResult:
    p = stage_input.params
    dataset_uri = check_uri_param(p, "datasetUri")
    target = p.text("target")
    sp = p.obj("split")
    validation = sp.number("validation", low=0.0, high=1.0)
    test = sp.number("test", low=0.0, high=1.0)
    seed = sp.integer("seed", minimum=0)
    min_rows = p.integer("minRows", minimum=3, default=DEFAULT_MIN_ROWS)
    if validation + test >= 1.0:
        raise ValidationFailed(f"split.validation + split.test must be < 1; got {validation} + {test}")

    try:
        data = storage.read_bytes(dataset_uri)
    except FileNotFoundError:
        raise ValidationFailed(f"dataset {dataset_uri} does not exist") from None
    digest = hashlib.sha256(data).hexdigest()
    df = validate(parse_csv(data), target, min_rows)
    parts = split(df, target, validation, test, seed)
    print(f"[ingest] {len(df)} rows, {df.shape[1] - 1} features, sha256 {digest[:12]}", flush=True)

    artifacts: dict[str, str] = {}
    for name, part in parts.items():
        artifacts[name] = split_uri(stage_input.stage_uri, name)
        storage.write_parquet(part, artifacts[name])
    features = [c for c in df.columns if c != target]
    manifest = {
        "source": {"uri": dataset_uri, "sha256": digest, "bytes": len(data)},
        "target": target,
        "features": features,
        "schema": {c: str(df[c].dtype) for c in df.columns},
        "rows": {"total": len(df), **{name: len(part) for name, part in parts.items()}},
        "classCounts": {n: {str(k): int(v) for k, v in p[target].value_counts().sort_index().items()} for n, p in parts.items()},
        "split": {"validation": validation, "test": test, "seed": seed},
        "splits": {name: artifacts[name] for name in parts},
    }
    artifacts["manifest"] = storage.join(stage_input.stage_uri, "manifest.json")
    storage.write_json(artifacts["manifest"], manifest)
    return StageResult(
        metrics={
            "rows": len(df),
            "features": len(features),
            **{f"{name}_rows": len(part) for name, part in parts.items()},
        },
        artifacts=artifacts,
        details={"sha256": digest, "target": target, "features": features},
    )


def main() -> int:
    return run_stage("ingest", run)


if __name__ == "__main__":
    raise SystemExit(main())
