"""Ingest: validate the uploaded CSV for the task, split it (stratified for classification) into
train/validation/test Parquet, write a manifest."""

from __future__ import annotations

import csv
import hashlib
import io
from collections import Counter
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from sentinel_sdk import storage, tracking
from sentinel_sdk.contract import (
    StageInput,
    StageResult,
    ValidationFailed,
    capped,
    check_uri_param,
    echo,
    split_uri,
)
from sentinel_sdk.stage_main import run_stage

MAX_CLASSES = 1000
_XGB_FORBIDDEN = set("[]<")  # XGBoost rejects feature names containing these
_MAX_LISTED = 5


def _listed(items: list[str]) -> str:
    """The first few items, each capped (a column name, a cell: the file's own text, of any length)."""
    shown = ", ".join(capped(item) for item in items[:_MAX_LISTED])
    return shown + (f" and {len(items) - _MAX_LISTED} more" if len(items) > _MAX_LISTED else "")


def check_header(data: bytes) -> list[str]:
    """Header checks run on the raw line because pandas silently renames duplicates to 'x.1'."""
    text = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8-sig", errors="replace", newline="")
    try:
        header = next(csv.reader(text), None)  # decodes lazily: only the header is read
    except csv.Error as e:  # e.g. a first "field" over csv's 128 KiB limit: not a CSV header
        raise ValidationFailed(f"the header row is not readable CSV: {capped(str(e))}") from None
    if not header or all(not h.strip() for h in header):
        raise ValidationFailed("the file is empty or has no header row")
    problems: list[str] = []
    dupes = [f"{echo(name)} ({n}x)" for name, n in Counter(header).items() if n > 1]
    if dupes:
        problems.append(f"duplicate column names: {_listed(dupes)}")
    blanks = [str(i + 1) for i, h in enumerate(header) if not h.strip()]
    if blanks:
        problems.append(f"columns at positions {_listed(blanks)} have empty names")
    bad = [echo(h) for h in header if _XGB_FORBIDDEN & set(h)]
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
        raise ValidationFailed(f"the file is not a readable CSV: {capped(str(e))}") from None


def _first_bad(series: pd.Series, mask: pd.Series) -> str:
    idx = int(np.flatnonzero(mask.to_numpy())[0])
    return f"{echo(series.iloc[idx])} on line {idx + 2}"  # +2: 1-based and the header is line 1


def _label(value: Any) -> Any:
    """A class label as JSON keeps it: integral numbers as int, other numbers as float, everything else as text."""
    if isinstance(value, (bool, np.bool_)):
        return int(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return int(value) if float(value).is_integer() else float(value)
    return str(value)


def check_target(raw: pd.Series, target: str, task: str) -> tuple[pd.Series, list[Any] | None, list[str]]:
    """The target encoded for the task (class codes 0..k-1 in the order of `classes`, or float values), the
    original class labels, and every problem found, each naming the column and the first offending line."""
    problems: list[str] = []
    empty = raw.isna()
    if empty.any():
        problems.append(f"target column {echo(target)} has {int(empty.sum())} empty values (first on line {int(np.flatnonzero(empty.to_numpy())[0]) + 2})")
        return raw, None, problems
    if task == "regression":
        y = pd.to_numeric(raw, errors="coerce")
        bad = y.isna() | ~np.isfinite(y.fillna(0.0).to_numpy(dtype=np.float64))
        if bad.any():
            problems.append(f"target column {echo(target)} must be a finite number for task regression; found {_first_bad(raw, bad)}")
        elif y.nunique() < 2:
            problems.append(f"target column {echo(target)} is constant ({echo(y.iloc[0])}); a regression target must vary")
        return y.astype(np.float64), None, problems
    numeric = pd.to_numeric(raw, errors="coerce")
    labels = raw if numeric.isna().any() else numeric
    if labels is numeric and not np.all(np.isfinite(numeric.to_numpy(dtype=np.float64))):
        problems.append(f"target column {echo(target)} has infinite values")
        return raw, None, problems
    classes = sorted({_label(v) for v in labels.tolist()}, key=lambda v: (isinstance(v, str), v))
    if task == "binary":
        if labels is numeric and not set(classes) <= {0, 1}:
            problems.append(f"target column {echo(target)} must be binary 0/1 for task binary; found values {_listed([echo(c) for c in classes if c not in (0, 1)])} (for more classes use task: multiclass)")
        elif len(classes) > 2:
            problems.append(f"target column {echo(target)} has {len(classes)} classes ({_listed([echo(c) for c in classes])}); task binary needs exactly 2 (use task: multiclass)")
        elif len(classes) < 2:
            problems.append(f"target column {echo(target)} contains only class {echo(classes[0])}; both classes are needed")
        if labels is numeric:
            classes = [0, 1]
    elif len(classes) < 2:
        problems.append(f"target column {echo(target)} contains only class {echo(classes[0])}; at least 2 classes are needed")
    elif len(classes) > MAX_CLASSES:
        problems.append(f"target column {echo(target)} has {len(classes)} distinct values; task multiclass allows at most {MAX_CLASSES} (is it a regression target?)")
    if problems:
        return raw, None, problems
    codes = {c: i for i, c in enumerate(classes)}
    return labels.map(lambda v: codes[_label(v)]).astype(np.int64), classes, problems


def validate(df: pd.DataFrame, target: str, min_rows: int, task: str = "binary") -> tuple[pd.DataFrame, list[Any] | None]:
    """Return a clean frame (numeric features, encoded target) and the class labels, or raise ValidationFailed
    listing every problem."""
    if target not in df.columns:
        raise ValidationFailed(f"target column {echo(target)} is missing; columns are: {_listed(list(map(str, df.columns)))}")
    features = [c for c in df.columns if c != target]
    if not features:
        raise ValidationFailed("the file has no feature columns besides the target")
    problems: list[str] = []
    if len(df) < min_rows:
        problems.append(f"the file has {len(df)} data rows but needs at least {min_rows}")

    y, classes, target_problems = check_target(df[target], target, task)
    problems.extend(target_problems)

    clean = pd.DataFrame(index=df.index)
    for col in features:
        s = df[col]
        if pd.api.types.is_bool_dtype(s):
            s = s.astype(np.int8)
        if not pd.api.types.is_numeric_dtype(s):
            as_num = pd.to_numeric(s, errors="coerce")
            non_numeric = as_num.isna() & s.notna()
            problems.append(f"column {echo(col)} is not numeric: {_first_bad(s, non_numeric)}")
            continue
        values = s.to_numpy(dtype=np.float64)
        n_nan, n_inf = int(np.isnan(values).sum()), int(np.isinf(values).sum())
        if n_nan:
            problems.append(f"column {echo(col)} has {n_nan} NaN/empty values")
        if n_inf:
            problems.append(f"column {echo(col)} has {n_inf} infinite values")
        clean[col] = s
    if problems:
        raise ValidationFailed("; ".join(problems))
    clean[target] = y
    return clean, classes


def split(df: pd.DataFrame, target: str, validation: float, test: float, seed: int, task: str = "binary") -> dict[str, pd.DataFrame]:
    """Classification: stratified, and every part must hold every class or its metrics are meaningless.
    Regression: a seeded random split."""
    classify = task != "regression"
    if classify:
        counts = df[target].value_counts()
        rare = counts[counts < 3]
        if len(rare):
            raise ValidationFailed(f"class(es) with codes {_listed([str(c) for c in rare.index.tolist()])} have fewer than 3 rows; a stratified train/validation/test split needs at least 3 per class")
    try:
        rest, test_df = train_test_split(df, test_size=test, stratify=df[target] if classify else None, random_state=seed)
        train_df, valid_df = train_test_split(
            rest, test_size=validation / (1.0 - test), stratify=rest[target] if classify else None, random_state=seed
        )
    except ValueError as e:
        raise ValidationFailed(f"cannot split {'stratified ' if classify else ''}with these fractions: {e}") from None
    parts = {"train": train_df, "validation": valid_df, "test": test_df}
    n_classes = df[target].nunique()
    for name, part in parts.items():
        if classify and part[target].nunique() < n_classes:
            raise ValidationFailed(f"the {name} split would miss a class; upload more rows of the rarest classes")
    return {name: part.reset_index(drop=True) for name, part in parts.items()}


def run(stage_input: StageInput) -> StageResult:
    p = stage_input.params
    dataset_uri = check_uri_param(p, "datasetUri")
    target = p.text("target")
    task = p.text("task")
    sp = p.obj("split")
    validation = sp.number("validation", low=0.0, high=1.0)
    test = sp.number("test", low=0.0, high=1.0)
    seed = sp.integer("seed", minimum=0)
    min_rows = p.integer("minRows", minimum=3)
    if validation + test >= 1.0:
        raise ValidationFailed(f"split.validation + split.test must be < 1; got {validation} + {test}")

    try:
        data = storage.read_bytes(dataset_uri)
    except FileNotFoundError:
        raise ValidationFailed(f"dataset {capped(dataset_uri)} does not exist") from None
    digest = hashlib.sha256(data).hexdigest()
    df, classes = validate(parse_csv(data), target, min_rows, task)
    parts = split(df, target, validation, test, seed, task)
    kinds = f", {len(classes)} classes" if classes is not None else ""
    print(f"[ingest] {task}: {len(df)} rows, {df.shape[1] - 1} features{kinds}, sha256 {digest[:12]}", flush=True)

    artifacts: dict[str, str] = {}
    for name, part in parts.items():
        artifacts[name] = split_uri(stage_input.stage_uri, name)
        storage.write_parquet(part, artifacts[name])
    features = [c for c in df.columns if c != target]
    manifest = {
        "source": {"uri": dataset_uri, "sha256": digest, "bytes": len(data)},
        "target": target,
        "task": task,
        "classes": classes,
        "features": features,
        "schema": {c: str(df[c].dtype) for c in df.columns},
        "rows": {"total": len(df), **{name: len(part) for name, part in parts.items()}},
        "classCounts": (
            {n: {str(k): int(v) for k, v in p[target].value_counts().sort_index().items()} for n, p in parts.items()}
            if classes is not None else None
        ),
        "split": {"validation": validation, "test": test, "seed": seed},
        "splits": {name: artifacts[name] for name in parts},
    }
    artifacts["manifest"] = storage.join(stage_input.stage_uri, "manifest.json")
    storage.write_json(artifacts["manifest"], manifest)
    tracker = tracking.current()
    tracker.tag_pipeline({"sentinel.dataset.sha256": digest, "sentinel.dataset.rows": len(df)})
    tracker.log_dataset(uri=dataset_uri, sha256=digest, rows=len(df), features=features, target=target, task=task)
    return StageResult(
        metrics={
            "rows": len(df),
            "features": len(features),
            **{f"{name}_rows": len(part) for name, part in parts.items()},
            **({"classes": len(classes)} if classes is not None else {}),
        },
        artifacts=artifacts,
        details={"sha256": digest, "target": target, "task": task, "features": features, "classes": classes},
    )


def main() -> int:
    return run_stage("ingest", run)


if __name__ == "__main__":
    raise SystemExit(main())
