"""Finished run directories made by hand, holding what a finished run must hold
(basnet_lib/engine/run_checks.py): ``config.json``, a complete ``metrics.json``, a ``history.csv``
ending with the final evaluation and, when asked, a ``checkpoint.pt`` of its last iteration."""

from __future__ import annotations

from basnet_lib.data.labels import CLASS_NAMES
from basnet_lib.engine.checkpoint import save_checkpoint
from basnet_lib.engine.config import RunConfig
from basnet_lib.engine.config_io import config_to_dict, save_config
from basnet_lib.engine.history import write_history
from basnet_lib.engine.run_checks import THRESHOLD_KEYS
from basnet_lib.engine.run_files import CHECKPOINT_FILE, CONFIG_FILE, HISTORY_FILE, METRICS_FILE, write_json
from basnet_lib.model.variants import variant_row


def finished_metrics(run: RunConfig, *, miou: float = 0.41234, boundary_f=(0.401, 0.502, 0.603)) -> dict:
    """A ``metrics.json`` of ``run`` with every score the tables need."""
    per_class = dict.fromkeys(CLASS_NAMES, 0.5)
    has_map = variant_row(run.model.variant).boundary_branch
    return {
        "mIoU": miou,
        "per_class_iou": {**per_class, "train": None},
        "boundary_F": dict(zip(THRESHOLD_KEYS, boundary_f, strict=True)),
        "boundary_F_present": dict(zip(THRESHOLD_KEYS, boundary_f, strict=True)),
        "per_class_boundary_F": dict.fromkeys(THRESHOLD_KEYS, per_class),
        "per_class_boundary_F_present": dict.fromkeys(THRESHOLD_KEYS, per_class),
        "boundary_empty_pairs": dict.fromkeys(CLASS_NAMES, 0.25),
        "boundary_map": {"ODS_F": 0.3, "ODS_threshold": 0.4, "AP": 0.2, "constant_map_F": 0.1}
        if has_map
        else None,
        "canny_map": {"F": 0.15} if has_map else None,
        "run_name": run.run_name,
        "variant": run.model.variant,
        "backbone": run.model.backbone,
        "seed": run.train.seed,
        "iterations": run.train.iterations,
        "device": "cpu",
    }


def write_finished_run(run: RunConfig, *, checkpoint: bool = False, **scores) -> None:
    """``run``'s directory as a finished run would leave it (``scores``: :func:`finished_metrics`'s);
    ``checkpoint``: also a checkpoint of its last iteration (without weights)."""
    metrics = finished_metrics(run, **scores)
    save_config(run, run.run_dir / CONFIG_FILE)
    last = run.train.iterations
    rows = [{"iteration": step, "total": 1.0, "images_per_second": 2.0} for step in range(1, last)]
    final = {
        "val_images": 4,
        "val_mIoU": metrics["mIoU"],
        "val_F_3px": metrics["boundary_F"][THRESHOLD_KEYS[0]],
    }
    write_history(run.run_dir / HISTORY_FILE, [*rows, {"iteration": last, "total": 1.0, **final}])
    write_json(run.run_dir / METRICS_FILE, metrics)
    if checkpoint:
        state = {
            "iteration": last,
            "config": config_to_dict(run),
            "model": {},
            "optimizer": {},
            "scheduler": {},
        }
        save_checkpoint(run.run_dir / CHECKPOINT_FILE, {**state, "rng": {}})
