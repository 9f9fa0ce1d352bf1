"""TensorBoard event files beside history.csv (TrainConfig.tensorboard)."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from basnet_lib.engine.presets import preset
from basnet_lib.engine.tensorboard import EVENTS_DIR
from basnet_lib.engine.trainer import train


def _events(run_dir) -> EventAccumulator:
    events = EventAccumulator(str(run_dir / EVENTS_DIR), size_guidance={"images": 0, "scalars": 0})
    events.Reload()
    return events


def test_a_run_writes_its_curves_and_validation_images(tmp_path, monkeypatch, training_data_fault) -> None:
    run = preset("smoke", variant="ssb_bdb")
    train_fields = dict(results_dir=str(tmp_path), iterations=4, log_every=1, checkpoint_every=2, eval_every=2,
                        eval_images=2, tensorboard=True)  # fmt: skip
    run = dataclasses.replace(run, train=dataclasses.replace(run.train, **train_fields))

    def stop(sample: dict) -> None:
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:  # stopped after step 3, resumed from the checkpoint of step 2
        training_data_fault(patch, after=3 * run.train.batch_size, action=stop)
        with pytest.raises(KeyboardInterrupt):
            train(run, progress=False)
    result = train(run, resume=True, progress=False)

    events = _events(result.run_dir)
    history = pd.read_csv(result.run_dir / "history.csv")
    total = events.Scalars("train/total")
    assert [event.step for event in total] == [1, 2, 3, 4]  # step 3 of the stopped run was purged
    assert [event.value for event in total] == pytest.approx(history["total"].tolist())
    assert [event.step for event in events.Scalars("val/mIoU")] == [2, 4]  # eval_every, then the final one
    assert events.Scalars("val/mIoU")[-1].value == pytest.approx(result.metrics["mIoU"])
    assert {"train/lr", "train/images_per_second", "train/edge", "val/F_3px"} <= set(events.Tags()["scalars"])
    images = [tag for tag in events.Tags()["images"] if tag.startswith("val_predictions/")]
    assert len(images) == 2 and [event.step for event in events.Images(images[0])] == [2]
    width = events.Images(images[0])[0].width
    assert width == 3 * run.data.synthcity_width  # image, prediction and label side by side


def test_no_tensorboard_unless_asked(tmp_path) -> None:
    run = preset("smoke", variant="ssb")
    run = dataclasses.replace(run, train=dataclasses.replace(run.train, results_dir=str(tmp_path), iterations=2))
    assert run.train.tensorboard is False and preset("paper", data_root="/x").train.tensorboard is True
    result = train(run, progress=False)
    assert not (result.run_dir / EVENTS_DIR).exists()
