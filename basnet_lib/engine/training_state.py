"""What the training steps change and a checkpoint saves (docs/method.md §4.2): the model, its
optimiser, learning-rate schedule and gradient scaler, the random state, and the steps taken."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from basnet_lib.distributed import DistributedContext, unwrap_model, wrap_model
from basnet_lib.engine.checkpoint import capture_rng_state, restore_rng_state
from basnet_lib.engine.config import RunConfig
from basnet_lib.engine.optimization import build_optimizer, build_scheduler
from basnet_lib.engine.runtime import autocast_dtype
from basnet_lib.engine.sampling import TrainingBatch
from basnet_lib.loss import LossConfig, joint_loss
from basnet_lib.model import build_basnet
from basnet_lib.speed import prepare_for_training


@dataclass
class TrainingState:
    """The model (wrapped for DDP under torchrun) and its optimisation state after ``iteration``
    steps; ``memory_format`` is the layout its inputs are given in."""

    model: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LambdaLR
    scaler: torch.amp.GradScaler
    memory_format: torch.memory_format
    iteration: int = 0

    @classmethod
    def create(cls, run: RunConfig, context: DistributedContext, *, checkpoint: dict | None) -> TrainingState:
        """A fresh model and optimiser from the run's seed, or (``checkpoint``) the state it stopped
        in, random state included, so that a resumed run continues exactly."""
        torch.manual_seed(run.train.seed)  # same initial weights in every process
        memory_format = torch.channels_last if run.train.channels_last else torch.contiguous_format
        # A checkpoint replaces every weight: a resumed run needs no ImageNet file (a node without
        # network, or a cache that was cleaned, resumes all the same).
        model_config = run.model if checkpoint is None else run.model.without_imagenet_weights()
        # The speed passes swap modules before SyncBatchNorm/DDP wrap them (basnet_lib.speed.passes).
        model = prepare_for_training(build_basnet(config=model_config)).to(memory_format=memory_format)
        model = wrap_model(model, context)
        optimizer = build_optimizer(model, run.train)
        state = cls(
            model=model,
            optimizer=optimizer,
            scheduler=build_scheduler(optimizer, run.train),
            scaler=torch.amp.GradScaler("cuda", enabled=run.train.amp and context.device.type == "cuda"),
            memory_format=memory_format,
        )
        if checkpoint is not None:
            state.load(checkpoint)
        return state

    def step(
        self, batch: TrainingBatch, loss: LossConfig, *, amp: bool, class_weights: tuple[float, ...] = ()
    ) -> dict[str, torch.Tensor]:
        """One training step on ``batch``: forward (under autocast when ``amp``), the joint loss
        (docs/method.md §3), backward through the gradient scaler, the optimiser and the schedule.
        Returns the loss terms; ``iteration`` is the caller's to advance."""
        device = batch.image.device
        with torch.autocast(device.type, dtype=autocast_dtype(device), enabled=amp):
            outputs = self.model(batch.image, batch.gradient_map)
        terms = joint_loss(outputs, labels=batch.labels, edge_target=batch.edges, config=loss,
                           class_weights=class_weights)  # fmt: skip
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(terms["total"]).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()
        return terms

    @property
    def learning_rate(self) -> float:
        return self.optimizer.param_groups[0]["lr"]

    def checkpoint(self) -> dict:
        """The checkpoint's training part: the unwrapped model and everything that continues it."""
        return {
            "model": unwrap_model(self.model).state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict() if self.scaler.is_enabled() else {},
            "rng": capture_rng_state(),
        }

    def load(self, checkpoint: dict) -> None:
        """Continue from ``checkpoint`` (written by :meth:`checkpoint`)."""
        unwrap_model(self.model).load_state_dict(checkpoint["model"])
        self.optimizer.load_state_dict(checkpoint["optimizer"])
        self.scheduler.load_state_dict(checkpoint["scheduler"])
        if checkpoint.get("scaler"):
            self.scaler.load_state_dict(checkpoint["scaler"])
        restore_rng_state(checkpoint["rng"])
        self.iteration = int(checkpoint["iteration"])
