"""The MovieLens-shaped ratings generator: MovieLens 100k's shape, deterministic, fast, and with learnable structure."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sentinel_jobs.datasets import movielens
from sentinel_jobs.datasets.movielens import ratings_frame, write_csv


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return ratings_frame(0)


def test_has_movielens_100k_shape(frame: pd.DataFrame) -> None:
    assert list(frame.columns) == ["user_id", "movie_id", "rating"]
    assert all(str(t) == "int64" for t in frame.dtypes)
    assert len(frame) == 100_000
    assert sorted(frame["user_id"].unique().tolist()) == list(range(943))
    assert sorted(frame["movie_id"].unique().tolist()) == list(range(1682))  # every movie rated at least once
    assert frame["user_id"].value_counts().min() >= 20
    assert not frame.duplicated(["user_id", "movie_id"]).any()
    assert set(frame["rating"].unique().tolist()) == {1, 2, 3, 4, 5}


def test_ratings_and_popularity_resemble_the_real_data(frame: pd.DataFrame) -> None:
    # MovieLens 100k: mean 3.53, sd 1.13, mostly 3s and 4s.
    assert 3.3 < frame["rating"].mean() < 3.8
    assert 0.9 < frame["rating"].std() < 1.3
    share = frame["rating"].value_counts(normalize=True)
    assert share[4] > share[5] and share[3] > share[2] > share[1]
    # Skewed popularity: the top 10% of movies get about a third of the ratings; the median movie a few dozen.
    per_movie = frame["movie_id"].value_counts()
    assert per_movie.head(168).sum() / len(frame) > 0.3
    assert 15 <= per_movie.median() <= 45
    assert per_movie.max() > 10 * per_movie.median()
    # Heavy-tailed activity: most users rate few movies, a few rate hundreds.
    per_user = frame["user_id"].value_counts()
    assert per_user.median() < 100 < per_user.max()


def test_deterministic_per_seed(frame: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(ratings_frame(0), frame)
    other = ratings_frame(1)
    assert len(other) == len(frame)
    assert not other.equals(frame)


def test_fast() -> None:
    start = time.perf_counter()
    ratings_frame(3)
    assert time.perf_counter() - start < 2.0


def test_latent_structure_is_learnable(frame: pd.DataFrame) -> None:
    """Per-user and per-movie offsets learned on 80% of the rows beat the global mean on the other 20%."""
    order = np.random.default_rng(0).permutation(len(frame))
    train, test = frame.iloc[order[:80_000]], frame.iloc[order[80_000:]]
    mu = train["rating"].mean()

    def offsets(keys: pd.Series, residual: pd.Series, shrink: float = 5.0) -> pd.Series:
        g = residual.groupby(keys.to_numpy())
        return g.sum() / (g.count() + shrink)

    bu = offsets(train["user_id"], train["rating"] - mu)
    bi = offsets(train["movie_id"], train["rating"] - mu - train["user_id"].map(bu))
    pred = mu + test["user_id"].map(bu).fillna(0.0) + test["movie_id"].map(bi).fillna(0.0)
    rmse_global = float(np.sqrt(((test["rating"] - mu) ** 2).mean()))
    rmse_biases = float(np.sqrt(((test["rating"] - pred) ** 2).mean()))
    assert rmse_biases < 0.9 * rmse_global


def test_smaller_shapes_keep_the_invariants() -> None:
    small = ratings_frame(5, users=200, movies=400, ratings=8000)
    assert len(small) == 8000
    assert small["user_id"].nunique() == 200 and small["user_id"].max() == 199
    assert small["movie_id"].nunique() == 400 and small["movie_id"].max() == 399
    assert small["user_id"].value_counts().min() >= 20
    assert not small.duplicated(["user_id", "movie_id"]).any()
    assert small["rating"].between(1, 5).all()
    # Dense enough that a user's count hits the cap (every movie at most once per user).
    dense = ratings_frame(0, users=10, movies=30, ratings=290, min_per_user=20)
    assert len(dense) == 290 and not dense.duplicated(["user_id", "movie_id"]).any()
    assert dense["user_id"].value_counts().max() <= 30


@pytest.mark.parametrize("shape", [
    {"users": 10, "movies": 30, "ratings": 100},  # fewer than users * min_per_user
    {"users": 10, "movies": 30, "ratings": 301},  # more than users * movies
    {"users": 10, "movies": 10, "ratings": 100, "min_per_user": 11},
    {"users": 0},
])
def test_rejects_impossible_shapes(shape: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        ratings_frame(0, **shape)


def test_write_csv_and_cli(tmp_path: Path, frame: pd.DataFrame, capsys: pytest.CaptureFixture[str]) -> None:
    out = write_csv(str(tmp_path / "ratings.csv"))
    pd.testing.assert_frame_equal(pd.read_csv(out), frame)
    assert movielens.main([str(tmp_path / "seed2.csv"), "2"]) == 0
    assert "seed 2" in capsys.readouterr().out
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "seed2.csv"), ratings_frame(2))
    assert movielens.main([]) == 2
