"""Learning-rate schedule, optimizers, CPU threads and the new TrainConfig fields (basnet_lib.engine)."""

from __future__ import annotations

import dataclasses
import itertools

import pytest
import torch
from torch import nn

from basnet_lib.engine.config import OPTIMIZERS, TrainConfig
from basnet_lib.engine.optimization import build_optimizer, build_scheduler, learning_rate_factor
from basnet_lib.engine.runtime import cpu_threads


def poly(iteration: int, total: int, power: float) -> float:
    return (1 - iteration / total) ** power


# --- learning_rate_factor --------------------------------------------------------------------


def test_warmup_is_linear_from_one_step_to_full() -> None:
    config = TrainConfig(iterations=100, warmup_iterations=10, poly_power=0.9)
    factors = [learning_rate_factor(i, config) for i in range(10)]
    assert factors == pytest.approx([(i + 1) / 10 for i in range(10)])
    assert factors[0] > 0  # the first step already moves the weights
    assert factors[-1] == pytest.approx(1.0)


def test_after_warmup_poly_over_the_remaining_steps() -> None:
    total, warmup, power = 100, 10, 0.9
    config = TrainConfig(iterations=total, warmup_iterations=warmup, poly_power=power)
    for i in range(warmup, total):
        expected = (1 - (i - warmup) / (total - warmup)) ** power
        assert learning_rate_factor(i, config) == pytest.approx(expected), i
    assert learning_rate_factor(warmup, config) == pytest.approx(1.0)
    assert learning_rate_factor(55, config) == pytest.approx(0.5**power)
    assert learning_rate_factor(total, config) == 0.0
    assert learning_rate_factor(total + 5, config) == 0.0  # never negative or complex past the end


def test_without_warmup_it_is_the_poly_schedule() -> None:
    config = TrainConfig(iterations=40, poly_power=2.0)
    assert config.warmup_iterations == 0
    for i in range(41):
        assert learning_rate_factor(i, config) == pytest.approx(poly(i, 40, 2.0)), i
    assert learning_rate_factor(0, config) == 1.0
    assert learning_rate_factor(20, config) == pytest.approx(0.25)


def test_factor_is_monotone_up_then_down() -> None:
    config = TrainConfig(iterations=50, warmup_iterations=5)
    factors = [learning_rate_factor(i, config) for i in range(51)]
    # Rising over the warm-up (steps 0..4 end at 1), then never rising again.
    assert all(a < b for a, b in itertools.pairwise(factors[:5]))
    assert all(a >= b for a, b in itertools.pairwise(factors[4:]))
    assert max(factors) == pytest.approx(1.0)


# --- build_scheduler -------------------------------------------------------------------------


@pytest.mark.parametrize(("warmup", "optimizer"), [(0, "sgd"), (4, "sgd"), (3, "adamw")])
def test_scheduler_learning_rates_follow_the_factor(warmup: int, optimizer: str) -> None:
    config = TrainConfig(iterations=20, warmup_iterations=warmup, learning_rate=0.05, optimizer=optimizer)
    model = nn.Linear(3, 2)
    opt = build_optimizer(model, config)
    scheduler = build_scheduler(opt, config)
    rates = []
    for _ in range(config.iterations):
        rates.append(opt.param_groups[0]["lr"])  # the rate step i uses
        opt.step()
        scheduler.step()
    expected = [0.05 * learning_rate_factor(i, config) for i in range(config.iterations)]
    assert rates == pytest.approx(expected)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.0)  # after the last step
    if warmup:
        assert rates[0] == pytest.approx(0.05 / warmup)


def test_scheduler_state_round_trip_resumes_the_schedule() -> None:
    config = TrainConfig(iterations=12, warmup_iterations=2, learning_rate=0.1)
    model = nn.Linear(2, 1)
    opt = build_optimizer(model, config)
    scheduler = build_scheduler(opt, config)
    for _ in range(5):
        opt.step()
        scheduler.step()
    state = scheduler.state_dict()
    fresh_opt = build_optimizer(nn.Linear(2, 1), config)
    fresh = build_scheduler(fresh_opt, config)
    fresh.load_state_dict(state)
    fresh_opt.step()
    fresh.step()
    assert fresh_opt.param_groups[0]["lr"] == pytest.approx(0.1 * learning_rate_factor(6, config))


# --- build_optimizer -------------------------------------------------------------------------


def test_sgd_is_the_default_with_the_config_hyper_parameters() -> None:
    config = TrainConfig(learning_rate=0.02, momentum=0.8, weight_decay=3e-4)
    assert config.optimizer == "sgd"
    model = nn.Linear(4, 2)
    optimizer = build_optimizer(model, config)
    assert type(optimizer) is torch.optim.SGD
    group = optimizer.param_groups[0]
    assert group["lr"] == 0.02
    assert group["momentum"] == 0.8
    assert group["weight_decay"] == 3e-4
    assert len(group["params"]) == len(list(model.parameters()))


def test_adamw_uses_momentum_as_beta1() -> None:
    config = TrainConfig(optimizer="adamw", learning_rate=1e-3, momentum=0.85, weight_decay=0.05)
    model = nn.Linear(4, 2)
    optimizer = build_optimizer(model, config)
    assert type(optimizer) is torch.optim.AdamW
    group = optimizer.param_groups[0]
    assert group["lr"] == 1e-3
    assert group["betas"] == (0.85, 0.999)
    assert group["weight_decay"] == 0.05
    assert {id(p) for p in group["params"]} == {id(p) for p in model.parameters()}


def test_optimizers_constant() -> None:
    assert set(OPTIMIZERS) == {"sgd", "adamw"}


# --- TrainConfig validation ------------------------------------------------------------------


def test_new_fields_defaults() -> None:
    config = TrainConfig()
    assert (
        config.optimizer,
        config.warmup_iterations,
        config.eval_every,
        config.eval_images,
        config.threads,
    ) == (
        "sgd",
        0,
        0,
        0,
        0,
    )


def test_valid_new_fields_are_accepted() -> None:
    config = TrainConfig(
        iterations=50, optimizer="adamw", warmup_iterations=49, eval_every=10, eval_images=8, threads=2
    )
    assert (config.warmup_iterations, config.eval_every, config.eval_images, config.threads) == (49, 10, 8, 2)


@pytest.mark.parametrize(
    "changes",
    [
        {"optimizer": "adam"},
        {"optimizer": "SGD"},
        {"warmup_iterations": 100},  # == iterations
        {"warmup_iterations": 150},
        {"warmup_iterations": -1},
        {"eval_every": -1},
        {"eval_every": 2.5},
        {"eval_images": -3},
        {"threads": True},
        {"threads": False},
        {"threads": -1},
    ],
)
def test_invalid_configs_raise(changes: dict) -> None:
    with pytest.raises(ValueError, match=next(iter(changes))):
        TrainConfig(iterations=100, **changes)


def test_replace_validates_too() -> None:
    config = TrainConfig(iterations=10, warmup_iterations=5)
    with pytest.raises(ValueError, match="warmup_iterations"):
        dataclasses.replace(config, iterations=5)


# --- cpu_threads -----------------------------------------------------------------------------


@pytest.fixture
def restore_threads():
    previous = torch.get_num_threads()
    yield previous
    torch.set_num_threads(previous)


def test_cpu_threads_sets_and_restores(restore_threads: int) -> None:
    torch.set_num_threads(2)
    with cpu_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == 2


def test_cpu_threads_restores_after_an_exception(restore_threads: int) -> None:
    torch.set_num_threads(2)
    with pytest.raises(RuntimeError, match="boom"), cpu_threads(1):
        assert torch.get_num_threads() == 1
        raise RuntimeError("boom")
    assert torch.get_num_threads() == 2


def test_cpu_threads_zero_leaves_the_setting(restore_threads: int) -> None:
    torch.set_num_threads(2)
    with cpu_threads(0):
        assert torch.get_num_threads() == 2
    assert torch.get_num_threads() == 2
