"""A deterministic stand-in for MovieLens 100k: same shape, generated from a latent-factor model (nothing is
downloaded).

`ratings_frame()` has the columns `user_id, movie_id, rating` with MovieLens 100k's shape: 943 users (ids 0..942),
1,682 movies (ids 0..1681), 100,000 ratings, every user with at least 20 ratings, every movie with at least one, no
(user, movie) pair twice, integer ratings 1..5. How it is made:

- movie popularity is Zipf-like over a random order of the movies (a few blockbusters, a long tail of movies with
  one or two ratings, as in the real data);
- how many movies a user rates is heavy-tailed (20 for many users, several hundred for a few);
- which movies a user rates is a draw without replacement weighted by popularity (Gumbel top-k);
- the rating is `mean + user bias + movie bias + <user factors, movie factors> + noise` (8 latent factors, Gaussian
  noise), rounded and clipped to 1..5; popular movies get slightly higher biases, as in the real data.

The same seed gives the same frame on any machine (numpy's Generator). `python -m sentinel_jobs.datasets.movielens
OUT.csv` writes it as the CSV a user would upload.
"""

from __future__ import annotations

import sys

import numpy as np
import numpy.typing as npt
import pandas as pd

USERS = 943
MOVIES = 1682
RATINGS = 100_000
MIN_RATINGS_PER_USER = 20
FACTORS = 8
COLUMNS = ("user_id", "movie_id", "rating")

# The generating model, chosen so the ratings resemble MovieLens 100k's (mean 3.53, sd 1.13, mostly 3s and 4s;
# seed 0 gives mean 3.53, sd 1.12). The observed mean is above _MEAN because popular movies, rated more often,
# have higher biases.
_MEAN = 3.33
_USER_BIAS_SD = 0.45
_MOVIE_BIAS_SD = 0.45
_POPULARITY_BIAS = 0.25  # movie bias added per standard deviation of log-popularity
_FACTOR_SD = 0.42  # each factor entry; <p, q> over 8 factors then has sd ~0.5
_NOISE_SD = 0.85
_ZIPF_EXPONENT = 1.2
_ZIPF_OFFSET = 20.0  # flattens the head: the median movie gets ~27 ratings, as in the real data
_ACTIVITY_SIGMA = 1.0  # log-normal spread of how many extra ratings a user gives


def ratings_frame(
    seed: int = 0,
    *,
    users: int = USERS,
    movies: int = MOVIES,
    ratings: int = RATINGS,
    min_per_user: int = MIN_RATINGS_PER_USER,
) -> pd.DataFrame:
    """The ratings as a frame (`user_id, movie_id, rating`, all int64) in a shuffled order, like MovieLens's
    `u.data`. The defaults are MovieLens 100k's shape; smaller shapes are for tests."""
    if users < 1 or movies < 1 or min_per_user < 1:
        raise ValueError("users, movies and min_per_user must be >= 1")
    if min_per_user > movies:
        raise ValueError(f"min_per_user={min_per_user} exceeds the {movies} movies")
    if not users * min_per_user <= ratings <= users * movies:
        raise ValueError(
            f"ratings={ratings} must be between users*min_per_user={users * min_per_user} and users*movies={users * movies}"
        )
    rng = np.random.default_rng(seed)

    rank = rng.permutation(movies)  # rank[m]: movie m's popularity rank (0 = most popular)
    log_popularity = -_ZIPF_EXPONENT * np.log(rank + _ZIPF_OFFSET)
    counts = _user_counts(rng, users, movies, ratings, min_per_user)

    # Gumbel top-k: each user's movies are a draw without replacement with probability proportional to popularity.
    keys = log_popularity[None, :] + rng.gumbel(size=(users, movies))
    order = np.argsort(-keys, axis=1, kind="stable")
    taken = np.arange(movies)[None, :] < counts[:, None]
    user_idx = np.repeat(np.arange(users, dtype=np.int64), counts)
    movie_idx = order[taken].astype(np.int64)  # row-major: each user's first counts[u] movies
    _cover_every_movie(rng, movie_idx, movies)

    pop_z = (log_popularity - log_popularity.mean()) / (log_popularity.std() or 1.0)
    user_bias = rng.normal(0.0, _USER_BIAS_SD, users)
    movie_bias = rng.normal(0.0, _MOVIE_BIAS_SD, movies) + _POPULARITY_BIAS * pop_z
    user_factors = rng.normal(0.0, _FACTOR_SD, (users, FACTORS))
    movie_factors = rng.normal(0.0, _FACTOR_SD, (movies, FACTORS))
    score = (
        _MEAN + user_bias[user_idx] + movie_bias[movie_idx]
        + np.einsum("ij,ij->i", user_factors[user_idx], movie_factors[movie_idx])
        + rng.normal(0.0, _NOISE_SD, len(user_idx))
    )
    rating = np.clip(np.rint(score), 1, 5).astype(np.int64)

    shuffle = rng.permutation(len(user_idx))
    return pd.DataFrame({
        "user_id": user_idx[shuffle],
        "movie_id": movie_idx[shuffle],
        "rating": rating[shuffle],
    })


def _user_counts(rng: np.random.Generator, users: int, movies: int, ratings: int, low: int) -> npt.NDArray[np.int64]:
    """Ratings per user: `low` each plus a heavy-tailed share of the rest, none above a cap (a user rates a movie at
    most once; the cap also keeps the busiest user near MovieLens's ~44% of all movies)."""
    cap = min(movies, max(low, int(0.45 * movies), -(-ratings // users)))
    weights = rng.lognormal(0.0, _ACTIVITY_SIGMA, users)
    counts = low + rng.multinomial(ratings - users * low, weights / weights.sum()).astype(np.int64)
    while (over := counts > cap).any():
        excess = int((counts[over] - cap).sum())
        counts[over] = cap
        room = counts < cap
        share = np.where(room, weights, 0.0)
        counts += rng.multinomial(excess, share / share.sum()).astype(np.int64)
    return counts


def _cover_every_movie(rng: np.random.Generator, movie_idx: npt.NDArray[np.int64], movies: int) -> None:
    """Give every movie at least one rating (when there are enough ratings): each unrated movie takes over a random
    rating of a movie rated more than once. Nobody rated the unrated movie, so no (user, movie) pair repeats."""
    if len(movie_idx) < movies:
        return
    per_movie = np.bincount(movie_idx, minlength=movies)
    missing = np.flatnonzero(per_movie == 0)
    for m in missing:
        while True:
            row = int(rng.integers(len(movie_idx)))
            if per_movie[movie_idx[row]] >= 2:
                break
        per_movie[movie_idx[row]] -= 1
        movie_idx[row] = m
        per_movie[m] = 1


def write_csv(path: str, seed: int = 0) -> str:
    """Write `ratings_frame(seed)` (MovieLens 100k's shape) as CSV with a header; returns `path`."""
    ratings_frame(seed).to_csv(path, index=False)
    return path


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) not in (1, 2) or (len(args) == 2 and not args[1].isdigit()):
        print("usage: python -m sentinel_jobs.datasets.movielens OUT.csv [SEED]", file=sys.stderr)
        return 2
    seed = int(args[1]) if len(args) == 2 else 0
    write_csv(args[0], seed)
    print(f"wrote {RATINGS} ratings of {MOVIES} movies by {USERS} users (seed {seed}) to {args[0]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
