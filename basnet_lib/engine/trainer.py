"""``train(run)``: one entry point for one CPU, one GPU, or N GPUs/nodes under torchrun (docs/method.md §4).

The whole run reads top to bottom in :func:`train`: its run directory is opened (data checked, a
finished run reused, the directory locked, fresh start or resume chosen), the model and optimiser
are set up or restored, the loop steps through the iterations (logging, validating and
checkpointing on the way), and the run is evaluated on val and written.
"""

from __future__ import annotations

import time

from basnet_lib.distributed import DistributedContext, broadcast_buffers_, setup_distributed
from basnet_lib.engine.config import RunConfig, TrainConfig
from basnet_lib.engine.history import TrainingLog
from basnet_lib.engine.run_directory import RunDirectory
from basnet_lib.engine.run_files import RunResult
from basnet_lib.engine.runtime import cpu_threads, cuda_tf32, system_info
from basnet_lib.engine.sampling import class_weights, per_process_batch_size, training_batches, training_set
from basnet_lib.engine.stop import RunPreempted, StopRequest, agreed_stop
from basnet_lib.engine.training_state import TrainingState
from basnet_lib.engine.validation import (
    evaluate_during_training,
    evaluate_on_val,
    validation_columns,
    validation_panels,
)


def train(run: RunConfig, *, resume: bool | str = False, overwrite: bool = False, progress: bool = True,
          stop: StopRequest | None = None) -> RunResult:  # fmt: skip
    """Train ``run`` and evaluate it on the val split; write the run directory (docs/method.md §6.6).

    A finished run of the same config and data is reused unless ``overwrite``; ``resume`` continues
    an unfinished one exactly, ``"auto"`` starts or resumes, whichever applies (:class:`RunDirectory`
    says what is refused). A set ``stop`` checkpoints after the step and raises :class:`RunPreempted`."""
    context, config = setup_distributed(run.train.device), run.train
    per_process_batch_size(config.batch_size, context)  # a bad split stops here, before any file
    opened = RunDirectory.open(run, context, resume=resume, overwrite=overwrite, progress=progress)
    with cpu_threads(config.threads), cuda_tf32(config.tf32), opened as run_dir:
        if run_dir.finished is not None:
            return run_dir.finished
        # Set up afresh or from the checkpoint; what can still fail (model, data) fails before any write.
        state = TrainingState.create(run, context, checkpoint=run_dir.checkpoint)
        log = TrainingLog(run_dir.resumed_history(), window=run_dir.log_window(), on_row=run_dir.write_history)
        resumed_from = state.iteration
        train_set = training_set(run)
        weights = class_weights(run, train_set)
        run_dir.start()
        batches = training_batches(train_set, run, context, start_iteration=resumed_from,
                                   memory_format=state.memory_format, progress=progress)  # fmt: skip
        state.model.train()
        for iteration, batch in batches:
            terms = state.step(batch, run.loss, amp=config.amp, class_weights=weights)
            state.iteration = done = iteration + 1
            log.add(terms, iteration=done, images=batch.image.shape[0] * context.world_size)

            stop_signal = agreed_stop(stop, context)
            log_now, evaluate_now, checkpoint_now = _due(config, done, stopping=stop_signal is not None)
            if log_now or checkpoint_now:  # a non-finite loss stops the run before anything is written
                log.check_finite()
            if log_now:
                row = log.add_row(done, lr=state.learning_rate)
                batches.set_postfix(loss=f"{row['total']:.3f}", img_s=f"{row['images_per_second']:.1f}")
            if evaluate_now:
                log.add_validation(validation_columns(evaluate_during_training(run, state.model, context)))
                run_dir.write_panels(validation_panels(run, state.model, context), iteration=done)
            if checkpoint_now:
                run_dir.save_checkpoint(state.checkpoint(), iteration=done, log=log)
            if stop_signal is not None:
                raise RunPreempted(stop_signal, iteration=done, run_dir=run_dir.path)
        train_seconds = time.perf_counter() - log.started

        broadcast_buffers_(state.model)  # BatchNorm statistics of rank 0, as in the checkpoint
        metrics = evaluate_on_val(run, state.model, context, multiscale=config.eval_multiscale, progress=progress)
        metrics.update(_run_summary(run, context, resumed_from=resumed_from, train_seconds=train_seconds))
        if log.rows and log.rows[-1]["iteration"] == config.iterations:
            log.add_validation(validation_columns(metrics))  # the curve's last point: the full val set
        return run_dir.write_results(metrics, log.rows)


def _due(config: TrainConfig, done: int, *, stopping: bool) -> tuple[bool, bool, bool]:
    """Whether a history row, a validation and a checkpoint are due after ``done`` steps: a row every
    ``log_every`` steps, at the end and with every validation; a validation every ``eval_every``
    steps before the end (the final one follows the loop), unless the run is stopping; a
    checkpoint every ``checkpoint_every`` steps, at the end, and when the run is stopping."""
    evaluate = bool(config.eval_every) and done % config.eval_every == 0 and done < config.iterations
    evaluate = evaluate and not stopping
    log = done % config.log_every == 0 or done == config.iterations or evaluate
    checkpoint = done % config.checkpoint_every == 0 or done == config.iterations or stopping
    return log, evaluate, checkpoint


def _run_summary(
    run: RunConfig, context: DistributedContext, *, resumed_from: int, train_seconds: float
) -> dict[str, object]:
    """What ``metrics.json`` says about the run beside its scores."""
    trained = run.train.iterations - resumed_from
    return {
        "run_name": run.run_name,
        "seed": run.train.seed,
        "variant": run.model.variant,
        "backbone": run.model.backbone,
        "iterations": run.train.iterations,
        "resumed_from": resumed_from,
        "train_seconds_this_session": train_seconds,
        "images_per_second": trained * run.train.batch_size / train_seconds if trained else None,
        "world_size": context.world_size,
        "device": str(context.device),
        "system": system_info(),
    }
