"""``TrainConfig`` (optimisation and bookkeeping) and ``RunConfig`` (one run = model + data + training).

The three frozen dataclasses are the notebooks' parameters; ``config.json`` of a run directory
holds all three as ``{"model": ..., "data": ..., "train": ...}``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from basnet_lib.data.config import DataConfig
from basnet_lib.model.config import ModelConfig

OPTIMIZERS = ("sgd", "adamw")


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation (docs/method.md §4.1) and run bookkeeping.

    Attributes:
        iterations: optimizer steps (the paper gives none; docs/method.md §4.1 assumes 80,000 at batch 8).
        batch_size: images per step over all processes (the paper's is 8); each of N processes
            takes ``batch_size / N``.
        optimizer: ``"sgd"`` (the paper's, docs/method.md §4.1) or ``"adamw"`` (the cpu preset's: from
            scratch it converges faster in a short budget, docs/decisions.md "cpu recipe").
        learning_rate, momentum, weight_decay: SGD (docs/method.md §4.1: 0.01, 0.9, 1e-4); for AdamW,
            ``momentum`` is β1 (β2 = 0.999) and the weight decay is decoupled.
        warmup_iterations: linear warm-up of the learning rate from 0 over this many steps,
            then the poly schedule over the remaining ones (0 = none, the paper's).
        poly_power: the poly schedule ``(1 - iter/max_iter)^power`` (docs/method.md §4.1: 0.9).
        edge_weight: λ of the joint loss (docs/method.md §3.1: 0.05).
        class_balance: exponent p of the segmentation loss's class weights ``(median f / f_c)^p``
            from the training split's pixel frequencies f_c; 0 = unweighted, the paper's.
        hard_pixel_fraction: the segmentation loss averages over this share of each batch's
            labelled pixels, those of highest loss (bootstrapped cross-entropy); 1 = all, the paper's.
        hard_pixel_probability: with ``hard_pixel_fraction < 1``, pixels whose label probability is
            below this count too, however many (OHEM); 0 = the fixed share only.
        seed: seeds the model initialisation, the data order and every augmentation.
        device: ``"auto"`` (CUDA if available), ``"cpu"``, ``"cuda"``.
        threads: CPU threads of the run's computations (``torch.set_num_threads`` for the run's
            duration, then restored); 0 keeps the process's setting. Part of the config because
            the thread count changes the float rounding of CPU kernels: the cpu preset fixes it
            to 1 and trains two runs side by side (docs/decisions.md "cpu recipe").
        amp: mixed precision (fp16 autocast with a gradient scaler on CUDA, bf16 autocast on CPU);
            evaluation then runs under bf16 autocast. Changes results (README "Performance").
        channels_last: train in the NHWC memory format, which oneDNN and cuDNN convolve faster
            (README "Performance"); changes float rounding, not what is computed. Evaluation always
            runs channels_last with BatchNorm folded (``prepare_for_inference``).
        checkpoint_every: write ``checkpoint.pt`` every this many iterations (and at the end).
        log_every: add a row to ``history.csv`` every this many iterations.
        eval_every: also evaluate on val every this many iterations during training, adding
            ``val_*`` columns to ``history.csv`` (0 = only at the end).
        eval_images: images of val used by those evaluations (0 = all; the final one uses all).
        eval_multiscale: evaluate with scales (0.5 … 1.75) and flip, the paper's "*" (docs/method.md §2.5).
        results_dir: parent of the run directories.
        run_name: run directory name; ``""`` derives ``{variant}-{backbone}-seed{seed}``.
    """

    iterations: int = 300
    batch_size: int = 8
    optimizer: str = "sgd"
    learning_rate: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 1e-4
    warmup_iterations: int = 0
    poly_power: float = 0.9
    edge_weight: float = 0.05
    class_balance: float = 0.0
    hard_pixel_fraction: float = 1.0
    hard_pixel_probability: float = 0.0
    seed: int = 0
    device: str = "auto"
    threads: int = 0
    amp: bool = False
    channels_last: bool = True
    checkpoint_every: int = 100
    log_every: int = 10
    eval_every: int = 0
    eval_images: int = 0
    eval_multiscale: bool = False
    results_dir: str = "results/runs"
    run_name: str = ""

    def __post_init__(self) -> None:
        for name in ("iterations", "batch_size", "checkpoint_every", "log_every"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"TrainConfig.{name}={value!r} must be an integer >= 1")
        for name in ("warmup_iterations", "eval_every", "eval_images", "threads"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"TrainConfig.{name}={value!r} must be an integer >= 0")
        if self.warmup_iterations >= self.iterations:
            raise ValueError(
                f"TrainConfig.warmup_iterations={self.warmup_iterations} must be below "
                f"iterations={self.iterations}"
            )
        _check_batch_size_and_seed(self)
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"TrainConfig.optimizer={self.optimizer!r}: expected one of {OPTIMIZERS}")
        # Finite numbers only: an infinite learning rate trains weights into NaN while the loss of
        # the last step is still finite (docs/method.md §4).
        for name in ("learning_rate", "poly_power"):
            if not _is_finite_number(getattr(self, name)) or not getattr(self, name) > 0:
                raise ValueError(f"TrainConfig.{name}={getattr(self, name)!r} must be a finite number > 0")
        for name in ("momentum", "weight_decay", "edge_weight", "class_balance"):
            if not _is_finite_number(getattr(self, name)) or not getattr(self, name) >= 0:
                raise ValueError(f"TrainConfig.{name}={getattr(self, name)!r} must be a finite number >= 0")
        if not _is_finite_number(self.hard_pixel_fraction) or not 0 < self.hard_pixel_fraction <= 1:
            raise ValueError(f"TrainConfig.hard_pixel_fraction={self.hard_pixel_fraction!r} must be in (0, 1]")
        if not _is_finite_number(self.hard_pixel_probability) or not 0 <= self.hard_pixel_probability < 1:
            raise ValueError(
                f"TrainConfig.hard_pixel_probability={self.hard_pixel_probability!r} must be in [0, 1)"
            )
        if self.device not in ("auto", "cpu") and not self.device.startswith("cuda"):
            raise ValueError(f"TrainConfig.device={self.device!r}: expected 'auto', 'cpu' or 'cuda[:N]'")


def _check_batch_size_and_seed(config: TrainConfig) -> None:
    if config.batch_size < 2:
        # The ASPP's image pooling and the GAB see 1×1 maps, whose BatchNorm needs two values.
        raise ValueError(
            f"TrainConfig.batch_size={config.batch_size} (--train.batch_size) must be at least 2: the "
            "model's BatchNorm layers on pooled 1x1 features cannot train on one image"
        )
    if isinstance(config.seed, bool) or not isinstance(config.seed, int) or config.seed < 0:
        # numpy's SeedSequence, which seeds every augmentation, takes non-negative integers only.
        raise ValueError(f"TrainConfig.seed={config.seed!r} (--seed) must be an integer >= 0")


def _is_finite_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


@dataclass(frozen=True)
class RunConfig:
    """Everything that determines one run's result.

    Saved and read with :func:`basnet_lib.engine.config_io.save_config` / ``load_config`` like its parts.
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
