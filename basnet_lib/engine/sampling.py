"""The data a run trains on: its training split, the loss's class weights from it, which samples
each process takes at each iteration (resumable at any iteration), and the inputs of a step on
the device.

Epochs are permutations from ``DistributedSampler`` (``set_epoch``, docs/method.md §8.5), sharded over the
processes, cut into per-process batches of ``batch_size / world_size``; an incomplete last batch
is dropped. Iteration ``i`` is batch ``i mod B`` of epoch ``i div B``, so a resumed run skips the
batches it has done without loading them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import Tensor
from torch.utils.data import DataLoader, DistributedSampler
from tqdm.auto import tqdm

from basnet_lib.data.build import build_dataset
from basnet_lib.data.cityscapes import CityscapesSegmentation
from basnet_lib.data.stats import class_pixel_counts
from basnet_lib.distributed import DistributedContext
from basnet_lib.engine.config import RunConfig
from basnet_lib.engine.evaluate import model_inputs
from basnet_lib.loss import balanced_class_weights


@dataclass(frozen=True)
class TrainingBatch:
    """One step's inputs on the device: the normalized images and their gradient map G (docs/method.md
    §1.7) in the model's memory format, the trainIds and the edge target (docs/method.md §2.4)."""

    image: Tensor
    gradient_map: Tensor
    labels: Tensor
    edges: Tensor

    @classmethod
    def on_device(
        cls, batch: dict, device: torch.device, memory_format: torch.memory_format
    ) -> TrainingBatch:
        image, gradient_map = model_inputs(batch, device)
        return cls(
            image=image.contiguous(memory_format=memory_format),
            gradient_map=gradient_map.contiguous(memory_format=memory_format),
            labels=batch["label"].to(device, non_blocking=True),
            edges=batch["edge"].to(device, non_blocking=True),
        )


def training_set(run: RunConfig) -> CityscapesSegmentation:
    """The run's training split with its augmentation, seeded by the run's seed."""
    return build_dataset(run.data, split="train", train=True, seed=run.train.seed)


def class_weights(run: RunConfig, dataset: CityscapesSegmentation) -> tuple[float, ...]:
    """The segmentation term's class weights from ``dataset``'s pixel counts (docs/method.md §3.1);
    ``()``, unweighted, without class balancing (the labels are then not read)."""
    if not run.loss.class_balance:
        return ()
    return balanced_class_weights(class_pixel_counts(dataset.root), run.loss.class_balance)


def per_process_batch_size(batch_size: int, context: DistributedContext) -> int:
    """Each of the run's processes takes ``batch_size / world_size`` images a step; at least 2, as
    BatchNorm on the pooled 1x1 features cannot train on one image."""
    processes = context.world_size
    if batch_size % processes or batch_size // processes < 2:
        raise ValueError(
            f"--train.batch_size {batch_size} over {processes} processes (torchrun --nproc_per_node, or "
            f"the job's tasks) must give each process a whole number of at least 2 images; use a "
            f"multiple of {processes} of at least {2 * processes}"
        )
    return batch_size // processes


def epoch_batches(
    dataset: CityscapesSegmentation, *, epoch: int, batch_size: int, seed: int, context: DistributedContext
) -> list[list[int]]:
    """This process's batches (lists of sample indices) of ``epoch``."""
    sampler = DistributedSampler(
        dataset, num_replicas=context.world_size, rank=context.rank, shuffle=True, seed=seed, drop_last=True
    )
    sampler.set_epoch(epoch)
    indices = list(sampler)
    local = per_process_batch_size(batch_size, context)
    count = len(indices) // local
    if count == 0:
        raise ValueError(
            f"{dataset.root} split {dataset.split!r} has {len(dataset)} images, fewer than one batch of "
            f"{batch_size} over {context.world_size} process(es)"
        )
    return [indices[b * local : (b + 1) * local] for b in range(count)]


def training_batches(
    dataset: CityscapesSegmentation,
    run: RunConfig,
    context: DistributedContext,
    *,
    start_iteration: int,
    memory_format: torch.memory_format = torch.contiguous_format,
    progress: bool = False,
) -> tqdm:
    """``(iteration, batch)`` on the device for ``start_iteration <= iteration < run.train.iterations``,
    behind a progress bar over the run's iterations (rank 0's, with ``progress``)."""
    return tqdm(
        _batches(dataset, run, context, start_iteration=start_iteration, memory_format=memory_format),
        desc=f"train {run.run_name}",
        total=run.train.iterations,
        initial=start_iteration,
        disable=not (progress and context.is_main),
        unit="it",
    )


def _batches(
    dataset: CityscapesSegmentation,
    run: RunConfig,
    context: DistributedContext,
    *,
    start_iteration: int,
    memory_format: torch.memory_format,
) -> Iterator[tuple[int, TrainingBatch]]:
    iterations, batch_size, seed = run.train.iterations, run.train.batch_size, run.train.seed
    per_epoch = len(epoch_batches(dataset, epoch=0, batch_size=batch_size, seed=seed, context=context))
    iteration = start_iteration
    while iteration < iterations:
        epoch, offset = divmod(iteration, per_epoch)
        batches = epoch_batches(dataset, epoch=epoch, batch_size=batch_size, seed=seed, context=context)
        batches = batches[offset : offset + iterations - iteration]
        dataset.set_epoch(epoch)  # seeds each sample's augmentation with (seed, epoch, index)
        loader = DataLoader(
            dataset,
            batch_sampler=batches,
            num_workers=run.data.num_workers,
            pin_memory=context.device.type == "cuda",
            # Its own generator: a DataLoader iterator otherwise draws its base seed from the
            # global RNG, which dropout also uses, and a resumed run creates one more iterator.
            generator=torch.Generator().manual_seed(seed),
        )
        for batch in loader:
            yield iteration, TrainingBatch.on_device(batch, context.device, memory_format)
            iteration += 1
