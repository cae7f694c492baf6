"""Write a reference dataset as the CSV a user would upload. Nothing is downloaded: breast-cancer, iris and diabetes
ship inside scikit-learn; movielens is generated deterministically with MovieLens 100k's shape.

    python -m sentinel_jobs.reference_data NAME OUT.csv      NAME: breast-cancer | iris | diabetes | movielens
    python -m sentinel_jobs.reference_data OUT.csv           (breast-cancer)
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable

import pandas as pd
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris


def snake_case(name: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", name.lower()).strip("_")


def reference_frame() -> pd.DataFrame:
    """Breast cancer: 569 rows, 30 features, `target` 1 = benign, 0 = malignant, as scikit-learn ships it."""
    bunch = load_breast_cancer()
    df = pd.DataFrame(bunch.data, columns=[snake_case(n) for n in bunch.feature_names])
    df["target"] = bunch.target.astype(int)
    return df


def iris_frame() -> pd.DataFrame:
    """Iris: 150 rows, 4 features, `species` as text labels (setosa, versicolor, virginica)."""
    bunch = load_iris()
    df = pd.DataFrame(bunch.data, columns=[snake_case(n.replace("(cm)", "cm")) for n in bunch.feature_names])
    df["species"] = [str(bunch.target_names[i]) for i in bunch.target]
    return df


def diabetes_frame() -> pd.DataFrame:
    """Diabetes: 442 rows, 10 (scaled) features, `progression` one year after baseline (a regression target)."""
    bunch = load_diabetes()
    df = pd.DataFrame(bunch.data, columns=[snake_case(n) for n in bunch.feature_names])
    df["progression"] = bunch.target.astype(float)
    return df


def movielens_frame() -> pd.DataFrame:
    from sentinel_jobs.datasets.movielens import ratings_frame

    return ratings_frame()


DATASETS: dict[str, Callable[[], pd.DataFrame]] = {
    "breast-cancer": reference_frame,
    "iris": iris_frame,
    "diabetes": diabetes_frame,
    "movielens": movielens_frame,
}


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) == 1:
        args = ["breast-cancer", *args]
    if len(args) != 2 or args[0] not in DATASETS:
        print(f"usage: python -m sentinel_jobs.reference_data [{'|'.join(DATASETS)}] OUT.csv", file=sys.stderr)
        return 2
    name, out = args
    df = DATASETS[name]()
    df.to_csv(out, index=False)
    print(f"wrote {name}: {len(df)} rows x {df.shape[1] - 1} features to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
