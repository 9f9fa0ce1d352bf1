"""``train(run)``: one entry point for one CPU, one GPU, or N GPUs/nodes under torchrun (SPEC D)."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn
from tqdm.auto import tqdm

from basnet_lib.config_io import config_to_dict, load_config, save_config
from basnet_lib.data.build import build_dataset, dataset_root
from basnet_lib.data.labels import NUM_CLASSES
from basnet_lib.data.stats import class_frequencies
from basnet_lib.distributed import (
    all_reduce_sum_,
    barrier,
    broadcast_buffers_,
    setup_distributed,
    unwrap_model,
    wrap_model,
)
from basnet_lib.engine.checkpoint import (
    CheckpointError,
    capture_rng_state,
    config_differences,
    load_checkpoint,
    restore_rng_state,
    save_checkpoint,
)
from basnet_lib.engine.config import RunConfig, TrainConfig
from basnet_lib.engine.evaluate import evaluate, model_inputs
from basnet_lib.engine.history import VAL_F_COLUMNS, plot_training_curves, read_history, write_history
from basnet_lib.engine.sampling import training_batches
from basnet_lib.loss import LossConfig, NonFiniteLossError, NonFiniteMonitor, joint_loss
from basnet_lib.model import build_basnet
from basnet_lib.model.inference import float32_outputs
from basnet_lib.runtime import reuse_freed_memory
from basnet_lib.summary import system_info

# Fields that may differ between a checkpoint and the run resuming it: they change how the run
# is executed, never what it computes.
RESUMABLE_DIFFERENCES = ("data.num_workers",)

CONFIG_FILE, METRICS_FILE, HISTORY_FILE = "config.json", "metrics.json", "history.csv"
CHECKPOINT_FILE, CURVES_FILE = "checkpoint.pt", "training_curves.png"


class RunDirectoryError(RuntimeError):
    """The run directory holds another run, or an unfinished one that was not resumed."""


@dataclass(frozen=True)
class RunResult:
    """A finished run: its directory, config and ``metrics.json`` content."""

    run_dir: Path
    config: RunConfig
    metrics: dict
    reused: bool


def train(
    run: RunConfig, *, resume: bool = False, overwrite: bool = False, progress: bool = True
) -> RunResult:
    """Train ``run`` and evaluate it on the val split; write the run directory (SPEC F6).

    A finished run with the same config is reused (``reused=True``) unless ``overwrite``. With
    ``resume`` an unfinished run continues exactly from its checkpoint; a checkpoint whose config
    differs is refused, naming the fields. Errors are raised before any file is changed.
    """
    reuse_freed_memory()  # no page faults on every step's feature maps (basnet_lib.runtime)
    with cpu_threads(run.train.threads):
        return _train(run, resume=resume, overwrite=overwrite, progress=progress)


@contextlib.contextmanager
def cpu_threads(threads: int) -> Iterator[None]:
    """``torch.set_num_threads(threads)`` inside the block (0: unchanged), restored after it."""
    previous = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _train(run: RunConfig, *, resume: bool, overwrite: bool, progress: bool) -> RunResult:
    context = setup_distributed(run.train.device)
    run_dir = run.run_dir
    finished = _finished_run(run, run_dir, overwrite=overwrite)
    if finished is not None:
        return finished
    checkpoint = _checkpoint_to_resume(run, run_dir, resume=resume, overwrite=overwrite)

    if context.is_main:
        if overwrite and checkpoint is None:
            for name in (METRICS_FILE, HISTORY_FILE, CHECKPOINT_FILE, CURVES_FILE):
                (run_dir / name).unlink(missing_ok=True)
        dataset_root(run.data, progress=progress)  # generate the SynthCity set once, on rank 0
        save_config(run, run_dir / CONFIG_FILE)
    barrier()

    torch.manual_seed(run.train.seed)  # same initial weights in every process
    memory_format = torch.channels_last if run.train.channels_last else torch.contiguous_format
    model = build_basnet(config=run.model).to(memory_format=memory_format)
    train_set = build_dataset(run.data, split="train", train=True, seed=run.train.seed)
    model = wrap_model(model, context)
    optimizer = build_optimizer(model, run.train)
    scheduler = build_scheduler(optimizer, run.train)
    use_cuda_amp = run.train.amp and context.device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=use_cuda_amp)
    history: list[dict] = []
    start = 0
    if checkpoint is not None:
        unwrap_model(model).load_state_dict(checkpoint["model"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        scheduler.load_state_dict(checkpoint["scheduler"])
        if checkpoint.get("scaler"):
            scaler.load_state_dict(checkpoint["scaler"])
        restore_rng_state(checkpoint["rng"])
        start = int(checkpoint["iteration"])
        history = read_history(run_dir / HISTORY_FILE, up_to_iteration=start)

    loss_config = LossConfig(edge_weight=run.train.edge_weight, class_weights=class_weights(run))
    autocast_dtype = torch.float16 if context.device.type == "cuda" else torch.bfloat16
    model.train()
    monitor = NonFiniteMonitor()
    window = _Window(started=time.perf_counter())
    train_started = time.perf_counter()
    batches = training_batches(
        train_set,
        start_iteration=start,
        iterations=run.train.iterations,
        batch_size=run.train.batch_size,
        seed=run.train.seed,
        num_workers=run.data.num_workers,
        context=context,
    )
    bar = tqdm(
        total=run.train.iterations,
        initial=start,
        desc=f"train {run.run_name}",
        disable=not (progress and context.is_main),
        unit="it",
    )
    # No host-device synchronisation per step: the loss is checked and logged only every
    # log_every / checkpoint_every iterations (NonFiniteMonitor, _Window).
    for iteration, batch in batches:
        image, gradient_map = model_inputs(batch, context.device)
        image = image.contiguous(memory_format=memory_format)
        gradient_map = gradient_map.contiguous(memory_format=memory_format)
        labels = batch["label"].to(context.device, non_blocking=True)
        edges = batch["edge"].to(context.device, non_blocking=True)
        with torch.autocast(context.device.type, dtype=autocast_dtype, enabled=run.train.amp):
            outputs = model(image, gradient_map)
        outputs = float32_outputs(outputs)
        terms = joint_loss(outputs, labels=labels, edge_target=edges, config=loss_config)
        monitor.observe(terms, iteration=iteration + 1)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(terms["total"]).backward()
        scaler.step(optimizer)
        scaler.update()
        scheduler.step()
        done = iteration + 1
        window.add(terms, images=image.shape[0] * context.world_size)
        eval_now = _periodic_evaluation_due(run.train, done)
        log_now = done % run.train.log_every == 0 or done == run.train.iterations or eval_now
        checkpoint_now = done % run.train.checkpoint_every == 0 or done == run.train.iterations
        if log_now or checkpoint_now:
            # Before anything is written: a non-finite loss stops the run with the last checkpoint
            # as the last good state.
            _check_loss_everywhere(monitor)
        if log_now:
            row = window.row(
                done, lr=optimizer.param_groups[0]["lr"], elapsed=time.perf_counter() - train_started
            )
            if eval_now:
                row.update(_validation_columns(_evaluate_during_training(run, model, context)))
                window = _Window(started=time.perf_counter())  # evaluation time is not training speed
            history.append(row)
            bar.set_postfix(loss=f"{row['total']:.3f}", img_s=f"{row['images_per_second']:.1f}")
            window = _Window(started=time.perf_counter())
        bar.update(1)
        if checkpoint_now:
            if context.is_main:
                _save_training_state(run, run_dir, model, optimizer, scheduler, scaler, done, history)
            barrier()
    bar.close()
    train_seconds = time.perf_counter() - train_started

    broadcast_buffers_(model)  # BatchNorm statistics of rank 0, as in the checkpoint
    metrics = _evaluate_on_val(run, model, context, multiscale=run.train.eval_multiscale, progress=progress)
    trained = run.train.iterations - start
    metrics.update(
        {
            "run_name": run.run_name,
            "seed": run.train.seed,
            "variant": run.model.variant,
            "backbone": run.model.backbone,
            "iterations": run.train.iterations,
            "resumed_from": start,
            "train_seconds_this_session": train_seconds,
            "images_per_second": trained * run.train.batch_size / train_seconds if trained else None,
            "world_size": context.world_size,
            "device": str(context.device),
            "system": system_info(),
        }
    )
    if history and history[-1]["iteration"] == run.train.iterations:
        history[-1].update(_validation_columns(metrics))  # the curve's last point: the full val set
    if context.is_main:
        _write_json(run_dir / METRICS_FILE, metrics)
        if history:
            write_history(run_dir / HISTORY_FILE, history)
            plot_training_curves(pd.DataFrame(history), run_dir / CURVES_FILE, title=run.run_name)
    barrier()
    return RunResult(run_dir=run_dir, config=run, metrics=metrics, reused=False)


def build_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """SGD with momentum (the paper's, SPEC D1) or AdamW (``config.optimizer``)."""
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


def class_weights(run: RunConfig) -> tuple[float, ...]:
    """``(median f / f_c)^p`` per class from the training split's pixel frequencies (classes
    absent from it: 1), ``p = run.train.class_balance``; ``()`` when p is 0 (unweighted)."""
    if not run.train.class_balance:
        return ()
    frequencies = class_frequencies(dataset_root(run.data, progress=False), splits=("train",), progress=False)
    pixels = frequencies.set_index("train_id").loc[list(range(NUM_CLASSES)), "pixels"].to_numpy(dtype=float)
    present = pixels > 0
    median = float(np.median(pixels[present]))
    weights = np.ones(NUM_CLASSES)
    weights[present] = (median / pixels[present]) ** run.train.class_balance
    return tuple(float(weight) for weight in weights)


def _periodic_evaluation_due(config: TrainConfig, done: int) -> bool:
    """An evaluation on val during training (the final one happens after the loop)."""
    return bool(config.eval_every) and done % config.eval_every == 0 and done < config.iterations


def _evaluate_during_training(run: RunConfig, model: nn.Module, context) -> dict:
    """Val metrics of the current weights (on ``eval_images`` images); the model stays in training
    mode and its weights, buffers and the random state are untouched (evaluation uses a copy)."""
    random_state = capture_rng_state()  # the data loader draws a seed: keep training's stream as it was
    metrics = _evaluate_on_val(run, model, context, max_images=run.train.eval_images, progress=False)
    restore_rng_state(random_state)
    model.train()
    return metrics


def _evaluate_on_val(
    run: RunConfig, model: nn.Module, context, *, multiscale: bool = False, max_images: int = 0, progress: bool
) -> dict:
    """The run's val split through :func:`evaluate` (the final evaluation and those during training)."""
    return evaluate(
        unwrap_model(model),
        build_dataset(run.data, split="val", train=False),
        context=context,
        multiscale=multiscale,
        num_workers=run.data.num_workers,
        amp=run.train.amp,
        max_images=max_images,
        progress=progress,
    )


def _validation_columns(metrics: dict) -> dict[str, float]:
    """``history.csv`` columns of one evaluation: mIoU and boundary F at the three thresholds (0–1)."""
    columns = {"val_mIoU": metrics["mIoU"], "val_images": metrics["num_images"]}
    for name, value in zip(VAL_F_COLUMNS, metrics["boundary_F"].values(), strict=True):
        columns[name] = value
    if metrics.get("boundary_map") is not None:
        columns["val_boundary_ods_f"] = metrics["boundary_map"]["ODS_F"]
        columns["val_boundary_ap"] = metrics["boundary_map"]["AP"]
    return columns


def load_run(run_dir: str | Path) -> RunResult:
    """A finished run directory's config and metrics."""
    run_dir = Path(run_dir)
    config = load_config(RunConfig, run_dir / CONFIG_FILE)
    metrics = json.loads((run_dir / METRICS_FILE).read_text())
    return RunResult(run_dir=run_dir, config=config, metrics=metrics, reused=True)


def load_trained_model(
    run_dir: str | Path, *, checkpoint: str | Path | None = None
) -> tuple[RunConfig, nn.Module]:
    """A run's config and its model with the weights of ``checkpoint`` (default: the run's own).

    The checkpoint is read with ``weights_only=True``; errors name the file (SPEC D2).
    """
    run_dir = Path(run_dir)
    run = load_config(RunConfig, run_dir / CONFIG_FILE)
    # The checkpoint replaces every weight: no ImageNet weights are read (or downloaded) for it.
    model = build_basnet(config=dataclasses.replace(run.model, pretrained_backbone=False))
    model.load_state_dict(load_checkpoint(checkpoint or run_dir / CHECKPOINT_FILE)["model"])
    return run, model


class _Window:
    """Loss sums and image counts since the last history row (detached: no device sync)."""

    def __init__(self, *, started: float) -> None:
        self.started = started
        self.sums: dict[str, torch.Tensor] = {}
        self.steps = 0
        self.images = 0

    def add(self, terms: dict[str, torch.Tensor], *, images: int) -> None:
        for name, value in terms.items():
            self.sums[name] = self.sums.get(name, 0) + value.detach()
        self.steps += 1
        self.images += images

    def row(self, iteration: int, *, lr: float, elapsed: float) -> dict[str, float]:
        seconds = max(time.perf_counter() - self.started, 1e-9)
        row = {name: float(value) / self.steps for name, value in self.sums.items()}
        row.update(
            iteration=iteration, lr=lr, images_per_second=self.images / seconds, elapsed_seconds=elapsed
        )
        return row


def _check_loss_everywhere(monitor: NonFiniteMonitor) -> None:
    """Raise on every process when any process saw a non-finite loss.

    Each process sees only its own batch's loss. Without agreeing first, the other processes would
    go on, rank 0 would write a checkpoint whose weights the bad gradients (averaged over all
    processes) already reached, and then wait for the stopped process forever.
    """
    found_anywhere = all_reduce_sum_(monitor.found())  # every process calls it at the same steps
    if found_anywhere.item():
        monitor.check()  # this process's own first bad iteration and terms
        raise NonFiniteLossError(
            "non-finite loss on another process (this one's loss was finite); see its error"
        )


def _finished_run(run: RunConfig, run_dir: Path, *, overwrite: bool) -> RunResult | None:
    if overwrite or not (run_dir / METRICS_FILE).is_file():
        return None
    saved = load_config(RunConfig, run_dir / CONFIG_FILE)
    differences = config_differences(config_to_dict(saved), config_to_dict(run))
    if differences:
        raise RunDirectoryError(
            f"{run_dir} holds a finished run with another config; use another run_name or overwrite=True:\n  "
            + "\n  ".join(differences)
        )
    return load_run(run_dir)


def _checkpoint_to_resume(run: RunConfig, run_dir: Path, *, resume: bool, overwrite: bool) -> dict | None:
    path = run_dir / CHECKPOINT_FILE
    if not path.exists():
        return None
    if not resume:
        if overwrite:
            return None
        raise RunDirectoryError(
            f"{run_dir} holds an unfinished run ({path}); pass resume=True or overwrite=True"
        )
    checkpoint = load_checkpoint(path)
    differences = [
        line
        for line in config_differences(checkpoint["config"], config_to_dict(run))
        if line.split(":")[0] not in RESUMABLE_DIFFERENCES
    ]
    if differences:
        raise CheckpointError(
            f"{path} was written by a run with another config:\n  " + "\n  ".join(differences)
        )
    return checkpoint


def _save_training_state(run, run_dir, model, optimizer, scheduler, scaler, iteration, history) -> None:
    # History first: a checkpoint never refers to rows that were not written.
    write_history(run_dir / HISTORY_FILE, history)
    save_checkpoint(
        run_dir / CHECKPOINT_FILE,
        {
            "iteration": iteration,
            "config": config_to_dict(run),
            "model": unwrap_model(model).state_dict(),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "scaler": scaler.state_dict() if scaler.is_enabled() else {},
            "rng": capture_rng_state(),
        },
    )


def _write_json(path: Path, values: dict) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(json.dumps(values, indent=2) + "\n")
    temporary.replace(path)


__all__ = [
    "RunDirectoryError",
    "RunResult",
    "build_optimizer",
    "build_scheduler",
    "learning_rate_factor",
    "load_run",
    "load_trained_model",
    "train",
]
