"""Boundary IoU (docs/method.md §5.4) added to a finished run that was evaluated before the library
computed it, or computed it by an earlier band rule: its own checkpoint evaluated on val again, as
the final evaluation did (evaluation only; the run is reused, not retrained).

``metrics.json`` gains the Boundary IoU entries and ``boundary_IoU_added_later``: the mIoU this
evaluation found beside the stored one. They are equal on the machine and package set that trained
the run; elsewhere they may differ by what another CPU's kernels change (docs/decisions.md, "Runs
read back"), and the entry says so instead of hiding it.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from basnet_lib.distributed import DistributedContext, resolve_device
from basnet_lib.engine.run_files import METRICS_FILE, RunResult, load_run, load_trained_model, write_results
from basnet_lib.engine.run_lock import RunLock
from basnet_lib.engine.validation import evaluate_on_val
from basnet_lib.metrics.boundary_iou import BOUNDARY_IOU_RULE

BOUNDARY_IOU_KEYS = ("boundary_IoU_rule", "boundary_IoU", "per_class_boundary_IoU", "per_class_min_IoU_boundary_IoU")


def with_boundary_iou(result: RunResult, *, device: str = "auto", progress: bool = False) -> RunResult:
    """``result`` itself when its ``metrics.json`` holds Boundary IoU of the current band rule
    (``BOUNDARY_IOU_RULE``); otherwise the run with it added or replaced (``metrics.json``
    rewritten atomically under the run's lock, every other entry kept)."""
    if result.metrics.get("boundary_IoU_rule") == BOUNDARY_IOU_RULE:
        return result
    run_dir = Path(result.run_dir)
    why = "before Boundary IoU existed" if "boundary_IoU" not in result.metrics else "with an earlier band rule"
    print(f"{run_dir}: Boundary IoU evaluated {why}; evaluating its checkpoint on val for it", flush=True)
    with RunLock(run_dir):
        run, model = load_trained_model(run_dir)
        context = DistributedContext(device=resolve_device(device))
        model = model.to(context.device)
        metrics = evaluate_on_val(
            run, model, context, multiscale=run.train.eval_multiscale, progress=progress
        )
        stored = load_run(run_dir).metrics  # read again under the lock
        added = {key: metrics[key] for key in BOUNDARY_IOU_KEYS}
        added["boundary_IoU_added_later"] = {
            "mIoU_recomputed": metrics["mIoU"],
            "mIoU_stored": stored["mIoU"],
        }
        updated = {**stored, **added}
        write_results(run_dir / METRICS_FILE, updated, note="the run itself is unchanged")
    return dataclasses.replace(result, metrics=updated)
