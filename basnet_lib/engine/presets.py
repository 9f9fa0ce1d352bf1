"""The three presets of docs/method.md §7: ``smoke`` (tests), ``cpu`` (the main job), ``paper``
(Cityscapes on GPUs)."""

from __future__ import annotations

import dataclasses

from basnet_lib.data.config import DataConfig
from basnet_lib.engine.config import RunConfig, TrainConfig
from basnet_lib.loss import LossConfig
from basnet_lib.model.config import ModelConfig

PRESETS = ("smoke", "cpu", "paper")
# Exponent of the cpu preset's class weights (median f / f_c)^p (docs/decisions.md "cpu recipe").
CPU_CLASS_BALANCE = 0.5
# λ of the cpu preset's joint loss (the paper's is 0.05; docs/decisions.md "Second round").
CPU_EDGE_WEIGHT = 3.0


def default_results_root(preset_name: str) -> str:
    """Where a preset's runs and report go by default (docs/method.md §6.6): ``results`` for the
    ``cpu`` preset (the committed report), ``results/<preset>`` otherwise, so that a smoke or paper
    reproduction never overwrites it. Its runs are ``<results root>/runs/<preset>/<run name>``,
    whichever command trains them (``basnet train``, torchrun, ``basnet reproduce``, the notebooks)."""
    return "results" if preset_name == "cpu" else f"results/{preset_name}"


def preset_runs_dir(preset_name: str) -> str:
    """The parent of a preset's run directories under its default results root."""
    return f"{default_results_root(preset_name)}/runs/{preset_name}"


def preset(
    name: str, *, variant: str = "full", backbone: str = "", seed: int = 0, data_root: str = ""
) -> RunConfig:
    """The run config of preset ``name`` for one Table 1 ``variant`` and ``seed``.

    ``backbone`` overrides the preset's backbone; ``data_root`` points at a Cityscapes-layout
    folder (required by ``paper``; the others default to the embedded SynthCity set).
    """
    if name == "smoke":
        return _smoke(variant=variant, backbone=backbone or "resnet18", seed=seed, data_root=data_root)
    if name == "cpu":
        return _cpu(variant=variant, backbone=backbone or "resnet18", seed=seed, data_root=data_root)
    if name == "paper":
        return _paper(variant=variant, backbone=backbone or "resnet101", seed=seed, data_root=data_root)
    raise ValueError(f"unknown preset {name!r}; expected one of {PRESETS}")


def _smoke(*, variant: str, backbone: str, seed: int, data_root: str) -> RunConfig:
    """ResNet-18, tiny widths, 64×128 SynthCity, a handful of iterations (docs/method.md §7.1)."""
    return RunConfig(
        model=_with_probes(ModelConfig(variant=variant, backbone=backbone, width=16, aspp_channels=32)),
        data=DataConfig(
            root=data_root,
            synthcity_train=8,
            synthcity_val=4,
            synthcity_test=2,
            synthcity_height=64,
            synthcity_width=128,
            crop_height=64,
            crop_width=64,
            num_workers=0,
        ),
        train=TrainConfig(
            iterations=6,
            batch_size=4,
            seed=seed,
            device="cpu",
            threads=1,  # as the cpu preset: runs of a grid train side by side (tested in CI)
            checkpoint_every=3,
            log_every=1,
            results_dir=preset_runs_dir("smoke"),
        ),
    )


def _cpu(*, variant: str, backbone: str, seed: int, data_root: str) -> RunConfig:
    """SynthCity 256×512 on 2 CPU cores: 3 seeds × 4 variants train and evaluate within an hour.

    The recipe comes from measured validation curves (docs/decisions.md "cpu recipe",
    ``studies/cpu_recipe.py``): bf16 autocast, scales [0.5, 1.0] (more context per 96×192 crop),
    square-root class balancing of the segmentation loss, edge loss weight λ = 3 (at the paper's
    0.05 the boundary branch learns little in 600 steps from scratch), SGD at lr 0.05 from
    scratch, and single-thread runs trained two at a time. Every deviation from the ``paper`` preset is
    listed in the report.
    """
    iterations = 600
    return RunConfig(
        model=_with_probes(ModelConfig(variant=variant, backbone=backbone, width=64, aspp_channels=128)),
        # Data loading in the training process: worker processes would compete with the compute
        # threads of the two runs sharing the 2 cores. Results do not depend on the worker count.
        data=DataConfig(root=data_root, crop_height=96, crop_width=192, scale_max=1.0, num_workers=0),
        train=TrainConfig(
            iterations=iterations,
            batch_size=8,
            learning_rate=0.05,
            seed=seed,
            device="auto",
            threads=1,
            amp=True,
            checkpoint_every=iterations // 4,
            log_every=10,
            eval_every=iterations // 4,
            eval_images=25,
            results_dir=preset_runs_dir("cpu"),
        ),
        loss=LossConfig(edge_weight=CPU_EDGE_WEIGHT, class_balance=CPU_CLASS_BALANCE),
    )


def _paper(*, variant: str, backbone: str, seed: int, data_root: str) -> RunConfig:
    """Cityscapes, ImageNet ResNet-101, 480×480 crops, batch 8, 80k iterations, GPUs (docs/method.md §7.3).

    Table 1's protocol: random 480×480 crops only (the caption says "without data augmentation";
    paper §4.2 names only the crops) and fp32, as nothing in the paper mentions mixed precision.
    :func:`with_paper_augmentation` gives Table 2's "*" setting; ``--train.amp true`` is the
    opt-in mixed precision (docs/decisions.md "Training protocol").
    """
    if not data_root:
        raise ValueError(
            "the paper preset trains on Cityscapes: pass data_root=/path/to/cityscapes "
            "(the folder holding leftImg8bit/ and gtFine/)"
        )
    return RunConfig(
        model=ModelConfig(
            variant=variant, backbone=backbone, width=256, aspp_channels=256, pretrained_backbone=True
        ),
        data=DataConfig(
            root=data_root,
            crop_height=480,
            crop_width=480,
            scale_min=1.0,
            scale_max=1.0,
            hflip=False,
            num_workers=8,
        ),
        train=TrainConfig(
            iterations=80_000,
            batch_size=8,
            seed=seed,
            device="auto",
            amp=False,
            checkpoint_every=2_000,
            log_every=50,
            results_dir=preset_runs_dir("paper"),
        ),
    )


def with_paper_augmentation(run: RunConfig) -> RunConfig:
    """Table 2's "*": "random scaling, random flip and multi-scale" — random scale [0.5, 2.0] and
    horizontal flips in training, multi-scale + flip at test (docs/decisions.md "Training protocol")."""
    data = dataclasses.replace(run.data, scale_min=0.5, scale_max=2.0, hflip=True)
    # Its own run directory: a finished crop-only run of the same seed is not this one.
    name = run.run_name if run.run_name.endswith("-augmented") else f"{run.run_name}-augmented"
    train = dataclasses.replace(run.train, eval_multiscale=True, run_name=name)
    return dataclasses.replace(run, data=data, train=train)


def _with_probes(model: ModelConfig) -> ModelConfig:
    """SAB probes (Fig. 4) on every variant with a boundary branch: detached, they never change
    the model (docs/method.md §1.11), and they cost one 1×1 conv per SAB."""
    return dataclasses.replace(model, sab_probes=model.has_boundary_branch)
