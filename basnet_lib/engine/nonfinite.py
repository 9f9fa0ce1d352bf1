"""Guards against non-finite numbers: the training loop's loss (without a host-device
synchronisation per step) and the weights before they are saved or evaluated.

A loss can stay finite while a step makes the weights infinite (a learning rate of 1e300); such
weights are never saved as a checkpoint nor reported as a result.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import torch
from torch import Tensor

from basnet_lib.loss import LOSS_TERMS
from basnet_lib.metrics.reduction import all_reduce_sum_


class NonFiniteLossError(RuntimeError):
    """A loss term is NaN or infinite; the message names the iteration and the terms."""


class NonFiniteWeightsError(RuntimeError):
    """Weights hold NaN or inf; the message names how many tensors and the first one."""


def non_finite_tensors(tensors: Mapping[str, Tensor]) -> list[str]:
    """Names of the floating-point tensors holding NaN or inf, in order (one synchronisation)."""
    floating = [(name, tensor) for name, tensor in tensors.items() if tensor.is_floating_point()]
    if not floating:
        return []
    finite = torch.stack([torch.isfinite(tensor).all() for _, tensor in floating]).tolist()
    return [name for (name, _), good in zip(floating, finite, strict=True) if not good]


def check_weights_finite(tensors: Mapping[str, Tensor], *, subject: str, consequence: str) -> None:
    """Raise :class:`NonFiniteWeightsError` ``"{subject}: N of M tensors hold NaN or inf (first: X);
    {consequence}"`` when any of ``tensors`` (a state dict) is not finite."""
    bad = non_finite_tensors(tensors)
    if bad:
        raise NonFiniteWeightsError(
            f"{subject}: {len(bad)} of {len(tensors)} weight tensors hold NaN or inf (first: {bad[0]}); {consequence}"
        )


def check_weights_everywhere(tensors: Mapping[str, Tensor], device: torch.device, *, subject: str) -> None:
    """:func:`check_weights_finite` on every process at once: all raise when one's weights are bad
    (the others would otherwise wait for it forever)."""
    bad = non_finite_tensors(tensors)
    found_anywhere = all_reduce_sum_(torch.tensor(int(bool(bad)), device=device))
    consequence = "nothing was saved or evaluated from them (a learning rate too high?)"
    if bad:
        check_weights_finite(tensors, subject=subject, consequence=consequence)
    if found_anywhere.item():
        raise NonFiniteWeightsError(f"{subject}: non-finite weights on another process; {consequence}")


class NonFiniteMonitor:
    """Watches every step's loss terms without a host-device synchronisation.

    :meth:`observe` keeps, on the device, the first iteration whose terms are not all finite and
    their values; :meth:`check` (one synchronisation) raises :class:`NonFiniteLossError` naming
    them. The training loop checks before every history row and checkpoint, so no checkpoint ever
    holds weights updated by a non-finite loss, and the error names the first bad iteration even
    when it is found a few steps later.
    """

    def __init__(self, names: Sequence[str] = LOSS_TERMS) -> None:
        self.names = tuple(names)
        self._first_iteration: Tensor | None = None  # 0 = none so far
        self._values: Tensor | None = None

    def observe(self, terms: Mapping[str, Tensor], *, iteration: int) -> None:
        values = torch.stack([terms[name].detach().float().reshape(()) for name in self.names])
        if self._first_iteration is None:
            self._first_iteration = torch.zeros((), dtype=torch.int64, device=values.device)
            self._values = torch.zeros_like(values)
        first_bad = ~torch.isfinite(values).all() & (self._first_iteration == 0)
        self._first_iteration = torch.where(first_bad, iteration, self._first_iteration)
        self._values = torch.where(first_bad, values, self._values)

    def found(self) -> Tensor:
        """1 if a non-finite step was observed, else 0 (int64, on the device; no synchronisation)."""
        if self._first_iteration is None:
            return torch.zeros((), dtype=torch.int64)
        return (self._first_iteration > 0).to(torch.int64)

    def check(self) -> None:
        if self._first_iteration is None:
            return
        iteration = self._first_iteration.item()
        if iteration:
            bad = ", ".join(
                f"{name}={value:g}"
                for name, value in zip(self.names, self._values.tolist(), strict=True)
                if not math.isfinite(value)
            )
            raise NonFiniteLossError(f"non-finite loss at iteration {iteration}: {bad}")


def check_loss_everywhere(monitor: NonFiniteMonitor) -> None:
    """Raise on every process when any process saw a non-finite loss.

    Each process sees only its own batch's loss. Without agreeing first, the other processes would
    go on, rank 0 would write a checkpoint whose weights the bad gradients (averaged over all
    processes) already reached, and then wait for the stopped process forever.
    """
    found_anywhere = all_reduce_sum_(monitor.found())  # every process calls it at the same steps
    if found_anywhere.item():
        monitor.check()  # this process's own first bad iteration and terms
        raise NonFiniteLossError(
            "non-finite loss on another process (this one's loss was finite); see its error"
        )
