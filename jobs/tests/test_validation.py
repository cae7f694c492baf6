"""Ingest validation: every bad upload fails with a message naming the column and the problem."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from helpers import last_stderr_line, read_result, run_module, stage_input
from sentinel_jobs.ingest import parse_csv, split, validate
from sentinel_sdk.contract import MAX_ECHO, ValidationFailed


def _csv(rows: int = 40, **overrides: Sequence[str | float]) -> bytes:
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"a": rng.normal(size=rows), "b": rng.integers(0, 9, size=rows), "target": [0, 1] * (rows // 2)})
    for col, values in overrides.items():
        df[col] = values
    text: str = df.to_csv(index=False)
    return text.encode()


def _check(data: bytes, target: str = "target", min_rows: int = 30) -> pd.DataFrame:
    return validate(parse_csv(data), target, min_rows, "binary")[0]


def test_valid_file_passes() -> None:
    df = _check(_csv())
    assert list(df.columns) == ["a", "b", "target"]
    assert df["target"].dtype == np.int64


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (_csv().replace(b"target", b"label"), "target column 'target' is missing; columns are: a, b, label"),
        (_csv(a=["x"] + [1.0] * 39), "column 'a' is not numeric: 'x' on line 2"),
        (_csv(a=[np.nan, np.nan, np.nan] + [1.0] * 37), "column 'a' has 3 NaN/empty values"),
        (_csv(b=[np.inf] + [1.0] * 39), "column 'b' has 1 infinite values"),
        (_csv(target=[0, 1, 2, 3] * 10), "target column 'target' must be binary 0/1 for task binary; found values 2, 3"),
        (_csv(target=["yes", "no", "maybe", "no"] * 10), "target column 'target' has 3 classes ('maybe', 'no', 'yes'); task binary needs exactly 2"),
        (_csv(target=[1] * 40), "target column 'target' contains only class 1"),
        (_csv(target=[np.nan] + [0, 1] * 19 + [1]), "target column 'target' has 1 empty values"),
        (_csv(rows=10), "the file has 10 data rows but needs at least 30"),
        (b"a,a,target\n1,2,0\n", "duplicate column names: 'a' (2x)"),
        (b"a,,target\n1,2,0\n", "columns at positions 2 have empty names"),
        (b"a[0],target\n1,0\n", "must not contain '[', ']' or '<'"),
        (b"", "the file is empty"),
        (b"target\n0\n1\n", "no feature columns"),
    ],
)
def test_bad_files_fail_clearly(data: bytes, message: str) -> None:
    with pytest.raises(ValidationFailed) as err:
        _check(data)
    assert message in str(err.value)


def test_all_problems_are_reported_at_once() -> None:
    with pytest.raises(ValidationFailed) as err:
        _check(_csv(rows=10, a=["x"] * 10, b=[np.nan] * 10))
    assert str(err.value).count(";") == 2  # rows, a, b


def test_split_is_stratified_and_reproducible() -> None:
    df = _check(_csv(rows=200))
    parts = split(df, "target", validation=0.2, test=0.25, seed=3)
    assert {k: len(v) for k, v in parts.items()} == {"train": 110, "validation": 40, "test": 50}
    assert all(v["target"].mean() == pytest.approx(0.5) for v in parts.values())
    again = split(df, "target", validation=0.2, test=0.25, seed=3)
    assert all(parts[k].equals(again[k]) for k in parts)
    assert not split(df, "target", 0.2, 0.25, seed=4)["test"].equals(parts["test"])


def test_ingest_module_exits_nonzero_with_validation_failed(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_bytes(_csv(a=[np.nan, np.nan, np.nan] + [1.0] * 37))
    payload = stage_input(tmp_path, "ingest", {"datasetUri": str(bad), "target": "target", "task": "binary",
                                                "split": {"validation": 0.2, "test": 0.2, "seed": 1}})
    proc = run_module("ingest", payload)
    assert proc.returncode != 0
    assert last_stderr_line(proc) == "ValidationFailed: column 'a' has 3 NaN/empty values"
    assert not (Path(payload["stageUri"]) / "result.json").exists()


def test_a_file_that_is_not_a_csv_is_echoed_at_most_max_echo_characters(tmp_path: Path) -> None:
    """The file's first line is the user's (or someone else's) text: the error shows at most MAX_ECHO characters of it."""
    first = "root:x:0:0:root:/root:/bin/bash" + "A" * 100_000  # under csv's 128 KiB field limit
    for data in [f"{first}\nbin:x:1:1\n".encode(), first.encode() + b"," + first.encode() + b"\n1,2\n",
                 b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4000, b"B" * 1_000_000 + b"\n"]:
        with pytest.raises(ValidationFailed) as err:
            _check(data)
        assert "A" * (MAX_ECHO + 1) not in str(err.value) and len(str(err.value)) < 6 * (MAX_ECHO + 40), str(err.value)[:300]
    bad = tmp_path / "passwd.csv"
    bad.write_text(f"{first}\ndaemon:x:1:1\n")
    payload = stage_input(tmp_path, "ingest", {"datasetUri": str(bad), "target": "target", "task": "binary",
                                                "split": {"validation": 0.2, "test": 0.2, "seed": 1}})
    proc = run_module("ingest", payload)
    line = last_stderr_line(proc)
    assert proc.returncode != 0 and line.startswith("ValidationFailed: target column 'target' is missing"), line[:300]
    assert f"({len(first)} characters)" in line and len(line) < 2 * MAX_ECHO + 120, line[:300]


def test_ingest_module_writes_splits_and_manifest(ingested: dict[str, Any], reference_csv: Path) -> None:
    result = read_result(ingested)
    assert result["stage"] == "ingest"
    m = result["metrics"]
    assert m["rows"] == 569 and m["features"] == 30
    assert m["train_rows"] + m["validation_rows"] + m["test_rows"] == 569
    manifest = json.loads(Path(result["artifacts"]["manifest"]).read_text())
    assert manifest["source"]["sha256"] == hashlib.sha256(reference_csv.read_bytes()).hexdigest()
    assert manifest["rows"]["test"] == m["test_rows"]
    for name in ("train", "validation", "test"):
        part = pd.read_parquet(result["artifacts"][name])
        assert len(part) == m[f"{name}_rows"]
        assert set(part["target"].unique()) == {0, 1}


def _frame_csv(df: pd.DataFrame) -> bytes:
    text: str = df.to_csv(index=False)
    return text.encode()


def test_multiclass_labels_are_encoded_in_sorted_order() -> None:
    rng = np.random.default_rng(1)
    labels = ["setosa", "virginica", "versicolor"] * 20
    df = pd.DataFrame({"a": rng.normal(size=60), "species": labels})
    clean, classes = validate(parse_csv(_frame_csv(df)), "species", 30, "multiclass")
    assert classes == ["setosa", "versicolor", "virginica"]
    assert clean["species"].tolist()[:3] == [0, 2, 1]
    parts = split(clean, "species", 0.2, 0.2, seed=3, task="multiclass")
    assert all(set(p["species"]) == {0, 1, 2} for p in parts.values())  # every split holds every class


def test_binary_rejects_three_classes_and_names_the_fix() -> None:
    df = pd.DataFrame({"a": range(60), "target": [0, 1, 2] * 20})
    with pytest.raises(ValidationFailed, match=r"must be binary 0/1 for task binary; found values 2 \(for more classes use task: multiclass\)"):
        validate(parse_csv(_frame_csv(df)), "target", 30, "binary")


def test_regression_target_must_be_numeric_and_vary() -> None:
    df = pd.DataFrame({"a": range(40), "y": [1.5] * 39 + ["high"]})
    with pytest.raises(ValidationFailed, match=r"target column 'y' must be a finite number for task regression; found 'high' on line 41"):
        validate(parse_csv(_frame_csv(df)), "y", 30, "regression")
    with pytest.raises(ValidationFailed, match="is constant"):
        validate(parse_csv(_frame_csv(pd.DataFrame({"a": range(40), "y": [2.0] * 40}))), "y", 30, "regression")
    clean, classes = validate(parse_csv(_frame_csv(pd.DataFrame({"a": range(40), "y": np.linspace(0, 1, 40)}))), "y", 30, "regression")
    assert classes is None and clean["y"].dtype == np.float64
    parts = split(clean, "y", 0.2, 0.2, seed=1, task="regression")
    assert sum(len(p) for p in parts.values()) == 40


def test_rare_class_is_named_before_splitting() -> None:
    df = pd.DataFrame({"a": range(42), "c": ["x"] * 20 + ["y"] * 20 + ["z"] * 2})
    clean, _ = validate(parse_csv(_frame_csv(df)), "c", 30, "multiclass")
    with pytest.raises(ValidationFailed, match="fewer than 3 rows"):
        split(clean, "c", 0.2, 0.2, seed=1, task="multiclass")
