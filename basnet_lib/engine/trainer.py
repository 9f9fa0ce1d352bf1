"""``train(run)``: one entry point for one CPU, one GPU, or N GPUs/nodes under torchrun (docs/method.md §4).

A run checks its data and builds its model before it changes any file, takes its run directory
(:mod:`basnet_lib.engine.run_lock`), is set up (fresh, or resumed exactly from its checkpoint),
steps through its iterations (logging, validating and checkpointing on the way), is evaluated on
val, and writes its run directory (:mod:`basnet_lib.engine.run_directory`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch import nn
from tqdm.auto import tqdm

from basnet_lib.data.build import build_dataset, dataset_root
from basnet_lib.data.cityscapes import CityscapesSegmentation
from basnet_lib.data.labels import NUM_CLASSES
from basnet_lib.data.stats import class_frequencies
from basnet_lib.distributed import (
    DistributedContext,
    barrier,
    broadcast_buffers_,
    run_on_main,
    setup_distributed,
    unwrap_model,
    wrap_model,
)
from basnet_lib.engine.checkpoint import restore_rng_state
from basnet_lib.engine.config import RunConfig
from basnet_lib.engine.evaluate import model_inputs
from basnet_lib.engine.history import StepWindow, read_history, write_history
from basnet_lib.engine.nonfinite import NonFiniteMonitor, check_loss_everywhere, check_weights_everywhere
from basnet_lib.engine.optimization import build_optimizer, build_scheduler
from basnet_lib.engine.run_data import checked_data_fingerprint
from basnet_lib.engine.run_directory import (
    CURVES_FILE,
    DATA_FINGERPRINT,
    HISTORY_FILE,
    METRICS_FILE,
    RunResult,
    checkpoint_to_resume,
    finished_run,
    prepare_run_directory,
    save_training_state,
    write_results,
)
from basnet_lib.engine.run_lock import RunLock
from basnet_lib.engine.runtime import cpu_threads, system_info
from basnet_lib.engine.sampling import training_batches
from basnet_lib.engine.validation import (
    evaluate_during_training,
    evaluate_on_val,
    periodic_evaluation_due,
    validation_columns,
)
from basnet_lib.loss import LossConfig, joint_loss
from basnet_lib.model import build_basnet
from basnet_lib.plots.curves import plot_training_curves
from basnet_lib.speed import float32_outputs, prepare_for_training


def train(
    run: RunConfig, *, resume: bool = False, overwrite: bool = False, progress: bool = True
) -> RunResult:
    """Train ``run`` and evaluate it on the val split; write the run directory (docs/method.md §6.6).

    A finished run with the same model, data content and schedule is reused (``reused=True``)
    unless ``overwrite``. With ``resume`` an unfinished run continues exactly from its checkpoint;
    a checkpoint whose config or data differs is refused, naming them. The data (both labelled
    splits) and the model are checked before any file is changed or deleted; the run directory
    is owned by one process at a time (another one raises, naming it).
    """
    with cpu_threads(run.train.threads):
        return _train(run, resume=resume, overwrite=overwrite, progress=progress)


def _train(run: RunConfig, *, resume: bool, overwrite: bool, progress: bool) -> RunResult:
    context = setup_distributed(run.train.device)
    fingerprint = checked_data_fingerprint(run.data, context, progress=progress)
    # Reading only: a finished run is reused even from a read-only folder.
    finished = finished_run(run, data_fingerprint=fingerprint, overwrite=overwrite)
    if finished is not None:
        return finished
    lock = RunLock(run.run_dir)
    run_on_main(context, lock.acquire)
    try:
        return _train_locked(run, context, fingerprint, resume=resume, overwrite=overwrite, progress=progress)
    finally:
        if context.is_main:
            lock.release()


def _train_locked(
    run: RunConfig, context: DistributedContext, fingerprint: str, *, resume: bool, overwrite: bool, progress: bool
) -> RunResult:
    """The run, in the run directory it owns: every check passes before the first file changes."""
    # Another process may have finished this run between the check above and the lock.
    finished = finished_run(run, data_fingerprint=fingerprint, overwrite=overwrite)
    if finished is not None:
        return finished
    checkpoint = checkpoint_to_resume(run, data_fingerprint=fingerprint, resume=resume, overwrite=overwrite)
    training = _set_up(run, context, checkpoint, fingerprint)  # builds the model: may still fail
    if context.is_main:
        prepare_run_directory(run, fresh=overwrite and checkpoint is None)
    barrier()
    train_seconds = _run_steps(run, training, context, progress=progress)
    broadcast_buffers_(training.model)  # BatchNorm statistics of rank 0, as in the checkpoint
    metrics = evaluate_on_val(
        run, training.model, context, multiscale=run.train.eval_multiscale, progress=progress
    )
    metrics.update(_run_summary(run, training, context, train_seconds=train_seconds))
    _write_results(run, context, metrics, training.history)
    return RunResult(run_dir=run.run_dir, config=run, metrics=metrics, reused=False)


@dataclass
class _Training:
    """What the steps work on and change: the (wrapped) model and its optimisation state, the
    training split, the history rows so far and the first step to take."""

    model: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LambdaLR
    scaler: torch.amp.GradScaler
    train_set: CityscapesSegmentation
    memory_format: torch.memory_format
    data_fingerprint: str
    start: int
    history: list[dict]


def _set_up(run: RunConfig, context: DistributedContext, checkpoint: dict | None, fingerprint: str) -> _Training:
    """A fresh model and optimiser from the run's seed, or (``checkpoint``) the state it stopped in,
    random state included, so that a resumed run continues exactly."""
    torch.manual_seed(run.train.seed)  # same initial weights in every process
    memory_format = torch.channels_last if run.train.channels_last else torch.contiguous_format
    # The speed passes (basnet_lib.speed.passes) swap modules, before SyncBatchNorm/DDP wrap them.
    model = prepare_for_training(build_basnet(config=run.model)).to(memory_format=memory_format)
    train_set = build_dataset(run.data, split="train", train=True, seed=run.train.seed)
    model = wrap_model(model, context)
    optimizer = build_optimizer(model, run.train)
    scheduler = build_scheduler(optimizer, run.train)
    scaler = torch.amp.GradScaler("cuda", enabled=run.train.amp and context.device.type == "cuda")
    training = _Training(
        model, optimizer, scheduler, scaler, train_set, memory_format, fingerprint, start=0, history=[]
    )
    if checkpoint is not None:
        unwrap_model(model).load_state_dict(checkpoint["model"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        scheduler.load_state_dict(checkpoint["scheduler"])
        if checkpoint.get("scaler"):
            scaler.load_state_dict(checkpoint["scaler"])
        restore_rng_state(checkpoint["rng"])
        training.start = int(checkpoint["iteration"])
        training.history = read_history(run.run_dir / HISTORY_FILE, up_to_iteration=training.start)
    return training


def _run_steps(run: RunConfig, training: _Training, context: DistributedContext, *, progress: bool) -> float:
    """The optimisation steps from ``training.start`` to the end, with a history row every
    ``log_every`` steps (and a validation every ``eval_every``) and a checkpoint every
    ``checkpoint_every``; returns the seconds they took."""
    loss_config = LossConfig(
        edge_weight=run.train.edge_weight,
        class_weights=class_weights(run),
        hard_pixel_fraction=run.train.hard_pixel_fraction,
        hard_pixel_probability=run.train.hard_pixel_probability,
    )
    training.model.train()
    monitor = NonFiniteMonitor()
    window = StepWindow(started=time.perf_counter())
    train_started = time.perf_counter()
    batches = training_batches(
        training.train_set,
        start_iteration=training.start,
        iterations=run.train.iterations,
        batch_size=run.train.batch_size,
        seed=run.train.seed,
        num_workers=run.data.num_workers,
        context=context,
    )
    bar = tqdm(
        total=run.train.iterations,
        initial=training.start,
        desc=f"train {run.run_name}",
        disable=not (progress and context.is_main),
        unit="it",
    )
    # No host-device synchronisation per step: the loss is checked and logged only every
    # log_every / checkpoint_every iterations (NonFiniteMonitor, _Window).
    for iteration, batch in batches:
        terms = _step(run, training, context, batch, loss_config, monitor, iteration=iteration)
        done = iteration + 1
        window.add(terms, images=batch["image"].shape[0] * context.world_size)
        log_now = done % run.train.log_every == 0 or done == run.train.iterations
        log_now = log_now or periodic_evaluation_due(run.train, done)
        checkpoint_now = done % run.train.checkpoint_every == 0 or done == run.train.iterations
        if log_now or checkpoint_now:
            # Before anything is written: a non-finite loss stops the run with the last checkpoint
            # as the last good state.
            check_loss_everywhere(monitor)
        if log_now:
            row = _history_row(run, training, context, window, done, elapsed=time.perf_counter() - train_started)
            bar.set_postfix(loss=f"{row['total']:.3f}", img_s=f"{row['images_per_second']:.1f}")
            window = StepWindow(started=time.perf_counter())  # evaluation time is not training speed
        bar.update(1)
        if checkpoint_now:
            _save_checkpoint(run, training, context, done)
    bar.close()
    return time.perf_counter() - train_started


def _save_checkpoint(run: RunConfig, training: _Training, context: DistributedContext, done: int) -> None:
    """The checkpoint after ``done`` steps (rank 0 writes; every rank waits for it)."""
    # Weights that a step made non-finite (with a finite loss) are never saved.
    model_state = unwrap_model(training.model).state_dict()
    check_weights_everywhere(model_state, context.device, subject=f"{run.run_name} after iteration {done}")
    if context.is_main:
        save_training_state(
            run,
            iteration=done,
            model=training.model,
            optimizer=training.optimizer,
            scheduler=training.scheduler,
            scaler=training.scaler,
            history=training.history,
            data_fingerprint=training.data_fingerprint,
        )
    barrier()


def _step(
    run: RunConfig,
    training: _Training,
    context: DistributedContext,
    batch: dict,
    loss_config: LossConfig,
    monitor: NonFiniteMonitor,
    *,
    iteration: int,
) -> dict[str, torch.Tensor]:
    """One optimisation step on ``batch``; returns the loss terms (on the device, not read back)."""
    image, gradient_map = model_inputs(batch, context.device)
    image = image.contiguous(memory_format=training.memory_format)
    gradient_map = gradient_map.contiguous(memory_format=training.memory_format)
    labels = batch["label"].to(context.device, non_blocking=True)
    edges = batch["edge"].to(context.device, non_blocking=True)
    autocast_dtype = torch.float16 if context.device.type == "cuda" else torch.bfloat16
    with torch.autocast(context.device.type, dtype=autocast_dtype, enabled=run.train.amp):
        outputs = training.model(image, gradient_map)
    outputs = float32_outputs(outputs)
    terms = joint_loss(outputs, labels=labels, edge_target=edges, config=loss_config)
    monitor.observe(terms, iteration=iteration + 1)
    training.optimizer.zero_grad(set_to_none=True)
    training.scaler.scale(terms["total"]).backward()
    training.scaler.step(training.optimizer)
    training.scaler.update()
    training.scheduler.step()
    return terms


def _history_row(
    run: RunConfig, training: _Training, context: DistributedContext, window: StepWindow, done: int, *, elapsed: float
) -> dict[str, float]:
    """The history row of the steps since the last one (and a validation when one is due), appended
    and written: ``history.csv`` follows the run as it trains, for whoever watches it from another
    process (``basnet reproduce``'s progress bar); a resumed run drops the rows after its checkpoint."""
    row = window.row(done, lr=training.optimizer.param_groups[0]["lr"], elapsed=elapsed)
    if periodic_evaluation_due(run.train, done):
        row.update(validation_columns(evaluate_during_training(run, training.model, context)))
    training.history.append(row)
    if context.is_main:
        write_history(run.run_dir / HISTORY_FILE, training.history)
    return row


def _run_summary(
    run: RunConfig, training: _Training, context: DistributedContext, *, train_seconds: float
) -> dict[str, object]:
    """What ``metrics.json`` says about the run beside its scores."""
    trained = run.train.iterations - training.start
    return {
        "run_name": run.run_name,
        "seed": run.train.seed,
        "variant": run.model.variant,
        "backbone": run.model.backbone,
        "iterations": run.train.iterations,
        "resumed_from": training.start,
        "train_seconds_this_session": train_seconds,
        "images_per_second": trained * run.train.batch_size / train_seconds if trained else None,
        "world_size": context.world_size,
        "device": str(context.device),
        "system": system_info(),
        DATA_FINGERPRINT: training.data_fingerprint,
    }


def _write_results(run: RunConfig, context: DistributedContext, metrics: dict, history: list[dict]) -> None:
    """``metrics.json``, the final ``history.csv`` and ``training_curves.png`` (rank 0)."""
    if history and history[-1]["iteration"] == run.train.iterations:
        history[-1].update(validation_columns(metrics))  # the curve's last point: the full val set
    if context.is_main:
        scores = {key: metrics[key] for key in ("mIoU", "boundary_F")}
        note = f"the results were {scores}; `basnet evaluate {run.run_dir}` scores its checkpoint again"
        write_results(run.run_dir / METRICS_FILE, metrics, note=note)
        if history:
            write_history(run.run_dir / HISTORY_FILE, history)
            plot_training_curves(pd.DataFrame(history), run.run_dir / CURVES_FILE, title=run.run_name)
    barrier()


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
