"""Shared test setup: small CPU inputs, fixed seeds, no network; a Slurm cluster of the tests' own."""

from __future__ import annotations

import dataclasses
import itertools
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import torch
from slurm_cluster import SlurmCluster, missing_requirements

from basnet_lib.data.cityscapes import CityscapesSegmentation
from basnet_lib.engine.checkpoint import save_checkpoint
from basnet_lib.engine.config_io import config_to_dict
from basnet_lib.engine.presets import preset
from basnet_lib.engine.run_files import CHECKPOINT_FILE, CONFIG_FILE, write_json
from basnet_lib.gradient_map import image_gradient_map
from basnet_lib.model import build_basnet


@pytest.fixture(autouse=True)
def _seeded() -> None:
    torch.manual_seed(0)


@pytest.fixture
def tiny_batch() -> tuple[torch.Tensor, torch.Tensor]:
    """(normalized image, gradient map G) of 2 random uint8 images of an awkward size (70×90)."""
    generator = torch.Generator().manual_seed(1)
    images = torch.randint(0, 256, (2, 3, 70, 90), dtype=torch.uint8, generator=generator)
    gradient_map = image_gradient_map(images)
    return gradient_map[:, :3].clone(), gradient_map


@pytest.fixture(scope="session")
def saved_smoke_runs(tmp_path_factory) -> dict[str, Path]:
    """Run directories (config.json + checkpoint.pt) of untrained smoke models (width 16), by
    variant: ``full`` (boundary head and SAB probes) and ``baseline`` (neither)."""
    root = tmp_path_factory.mktemp("saved_runs")
    runs = {}
    for variant in ("full", "baseline"):
        run = preset("smoke", variant=variant)
        run = dataclasses.replace(run, train=dataclasses.replace(run.train, results_dir=str(root)))
        torch.manual_seed(0)
        model = build_basnet(config=run.model)
        state = {"iteration": 0, "config": config_to_dict(run), "model": model.state_dict()}
        save_checkpoint(run.run_dir / CHECKPOINT_FILE, {**state, "optimizer": {}, "scheduler": {}, "rng": {}})
        write_json(run.run_dir / CONFIG_FILE, config_to_dict(run))
        runs[variant] = run.run_dir
    return runs


@pytest.fixture
def training_data_fault() -> Callable[..., None]:
    """``fault(patch, after=N, action=f)``: every training sample a run loads after its first N
    goes through ``f``, which spoils it (NaN pixels) or raises (a run stopped at a known step);
    ``patch`` is a pytest ``MonkeyPatch`` whose undo ends the fault. Runs of the smoke preset load
    their samples in the training process, one batch per step."""

    def fault(patch: pytest.MonkeyPatch, *, after: int, action: Callable[[dict], None]) -> None:
        real_getitem = CityscapesSegmentation.__getitem__
        loaded = itertools.count(1)

        def getitem(dataset: CityscapesSegmentation, index: int) -> dict:
            sample = real_getitem(dataset, index)
            if dataset.split == "train" and next(loaded) > after:
                action(sample)
            return sample

        patch.setattr(CityscapesSegmentation, "__getitem__", getitem)

    return fault


@pytest.fixture(scope="session")
def slurm_cluster(tmp_path_factory) -> Iterator[SlurmCluster]:
    """A single-node Slurm cluster of the tests' own (tests/slurm_cluster.py), with ``SLURM_CONF``
    pointing at it for the tests and the processes they start; stopped at the end of the session.
    Skipped where it cannot start (not root, no slurm-wlm or munge), unless ``BASNET_REQUIRE_SLURM=1``
    (CI, ``.ci/run``), where that fails instead."""
    missing = missing_requirements()
    if missing:
        message = f"the Slurm tests need {missing}"
        if os.environ.get("BASNET_REQUIRE_SLURM") == "1":
            pytest.fail(message + " (BASNET_REQUIRE_SLURM=1)")
        pytest.skip(message)
    cluster = SlurmCluster(tmp_path_factory.mktemp("slurm"))
    with pytest.MonkeyPatch.context() as patch:
        for name, value in cluster.environment.items():
            patch.setenv(name, value)
        try:
            cluster.start()
            yield cluster
        finally:
            cluster.stop()
