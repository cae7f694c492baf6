"""A fast test of {{name}}'s model without Ray: fit a few epochs, check it learns, save and load it."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, os.path.dirname(__file__))

from {{module}} import Model  # noqa: E402
from sentinel_sdk.model import load_model_folder  # noqa: E402
from sentinel_sdk.testing import fit_locally, save_locally  # noqa: E402

DATA = Path(__file__).with_name("data.csv")


def test_learns_and_round_trips(tmp_path: Path) -> None:
    frame = pd.read_csv(DATA)
    fit = fit_locally(Model(), frame, target="progression", task="regression", metric="rmse",
                      params={"hidden": 16, "lr": 0.05, "batch_size": 32}, iterations=8)
    baseline = float(np.sqrt(np.mean((fit.data.validation.y - fit.data.train.y.mean()) ** 2)))
    assert fit.last["validation_rmse"] < baseline  # better than predicting the mean
    folder = save_locally(Model(), fit, str(tmp_path / "model"), "{{module}}", {"hidden": 16, "lr": 0.05, "batch_size": 32})
    model_def, model, _card = load_model_folder(folder)
    X = fit.data.validation.X
    assert np.allclose(model_def.predict(model, X), Model().predict(fit.model, X), atol=1e-5)
