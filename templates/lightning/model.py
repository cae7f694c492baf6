"""{{name}}'s model: a small PyTorch Lightning MLP through sentinel_sdk. Sentinel trains it with Ray Train's
TorchTrainer (DDP over numWorkers), one epoch per iteration, tunes it with Ray Tune + ASHA, checkpoints and resumes
it (weights and optimizer state), and serves it.

The module takes float32 features and returns values (regression) or logits (classification).
"""

from __future__ import annotations

from typing import Any

import pytorch_lightning as pl
import torch
from pydantic import BaseModel, Field
from torch import nn

from sentinel_sdk.data import DataInfo
from sentinel_sdk.lightning import LightningModel
from sentinel_sdk.model import Params as BaseParams


class Params(BaseParams):
    hidden: int = Field(32, ge=1, le=4096)
    lr: float = Field(0.01, gt=0, le=1)
    batch_size: int = Field(32, ge=1, le=65536)


class Net(pl.LightningModule):
    def __init__(self, n_features: int, hidden: int, lr: float, outputs: int) -> None:
        super().__init__()
        self.lr = lr
        self.net = nn.Sequential(nn.Linear(n_features, hidden), nn.ReLU(), nn.Linear(hidden, outputs))
        self.norm = nn.LayerNorm(n_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.net(self.norm(x))
        return out.squeeze(-1) if out.shape[-1] == 1 else out

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x, y = batch
        out = self(x)
        loss = nn.functional.mse_loss(out, y) if y.dtype.is_floating_point else nn.functional.cross_entropy(out, y)
        return loss

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.parameters(), lr=self.lr)


class Model(LightningModel):
    Params = Params

    def create(self, params: BaseModel, info: DataInfo) -> pl.LightningModule:
        p = Params.model_validate(params.model_dump())
        outputs = info.n_classes if info.task == "multiclass" and info.n_classes else 1
        return Net(len(info.features), p.hidden, p.lr, outputs)
