"""``TrainConfig`` (optimisation and bookkeeping) and ``RunConfig`` (one run = model + data +
training + loss).

The frozen dataclasses are the notebooks' parameters; ``config.json`` of a run directory holds
them as ``{"model": ..., "data": ..., "train": ..., "loss": ...}``. Config files and checkpoints
written before the loss had a section of its own hold its settings under ``train``; they are read
as today's (:func:`upgraded_run_dict`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from basnet_lib.config_checks import FLOAT32_MAX, check_choice, check_int, check_number
from basnet_lib.data.config import DataConfig
from basnet_lib.engine.config_io import config_from_dict, config_to_dict, read_config_json
from basnet_lib.loss import LossConfig
from basnet_lib.model.config import ModelConfig

OPTIMIZERS = ("sgd", "adamw")
# The loss's settings that ``train`` held before the loss had a section of its own.
FIELDS_MOVED_TO_LOSS = ("edge_weight", "class_balance", "hard_pixel_fraction", "hard_pixel_probability")


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
        seed: seeds the model initialisation, the data order and every augmentation.
        device: ``"auto"`` (CUDA if available), ``"cpu"``, ``"cuda"``.
        threads: CPU threads of the run's computations (``torch.set_num_threads`` for the run's
            duration, then restored); 0 keeps the process's setting. Part of the config because
            the thread count changes the float rounding of CPU kernels: the cpu preset fixes it
            to 1 and trains two runs side by side (docs/decisions.md "cpu recipe").
        amp: mixed precision (fp16 autocast with a gradient scaler on CUDA, bf16 autocast on CPU);
            evaluation then runs under bf16 autocast. Changes results (README "Performance").
        tf32: let CUDA convolutions and matrix products round their inputs to TF32 (Ampere and
            later; about twice as fast in fp32). Off by default and in the paper preset: the paper's
            GPU had no TF32, so true fp32 is its arithmetic. Set for the run only, then restored.
        channels_last: train in the NHWC memory format, which oneDNN and cuDNN convolve faster
            (README "Performance"); changes float rounding, not what is computed. Evaluation always
            runs channels_last with BatchNorm folded (``prepare_for_inference``).
        checkpoint_every: write ``checkpoint.pt`` every this many iterations (and at the end).
        log_every: add a row to ``history.csv`` every this many iterations.
        eval_every: also evaluate on val every this many iterations during training, adding
            ``val_*`` columns to ``history.csv`` (0 = only at the end).
        eval_images: images of val used by those evaluations (0 = all; the final one uses all).
        eval_multiscale: evaluate with scales (0.5 … 1.75) and flip, the paper's "*" (docs/method.md §2.5).
        tensorboard: also write TensorBoard event files into the run directory (losses, learning
            rate, images/s, validation scores, a few validation predictions at each validation;
            :mod:`basnet_lib.engine.tensorboard`); needs the ``tensorboard`` package.
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
    seed: int = 0
    device: str = "auto"
    threads: int = 0
    amp: bool = False
    tf32: bool = False
    channels_last: bool = True
    checkpoint_every: int = 100
    log_every: int = 10
    eval_every: int = 0
    eval_images: int = 0
    eval_multiscale: bool = False
    tensorboard: bool = False
    results_dir: str = "results/runs"
    run_name: str = ""

    def __post_init__(self) -> None:
        for name in ("iterations", "batch_size", "checkpoint_every", "log_every"):
            check_int(self, name, minimum=1)
        for name in ("warmup_iterations", "eval_every", "eval_images", "threads"):
            check_int(self, name, minimum=0)
        if self.warmup_iterations >= self.iterations:
            raise ValueError(
                f"TrainConfig.warmup_iterations={self.warmup_iterations} must be below "
                f"iterations={self.iterations}"
            )
        if self.batch_size < 2:
            # The ASPP's image pooling and the GAB see 1×1 maps, whose BatchNorm needs two values.
            raise ValueError(
                f"TrainConfig.batch_size={self.batch_size} (--train.batch_size) must be at least 2: the "
                "model's BatchNorm layers on pooled 1x1 features cannot train on one image"
            )
        # numpy's SeedSequence, which seeds every augmentation, takes non-negative integers only.
        check_int(self, "seed", minimum=0, option="--seed")
        check_choice(self, "optimizer", OPTIMIZERS)
        # Finite numbers only: an infinite learning rate trains weights into NaN while the loss of
        # the last step is still finite (docs/method.md §4). The optimizer multiplies float32
        # tensors by the learning rate and the weight decay: each must fit in a float32.
        float32 = "the optimizer's float32 arithmetic"
        check_number(self, "learning_rate", minimum=0, open_minimum=True, maximum=FLOAT32_MAX, why=float32)
        check_number(self, "weight_decay", minimum=0, maximum=FLOAT32_MAX, why=float32)
        check_number(self, "poly_power", minimum=0, open_minimum=True)
        # SGD's momentum (AdamW's beta1) of 1 or more never forgets a gradient: the steps grow without end.
        check_number(self, "momentum", minimum=0, maximum=1, open_maximum=True, why="SGD's momentum, AdamW's beta1")
        if self.optimizer == "adamw":
            _check_adamw_scalars(self)
        if self.device not in ("auto", "cpu") and not self.device.startswith("cuda"):
            raise ValueError(f"TrainConfig.device={self.device!r}: expected 'auto', 'cpu' or 'cuda[:N]'")


def _check_adamw_scalars(config: TrainConfig) -> None:
    """AdamW's own float32 scalars: the first step's ``learning_rate / (1 - beta1)`` (its bias
    correction) and the decoupled decay's ``learning_rate * weight_decay``."""
    scalars = {
        "learning_rate / (1 - momentum)": config.learning_rate / (1 - config.momentum),
        "learning_rate * weight_decay": config.learning_rate * config.weight_decay,
    }
    for formula, value in scalars.items():
        if value > FLOAT32_MAX:
            raise ValueError(
                f"TrainConfig with optimizer 'adamw': {formula} = {value:g} (learning_rate={config.learning_rate!r}, "
                f"momentum={config.momentum!r}, weight_decay={config.weight_decay!r}) must be <= {FLOAT32_MAX:g}, "
                "a scalar of AdamW's float32 step"
            )


@dataclass(frozen=True)
class RunConfig:
    """Everything that determines one run's result.

    Saved with :func:`basnet_lib.engine.config_io.save_config` and read with :func:`load_run_config`.
    """

    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    loss: LossConfig = field(default_factory=LossConfig)

    @property
    def run_name(self) -> str:
        return self.train.run_name or f"{self.model.variant}-{self.model.backbone}-seed{self.train.seed}"

    @property
    def run_dir(self) -> Path:
        return Path(self.train.results_dir) / self.run_name


def upgraded_run_dict(values: dict[str, Any]) -> dict[str, Any]:
    """A saved run config (``config.json``, a checkpoint's ``config``) in today's form. One written
    before the ``loss`` section existed has its loss settings moved there from ``train``; a field
    added since takes its default, which is what those runs did (``train.tf32``: every run before
    it trained on a CPU, where it changes nothing)."""
    if not all(isinstance(values.get(section), dict) for section in ("model", "data", "train")):
        return values  # not a run config: the comparison names what differs
    values = {**values, "train": dict(values["train"])}
    if "loss" not in values:
        values["loss"] = {name: values["train"].pop(name) for name in FIELDS_MOVED_TO_LOSS if name in values["train"]}
    defaults = config_to_dict(RunConfig())
    return {
        **values,
        **{section: {**fields, **values.get(section, {})} for section, fields in defaults.items()},
    }


def load_run_config(path: str | Path) -> RunConfig:
    """A run's ``config.json`` (also one written before the ``loss`` section); errors name the file."""
    return config_from_dict(RunConfig, upgraded_run_dict(read_config_json(path, RunConfig)), source=str(path))
