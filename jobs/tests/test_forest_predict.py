"""The forest fast path in sentinel_sdk.sklearn gives scikit-learn's own numbers, and steps aside when it cannot."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_diabetes, load_iris
from sklearn.ensemble import (
    ExtraTreesClassifier,
    ExtraTreesRegressor,
    GradientBoostingClassifier,
    RandomForestClassifier,
    RandomForestRegressor,
)

from sentinel_sdk.sklearn import forest_predict


def _frame(X: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])


@pytest.mark.parametrize("cls", [RandomForestClassifier, ExtraTreesClassifier])
def test_classifiers_match_predict_proba(cls: type) -> None:
    X, y = load_iris(return_X_y=True)
    frame = _frame(X)
    model = cls(n_estimators=40, max_depth=4, random_state=0, n_jobs=1).fit(frame, y)
    fast = forest_predict(model, frame)
    assert fast is not None
    np.testing.assert_allclose(fast, model.predict_proba(frame), rtol=0, atol=1e-12)
    assert fast.shape == (len(X), 3)


def test_binary_classifier_with_text_labels_keeps_the_class_order() -> None:
    X, y = load_iris(return_X_y=True)
    keep = y < 2
    labels = np.where(y[keep] == 0, "setosa", "versicolor")
    frame = _frame(X[keep])
    model = RandomForestClassifier(n_estimators=25, random_state=1, n_jobs=1).fit(frame, labels)
    fast = forest_predict(model, frame)
    assert fast is not None
    np.testing.assert_allclose(fast, model.predict_proba(frame), rtol=0, atol=1e-12)


@pytest.mark.parametrize("cls", [RandomForestRegressor, ExtraTreesRegressor])
def test_regressors_match_predict(cls: type) -> None:
    X, y = load_diabetes(return_X_y=True)
    frame = _frame(X)
    model = cls(n_estimators=30, max_depth=6, random_state=0, n_jobs=1).fit(frame, y)
    fast = forest_predict(model, frame.iloc[:7])
    assert fast is not None
    np.testing.assert_allclose(fast, model.predict(frame.iloc[:7]), rtol=1e-12)
    assert fast.shape == (7,)


def test_steps_aside_for_other_models_reordered_columns_and_unfitted_forests() -> None:
    X, y = load_iris(return_X_y=True)
    frame = _frame(X)
    boosted = GradientBoostingClassifier(n_estimators=5).fit(frame, y)
    assert forest_predict(boosted, frame) is None
    forest = RandomForestClassifier(n_estimators=5, random_state=0).fit(frame, y)
    assert forest_predict(forest, frame[list(reversed(frame.columns))]) is None
    assert forest_predict(RandomForestClassifier(), frame) is None
    multi = RandomForestRegressor(n_estimators=5).fit(frame, np.stack([y, y], axis=1))
    assert forest_predict(multi, frame) is None
