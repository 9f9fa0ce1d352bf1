"""``TrainConfig`` (optimisation and bookkeeping) and ``RunConfig`` (one run = model + data + training).

The three frozen dataclasses are the notebooks' parameters; ``config.json`` of a run directory
holds all three as ``{"model": ..., "data": ..., "train": ...}``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from basnet_lib.data.config import DataConfig
from basnet_lib.model.config import ModelConfig


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation (SPEC D1) and run bookkeeping.

    Attributes:
        iterations: optimizer steps (the paper gives none; SPEC D1 assumes 80,000 at batch 8).
        batch_size: images per step over all processes (the paper's is 8); each of N processes
            takes ``batch_size / N``.
        learning_rate, momentum, weight_decay: SGD (SPEC D1: 0.01, 0.9, 1e-4).
        poly_power: the poly schedule ``(1 - iter/max_iter)^power`` (SPEC D1: 0.9).
        edge_weight: λ of the joint loss (SPEC C1: 0.05).
        seed: seeds the model initialisation, the data order and every augmentation.
        device: ``"auto"`` (CUDA if available), ``"cpu"``, ``"cuda"``.
        amp: mixed precision (fp16 autocast with a gradient scaler on CUDA, bf16 autocast on CPU);
            evaluation then runs under bf16 autocast. Changes results (README "Performance").
        channels_last: train in the NHWC memory format, which oneDNN and cuDNN convolve faster
            (README "Performance"); changes float rounding, not what is computed. Evaluation always
            runs channels_last with BatchNorm folded (``prepare_for_inference``).
        checkpoint_every: write ``checkpoint.pt`` every this many iterations (and at the end).
        log_every: add a row to ``history.csv`` every this many iterations.
        eval_multiscale: evaluate with scales (0.5 … 1.75) and flip, the paper's "*" (SPEC B5).
        results_dir: parent of the run directories.
        run_name: run directory name; ``""`` derives ``{variant}-{backbone}-seed{seed}``.
    """

    iterations: int = 300
    batch_size: int = 8
    learning_rate: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 1e-4
    poly_power: float = 0.9
    edge_weight: float = 0.05
    seed: int = 0
    device: str = "auto"
    amp: bool = False
    channels_last: bool = True
    checkpoint_every: int = 100
    log_every: int = 10
    eval_multiscale: bool = False
    results_dir: str = "results/runs"
    run_name: str = ""

    def __post_init__(self) -> None:
        for name in ("iterations", "batch_size", "checkpoint_every", "log_every"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"TrainConfig.{name}={value!r} must be an integer >= 1")
        for name in ("learning_rate", "poly_power"):
            if not getattr(self, name) > 0:
                raise ValueError(f"TrainConfig.{name}={getattr(self, name)!r} must be > 0")
        for name in ("momentum", "weight_decay", "edge_weight"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"TrainConfig.{name}={getattr(self, name)!r} must be >= 0")
        if self.device not in ("auto", "cpu") and not self.device.startswith("cuda"):
            raise ValueError(f"TrainConfig.device={self.device!r}: expected 'auto', 'cpu' or 'cuda[:N]'")


@dataclass(frozen=True)
class RunConfig:
    """Everything that determines one run's result.

    Saved and read with :func:`basnet_lib.config_io.save_config` / ``load_config`` like its parts.
    """

    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    @property
    def run_name(self) -> str:
        return self.train.run_name or f"{self.model.variant}-{self.model.backbone}-seed{self.train.seed}"

    @property
    def run_dir(self) -> Path:
        return Path(self.train.results_dir) / self.run_name
