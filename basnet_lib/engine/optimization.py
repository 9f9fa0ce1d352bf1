"""The optimiser and its learning-rate schedule (docs/method.md §4.1): SGD with momentum or AdamW, linear
warm-up, then poly decay."""

from __future__ import annotations

import torch
from torch import nn

from basnet_lib.engine.config import TrainConfig


def build_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """SGD with momentum (the paper's, docs/method.md §4.1) or AdamW (``config.optimizer``)."""
    if config.optimizer == "adamw":
        return torch.optim.AdamW(
            model.parameters(),
            lr=config.learning_rate,
            betas=(config.momentum, 0.999),
            weight_decay=config.weight_decay,
        )
    return torch.optim.SGD(
        model.parameters(), lr=config.learning_rate, momentum=config.momentum, weight_decay=config.weight_decay
    )


def learning_rate_factor(iteration: int, config: TrainConfig) -> float:
    """Factor of the base learning rate at step ``iteration`` (0-based): linear warm-up over
    ``warmup_iterations`` steps, then poly decay ``(1 - t/T)^power`` over the remaining ones."""
    warmup = config.warmup_iterations
    if iteration < warmup:
        return (iteration + 1) / warmup
    remaining = config.iterations - warmup
    return max(0.0, 1.0 - (iteration - warmup) / remaining) ** config.poly_power


def build_scheduler(optimizer: torch.optim.Optimizer, config: TrainConfig) -> torch.optim.lr_scheduler.LambdaLR:
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: learning_rate_factor(step, config))
