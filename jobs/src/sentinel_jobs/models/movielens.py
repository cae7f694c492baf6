"""The reference recommender: matrix factorisation of (user, movie) ratings in PyTorch Lightning,
`model: {module: sentinel_jobs.models.movielens}` on data with the columns `user_id, movie_id` and the regression
target `rating` (e.g. `sentinel_jobs.datasets.movielens`).

predicted rating = global bias + user bias + movie bias + <user embedding, movie embedding>, trained with MSE and
Adam. Ids are 0-based integers; how many users and movies there are comes from the training data (largest id + 1)
unless `num_users` / `num_items` are given. Predicting for an id outside that range falls back to the biases that
are known (it never fails evaluation); serving rejects such ids with HTTP 400.

Serving answers `POST {"user_id": 42, "movie_ids": [100, 200, 300]}` with
`{"user_id": 42, "ratings": [{"movie_id": 100, "rating": 3.91}, ...]}` (ratings clipped to 1..5).
"""

from __future__ import annotations

from typing import Annotated, Any, cast

import numpy as np
import pandas as pd
import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from sentinel_sdk.data import Data, DataInfo
from sentinel_sdk.lightning import LightningModel, reduce_across_ranks
from sentinel_sdk.model import ModelCard, Params

USER_COLUMN = "user_id"
ITEM_COLUMN = "movie_id"
RATING_MIN, RATING_MAX = 1.0, 5.0
MAX_MOVIES_PER_REQUEST = 1000


class MovieLensParams(Params):
    embedding_dim: int = Field(32, ge=4, le=256)
    lr: float = Field(0.01, gt=0, le=1)
    batch_size: int = Field(1024, ge=32, le=65536)
    weight_decay: float = Field(1e-5, ge=0)
    #: None: the largest user_id / movie_id in the training split + 1.
    num_users: int | None = Field(None, ge=1)
    num_items: int | None = Field(None, ge=1)
    #: The global bias's starting value; None: the training split's mean rating.
    global_mean: float | None = None


class RecommendRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user_id: int = Field(ge=0, strict=True)
    movie_ids: list[Annotated[int, Field(ge=0, strict=True)]] = Field(min_length=1, max_length=MAX_MOVIES_PER_REQUEST)


class MatrixFactorization(pl.LightningModule):
    """forward((n, 2) int64 [user_id, movie_id]) -> (n,) predicted ratings."""

    def __init__(self, num_users: int, num_items: int, embedding_dim: int, lr: float, weight_decay: float,
                 global_mean: float) -> None:
        super().__init__()
        self.num_users, self.num_items = num_users, num_items
        self.lr, self.weight_decay = lr, weight_decay
        self.user_factors = nn.Embedding(num_users, embedding_dim)
        self.item_factors = nn.Embedding(num_items, embedding_dim)
        self.user_bias = nn.Embedding(num_users, 1)
        self.item_bias = nn.Embedding(num_items, 1)
        self.global_bias = nn.Parameter(torch.tensor(float(global_mean)))
        nn.init.normal_(self.user_factors.weight, std=0.1)
        nn.init.normal_(self.item_factors.weight, std=0.1)
        nn.init.zeros_(self.user_bias.weight)
        nn.init.zeros_(self.item_bias.weight)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        users, items = ids[:, 0].long(), ids[:, 1].long()
        # An unknown id contributes nothing (its embedding and bias count as zero) instead of an index error.
        known_u = ((users >= 0) & (users < self.num_users)).unsqueeze(1)
        known_i = ((items >= 0) & (items < self.num_items)).unsqueeze(1)
        u = torch.where(known_u.squeeze(1), users, torch.zeros_like(users))
        i = torch.where(known_i.squeeze(1), items, torch.zeros_like(items))
        pu = self.user_factors(u) * known_u
        qi = self.item_factors(i) * known_i
        bu = (self.user_bias(u) * known_u).squeeze(1)
        bi = (self.item_bias(i) * known_i).squeeze(1)
        rating: torch.Tensor = self.global_bias + bu + bi + (pu * qi).sum(dim=1)
        return rating

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        ids, rating = batch
        loss = F.mse_loss(self(ids), rating)
        self.log("train_loss", loss, on_step=False, on_epoch=True, batch_size=len(rating))
        return loss

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.parameters(), lr=self.lr, weight_decay=self.weight_decay)


class Model(LightningModel):
    tasks = ("regression",)
    Params = MovieLensParams
    Request = RecommendRequest

    def prepare(self, params: BaseModel, data: Data) -> BaseModel:
        p = cast(MovieLensParams, params)
        X, y = data.train.X, data.train.y
        _check_columns(X)
        users, items = _ids(X, USER_COLUMN), _ids(X, ITEM_COLUMN)
        for column, ids in ((USER_COLUMN, users), (ITEM_COLUMN, items)):
            if len(ids) and int(ids.min()) < 0:
                raise ValueError(f"the training data has a negative {column} ({int(ids.min())}); ids must be >= 0")
        # Every rank has its own shard: agree on the sizes (DDP needs identical shapes) and on the mean.
        seen_users = int(reduce_across_ranks(int(users.max()) + 1 if len(users) else 0, "max"))
        seen_items = int(reduce_across_ranks(int(items.max()) + 1 if len(items) else 0, "max"))
        for name, given, seen, column in (("num_users", p.num_users, seen_users, USER_COLUMN),
                                          ("num_items", p.num_items, seen_items, ITEM_COLUMN)):
            if given is not None and seen > given:
                raise ValueError(f"model.params.{name}={given}, but the training data has {column} {seen - 1}")
        mean = p.global_mean
        if mean is None:
            total = reduce_across_ranks(float(np.sum(y)), "sum")
            count = reduce_across_ranks(float(len(y)), "sum")
            mean = total / count if count else (RATING_MIN + RATING_MAX) / 2
        return p.model_copy(update={
            "num_users": p.num_users or max(1, seen_users),
            "num_items": p.num_items or max(1, seen_items),
            "global_mean": float(mean),
        })

    def create(self, params: BaseModel, info: DataInfo) -> pl.LightningModule:
        p = cast(MovieLensParams, params)
        if p.num_users is None or p.num_items is None or p.global_mean is None:
            raise ValueError("MovieLens params must be prepared (num_users, num_items, global_mean) before create")
        return MatrixFactorization(p.num_users, p.num_items, p.embedding_dim, p.lr, p.weight_decay, p.global_mean)

    def features_tensor(self, X: pd.DataFrame) -> torch.Tensor:
        _check_columns(X)
        return torch.as_tensor(np.stack([_ids(X, USER_COLUMN), _ids(X, ITEM_COLUMN)], axis=1))

    def respond(self, model: pl.LightningModule, request: BaseModel, card: ModelCard) -> dict[str, Any]:
        req = cast(RecommendRequest, request)
        mf = cast(MatrixFactorization, model)
        if req.user_id >= mf.num_users:
            raise ValueError(f"user_id: {req.user_id} is not a known user id (0..{mf.num_users - 1})")
        for k, movie in enumerate(req.movie_ids):
            if movie >= mf.num_items:
                raise ValueError(f"movie_ids[{k}]: {movie} is not a known movie id (0..{mf.num_items - 1})")
        X = pd.DataFrame({USER_COLUMN: [req.user_id] * len(req.movie_ids), ITEM_COLUMN: req.movie_ids})
        rating = np.clip(self.predict(model, X), RATING_MIN, RATING_MAX)
        return {
            "user_id": req.user_id,
            "ratings": [{"movie_id": m, "rating": round(float(r), 4)} for m, r in zip(req.movie_ids, rating, strict=True)],
        }

    def example(self, card: ModelCard) -> dict[str, Any] | None:
        return {"user_id": 42, "movie_ids": [100, 200, 300]}


def _check_columns(X: pd.DataFrame) -> None:
    missing = [c for c in (USER_COLUMN, ITEM_COLUMN) if c not in X.columns]
    if missing:
        raise ValueError(f"the movielens model needs the columns {USER_COLUMN!r} and {ITEM_COLUMN!r}; "
                         f"the data lacks {', '.join(map(repr, missing))} (it has {', '.join(map(str, X.columns))})")


def _ids(X: pd.DataFrame, column: str) -> np.ndarray[Any, np.dtype[np.int64]]:
    return X[column].to_numpy(dtype=np.int64)


def app(args: dict[str, Any]) -> Any:
    """The Ray Serve application builder for `serve.app: sentinel_jobs.models.movielens:app` (the default
    `sentinel_sdk.serving:app` serves this model just as well, through its card). Ray Serve is imported only here,
    so training workers that import this module do not pay for it."""
    from sentinel_sdk.serving import build_app

    return build_app()(args)
