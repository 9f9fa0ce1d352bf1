"""Which samples each process trains on at each iteration, resumable at any iteration.

Epochs are permutations from ``DistributedSampler`` (``set_epoch``, docs/method.md §8.5), sharded over the
processes, cut into per-process batches of ``batch_size / world_size``; an incomplete last batch
is dropped. Iteration ``i`` is batch ``i mod B`` of epoch ``i div B``, so a resumed run skips the
batches it has done without loading them.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch.utils.data import DataLoader, DistributedSampler

from basnet_lib.data.cityscapes import CityscapesSegmentation
from basnet_lib.distributed import DistributedContext


def per_process_batch_size(batch_size: int, context: DistributedContext) -> int:
    if batch_size % context.world_size:
        raise ValueError(
            f"batch_size={batch_size} is not divisible by the {context.world_size} processes of this run"
        )
    return batch_size // context.world_size


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
    *,
    start_iteration: int,
    iterations: int,
    batch_size: int,
    seed: int,
    num_workers: int,
    context: DistributedContext,
) -> Iterator[tuple[int, dict]]:
    """``(iteration, batch)`` for ``start_iteration <= iteration < iterations``."""
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
            num_workers=num_workers,
            pin_memory=context.device.type == "cuda",
            # Its own generator: a DataLoader iterator otherwise draws its base seed from the
            # global RNG, which dropout also uses, and a resumed run creates one more iterator.
            generator=torch.Generator().manual_seed(seed),
        )
        for batch in loader:
            yield iteration, batch
            iteration += 1
