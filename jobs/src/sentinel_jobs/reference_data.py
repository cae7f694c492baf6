"""Write scikit-learn's bundled breast-cancer dataset as the CSV a user would upload (no download needed)."""

from __future__ import annotations

import re
import sys

import pandas as pd
from sklearn.datasets import load_breast_cancer


def snake_case(name: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", name.lower()).strip("_")


def reference_frame() -> pd.DataFrame:
    bunch = load_breast_cancer()
    df = pd.DataFrame(bunch.data, columns=[snake_case(n) for n in bunch.feature_names])
    df["target"] = bunch.target.astype(int)  # 1 = benign, 0 = malignant, as sklearn ships it
    return df


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m sentinel_jobs.reference_data OUT.csv", file=sys.stderr)
        return 2
    df = reference_frame()
    df.to_csv(args[0], index=False)
    print(f"wrote {len(df)} rows x {df.shape[1] - 1} features to {args[0]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
