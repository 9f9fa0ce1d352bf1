"""A finished run evaluated before Boundary IoU existed gets it from its own checkpoint, equal to
what its final evaluation computes, every other entry of metrics.json kept."""

from __future__ import annotations

import dataclasses
import json

from basnet_lib.engine.late_boundary_iou import BOUNDARY_IOU_KEYS, with_boundary_iou
from basnet_lib.engine.presets import preset
from basnet_lib.engine.run_files import METRICS_FILE, load_run
from basnet_lib.engine.trainer import train


def test_a_run_without_boundary_iou_gets_the_final_evaluations_values(tmp_path) -> None:
    run = preset("smoke", variant="full")
    run = dataclasses.replace(
        run, train=dataclasses.replace(run.train, iterations=2, results_dir=str(tmp_path))
    )
    result = train(run, progress=False)
    original = result.metrics
    assert original["boundary_IoU"]["0.02"] is not None
    path = run.run_dir / METRICS_FILE
    old = {key: value for key, value in original.items() if key not in BOUNDARY_IOU_KEYS}
    path.write_text(json.dumps(old))
    assert "boundary_IoU" not in load_run(run.run_dir).metrics

    added = with_boundary_iou(load_run(run.run_dir)).metrics
    for key in BOUNDARY_IOU_KEYS:
        assert json.dumps(added[key]) == json.dumps(original[key]), key
    assert added["boundary_IoU_added_later"] == {
        "mIoU_recomputed": original["mIoU"],
        "mIoU_stored": original["mIoU"],
    }
    assert {key: added[key] for key in old} == old
    assert json.loads(path.read_text()) == added
    again = with_boundary_iou(load_run(run.run_dir))  # present now: nothing evaluated or written
    assert again.metrics == added

    # Scored by the earlier band rule (rounded tolerance bands, no rule entry): evaluated again.
    earlier = {**old, **{key: original[key] for key in BOUNDARY_IOU_KEYS if key != "boundary_IoU_rule"}}
    earlier["boundary_IoU"] = {**earlier["boundary_IoU"], "0.00088": 0.0}
    path.write_text(json.dumps(earlier))
    replaced = with_boundary_iou(load_run(run.run_dir)).metrics
    assert replaced["boundary_IoU"] == original["boundary_IoU"] and replaced["boundary_IoU_rule"] == 2
    assert sorted(entry.name for entry in run.run_dir.iterdir() if entry.name.startswith(".")) == []
