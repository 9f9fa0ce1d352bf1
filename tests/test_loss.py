"""Joint loss values, ignore handling, balanced weights, probes, non-finite check (docs/method.md §3)."""

from __future__ import annotations

import math

import pytest
import torch

from basnet_lib.engine.nonfinite import NonFiniteLossError, NonFiniteMonitor
from basnet_lib.gradient_map import image_gradient_map
from basnet_lib.loss import (
    LOSS_TERMS,
    LossConfig,
    balanced_bce_with_logits,
    balanced_class_weights,
    joint_loss,
)
from basnet_lib.model import ModelConfig, build_basnet

LN2, LN3 = math.log(2), math.log(3)


def tiny_outputs() -> tuple[dict[str, torch.Tensor], torch.Tensor, torch.Tensor]:
    """1×1×2 logits for 2 classes, 1×1×1×4 boundary logits, computed by hand below."""
    out = torch.tensor([[[[0.0, LN3]], [[0.0, 0.0]]]])  # (N=1, K=2, H=1, W=2)
    labels = torch.tensor([[[0, 1]]])
    boundary = torch.tensor([[[[0.0, 0.0, LN3, -LN3]]]])  # (1, 1, 1, 4)
    edges = torch.tensor([[[1.0, 0.0, 0.0, 0.0]]])
    return {"out": out, "boundary": boundary}, labels, edges


def test_known_values_by_hand() -> None:
    # CE: pixel 0 softmax (1/2, 1/2) → ln 2; pixel 1 label 1 with p = 1/(3+1) → ln 4. Mean 1.5 ln 2.
    outputs, labels, edges = tiny_outputs()
    seg = torch.nn.functional.cross_entropy(outputs["out"], labels)
    assert seg.item() == pytest.approx(1.5 * LN2, abs=1e-6)
    # BCE_bal: N_pos = 1, N_neg = 3, N = 4 → w_pos = 3/4, w_neg = 1/4.
    # BCE(0, 1) = ln 2; BCE(0, 0) = ln 2; BCE(ln 3, 0) = ln 4; BCE(-ln 3, 0) = ln(4/3).
    edge = (0.75 * LN2 + 0.25 * (LN2 + math.log(4) + math.log(4 / 3))) / 4
    assert balanced_bce_with_logits(outputs["boundary"], edges).item() == pytest.approx(edge, abs=1e-6)

    # The same pixels as a 2×2 image (seg logits repeated over two rows) through joint_loss.
    square = {"out": outputs["out"].repeat(1, 1, 2, 1), "boundary": outputs["boundary"].reshape(1, 1, 2, 2)}
    terms = joint_loss(square, labels=labels.repeat(1, 2, 1), edge_target=edges.reshape(1, 2, 2))
    assert set(terms) == {"seg", "edge", "probes", "total"}
    assert terms["seg"].item() == pytest.approx(1.5 * LN2, abs=1e-6)
    assert terms["edge"].item() == pytest.approx(edge, abs=1e-6)
    assert terms["probes"].item() == 0.0
    assert terms["total"].item() == pytest.approx(1.5 * LN2 + 0.05 * edge, abs=1e-6)
    heavier = joint_loss(
        square,
        labels=labels.repeat(1, 2, 1),
        edge_target=edges.reshape(1, 2, 2),
        config=LossConfig(edge_weight=1.0),
    )
    assert heavier["total"].item() == pytest.approx(1.5 * LN2 + edge, abs=1e-6)


def test_balanced_weights() -> None:
    generator = torch.Generator().manual_seed(0)
    target = (torch.rand(2, 1, 8, 8, generator=generator) < 0.2).float()
    positives, total = target.sum().item(), target.numel()
    negatives = total - positives
    # All-zero logits: every pixel costs ln 2, so the loss is (P·N_neg/N + N_neg·P/N)·ln 2 / N.
    zero_loss = balanced_bce_with_logits(torch.zeros_like(target), target)
    assert zero_loss.item() == pytest.approx(2 * positives * negatives / total**2 * LN2, rel=1e-6)
    # Gradient w.r.t. each logit is w·(σ(x) − t)/N: positives −w_pos/2N, negatives +w_neg/2N.
    logits = torch.zeros_like(target, requires_grad=True)
    balanced_bce_with_logits(logits, target).backward()
    grad = logits.grad
    assert torch.allclose(grad[target == 1], torch.tensor(-(negatives / total) / 2 / total))
    assert torch.allclose(grad[target == 0], torch.tensor((positives / total) / 2 / total))
    # No positive pixel: negatives get weight N_pos/N = 0, the term is 0 (GSCNN).
    assert balanced_bce_with_logits(torch.randn(1, 1, 4, 4), torch.zeros(1, 1, 4, 4)).item() == 0.0


def test_ignored_pixels_contribute_nothing() -> None:
    generator = torch.Generator().manual_seed(1)
    labels = torch.randint(0, 19, (2, 6, 7), generator=generator)
    labels[:, :2] = 255
    edges = (torch.rand(2, 1, 6, 7, generator=generator) < 0.3).float()
    out = torch.randn(2, 19, 6, 7, generator=generator, requires_grad=True)
    boundary = torch.randn(2, 1, 6, 7, generator=generator, requires_grad=True)
    terms = joint_loss({"out": out, "boundary": boundary}, labels=labels, edge_target=edges)
    terms["total"].backward()
    assert out.grad[:, :, :2].abs().max() == 0 and boundary.grad[:, :, :2].abs().max() == 0
    assert out.grad[:, :, 2:].abs().max() > 0 and boundary.grad[:, :, 2:].abs().max() > 0

    changed_out, changed_boundary = out.detach().clone(), boundary.detach().clone()
    changed_out[:, :, :2] = 1e3 * torch.randn(2, 19, 2, 7, generator=generator)
    changed_boundary[:, :, :2] = -1e3
    changed = joint_loss({"out": changed_out, "boundary": changed_boundary}, labels=labels, edge_target=edges)
    for name in ("seg", "edge", "total"):
        assert changed[name].item() == pytest.approx(terms[name].item(), rel=1e-6), name
    # Counted only over labelled pixels: equal to the loss of the labelled rows alone.
    rows = {"out": out[:, :, 2:], "boundary": boundary[:, :, 2:]}
    alone = joint_loss(rows, labels=labels[:, 2:], edge_target=edges[:, :, 2:])
    assert alone["edge"].item() == pytest.approx(terms["edge"].item(), rel=1e-6)
    assert alone["seg"].item() == pytest.approx(terms["seg"].item(), rel=1e-6)
    # With masking switched off the void pixels do count.
    unmasked = joint_loss(
        {"out": out, "boundary": changed_boundary},
        labels=labels,
        edge_target=edges,
        config=LossConfig(mask_ignored_edges=False),
    )
    assert unmasked["edge"].item() != pytest.approx(terms["edge"].item(), rel=1e-3)


def test_all_ignored_batch_gives_zero_not_nan() -> None:
    labels = torch.full((1, 3, 3), 255)
    terms = joint_loss(
        {"out": torch.randn(1, 19, 3, 3), "boundary": torch.randn(1, 1, 3, 3)},
        labels=labels,
        edge_target=torch.ones(1, 3, 3),
    )
    assert terms["total"].item() == 0.0


def test_no_edge_term_without_boundary_output() -> None:
    generator = torch.Generator().manual_seed(2)
    labels = torch.randint(0, 19, (2, 5, 5), generator=generator)
    out = torch.randn(2, 19, 5, 5, generator=generator)
    terms = joint_loss({"out": out}, labels=labels, edge_target=torch.ones(2, 5, 5))
    assert terms["edge"].item() == 0.0 and terms["probes"].item() == 0.0
    assert torch.equal(terms["total"], terms["seg"])
    without_target = joint_loss({"out": out}, labels=labels, edge_target=None)
    assert torch.equal(without_target["total"], terms["seg"])
    with pytest.raises(ValueError, match="edge_target"):
        joint_loss({"out": out, "boundary": out[:, :1]}, labels=labels, edge_target=None)


def test_probe_loss_reaches_only_probe_weights() -> None:
    config = ModelConfig(variant="ssb_bdb", backbone="resnet18", width=16, aspp_channels=16, sab_probes=True)
    model = build_basnet(config=config).train()
    images = torch.randint(0, 256, (2, 3, 32, 32), dtype=torch.uint8)
    gradient_map = image_gradient_map(images)
    outputs = model(gradient_map[:, :3], gradient_map)
    labels = torch.randint(0, 19, (2, 32, 32))
    edges = (torch.rand(2, 1, 32, 32) < 0.1).float()
    with_probes = joint_loss(outputs, labels=labels, edge_target=edges, config=LossConfig(probe_weight=1.0))
    without_probes = joint_loss(
        outputs, labels=labels, edge_target=edges, config=LossConfig(probe_weight=0.0)
    )
    assert with_probes["probes"].item() > 0

    names, parameters = zip(*model.named_parameters(), strict=True)
    is_probe = [name.startswith("sab_probes.") for name in names]
    probe_grads = torch.autograd.grad(with_probes["probes"], parameters, retain_graph=True, allow_unused=True)
    for name, probe, grad in zip(names, is_probe, probe_grads, strict=True):
        if probe:
            assert grad is not None and grad.abs().sum() > 0, name
        else:
            assert grad is None, name  # no path from the probe term to the main model

    # The probe term changes no gradient of the main model.
    main = [parameter for parameter, probe in zip(parameters, is_probe, strict=True) if not probe]
    grads_with = torch.autograd.grad(with_probes["total"], main, retain_graph=True, allow_unused=True)
    grads_without = torch.autograd.grad(without_probes["total"], main, allow_unused=True)
    assert any(grad is not None for grad in grads_with)
    for grad_with, grad_without in zip(grads_with, grads_without, strict=True):
        assert (grad_with is None and grad_without is None) or torch.equal(grad_with, grad_without)


def test_non_finite_monitor_names_the_first_bad_iteration_and_term() -> None:
    outputs, labels, edges = tiny_outputs()
    square = {"out": outputs["out"].repeat(1, 1, 2, 1), "boundary": outputs["boundary"].reshape(1, 1, 2, 2)}
    finite = joint_loss(square, labels=labels.repeat(1, 2, 1), edge_target=edges.reshape(1, 2, 2))
    monitor = NonFiniteMonitor()
    monitor.observe(finite, iteration=3)
    monitor.check()  # finite: no error
    square["boundary"] = square["boundary"].clone()
    square["boundary"][0, 0, 0, 0] = float("nan")
    bad = joint_loss(square, labels=labels.repeat(1, 2, 1), edge_target=edges.reshape(1, 2, 2))
    monitor.observe(bad, iteration=1234)
    monitor.observe(finite, iteration=1235)  # a later finite step does not hide it
    inf_seg = {name: torch.tensor(0.0) for name in LOSS_TERMS} | {"seg": torch.tensor(float("inf"))}
    monitor.observe(inf_seg, iteration=1236)  # nor does a later bad one replace it
    with pytest.raises(NonFiniteLossError, match=r"iteration 1234: edge=nan, total=nan"):
        monitor.check()
    other = NonFiniteMonitor()
    other.observe(inf_seg, iteration=1)
    with pytest.raises(NonFiniteLossError, match="iteration 1: seg=inf"):
        other.check()


def test_loss_config_validates() -> None:
    with pytest.raises(ValueError, match=r"LossConfig\.edge_weight=-1\.0 must be a finite number >= 0"):
        LossConfig(edge_weight=-1.0)
    with pytest.raises(ValueError, match="probe_weight"):
        LossConfig(probe_weight=float("nan"))
    with pytest.raises(ValueError, match="class_balance"):
        LossConfig(class_balance=float("inf"))


def test_balanced_class_weights_follow_the_pixel_frequencies() -> None:
    # Median of the present classes' counts: 100; an absent class weighs 1.
    weights = balanced_class_weights([400.0, 100.0, 25.0, 0.0], 0.5)
    assert weights == pytest.approx((0.5, 1.0, 2.0, 1.0))
    assert balanced_class_weights([400.0, 100.0, 25.0, 0.0], 0.0) == (1.0, 1.0, 1.0, 1.0)


def test_class_weights_give_the_weighted_mean_cross_entropy() -> None:
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 3, 4, 5, generator=generator)
    labels = torch.randint(0, 3, (2, 4, 5), generator=generator)
    labels[0, 0, :2] = 255  # ignored pixels count neither in the sum nor in the weights
    weights = (0.5, 2.0, 1.0)
    loss = joint_loss({"out": logits}, labels=labels, edge_target=None, class_weights=weights)
    per_pixel = torch.nn.functional.cross_entropy(logits, labels, ignore_index=255, reduction="none")
    labelled = labels != 255
    pixel_weights = torch.tensor(weights)[labels[labelled]]
    expected = (pixel_weights * per_pixel[labelled]).sum() / pixel_weights.sum()
    torch.testing.assert_close(loss["seg"], expected)
    uniform = joint_loss({"out": logits}, labels=labels, edge_target=None, class_weights=(3.0,) * 3)
    plain = joint_loss({"out": logits}, labels=labels, edge_target=None)
    torch.testing.assert_close(uniform["seg"], plain["seg"])  # equal weights: the unweighted mean
    assert not torch.allclose(loss["seg"], plain["seg"])


def test_hard_pixel_fraction_averages_the_hardest_labelled_pixels() -> None:
    # Four labelled pixels of known loss ln(1 + e^d) for logit gaps d = 0, 1, 2, 3 (class 1 is
    # always the label), one ignored pixel that would be the hardest of all.
    gaps = torch.tensor([0.0, 1.0, 2.0, 3.0, 9.0])
    logits = torch.stack([gaps, torch.zeros(5)]).reshape(1, 2, 1, 5)
    labels = torch.tensor([[[1, 1, 1, 1, 255]]])
    per_pixel = torch.log1p(torch.exp(gaps[:4]))
    half = joint_loss(
        {"out": logits}, labels=labels, edge_target=None, config=LossConfig(hard_pixel_fraction=0.5)
    )
    torch.testing.assert_close(half["seg"], per_pixel[2:].mean())  # the two hardest: gaps 2 and 3
    tenth = joint_loss(
        {"out": logits}, labels=labels, edge_target=None, config=LossConfig(hard_pixel_fraction=0.1)
    )
    torch.testing.assert_close(tenth["seg"], per_pixel[3])  # at least one pixel is kept
    half_weighted = joint_loss(
        {"out": logits},
        labels=labels,
        edge_target=None,
        config=LossConfig(hard_pixel_fraction=0.5),
        class_weights=(1.0, 4.0),
    )
    torch.testing.assert_close(half_weighted["seg"], per_pixel[2:].mean())
    everything = joint_loss(
        {"out": logits}, labels=labels, edge_target=None, config=LossConfig(hard_pixel_fraction=1.0)
    )
    torch.testing.assert_close(everything["seg"], per_pixel.mean())


def test_hard_pixel_fraction_sends_gradient_only_to_kept_pixels_and_validates() -> None:
    logits = torch.tensor([[[[0.0, 3.0]], [[0.0, 0.0]]]], requires_grad=True)  # pixel 1 is the harder
    labels = torch.tensor([[[1, 1]]])
    joint_loss({"out": logits}, labels=labels, edge_target=None, config=LossConfig(hard_pixel_fraction=0.5))[
        "seg"
    ].backward()
    assert logits.grad[..., 0].abs().sum() == 0 and logits.grad[..., 1].abs().sum() > 0
    nothing = torch.full((1, 1, 2), 255)
    assert (
        joint_loss(
            {"out": logits}, labels=nothing, edge_target=None, config=LossConfig(hard_pixel_fraction=0.5)
        )["seg"].item()
        == 0.0
    )
    for bad in (0.0, 1.5, float("nan")):
        with pytest.raises(ValueError, match="hard_pixel_fraction"):
            LossConfig(hard_pixel_fraction=bad)


def test_hard_pixel_probability_keeps_every_pixel_below_it_and_validates() -> None:
    # Label probabilities 1/(1 + e^d) for gaps d = 0, 1, 2, 3: 0.5, 0.27, 0.12, 0.05.
    gaps = torch.tensor([0.0, 1.0, 2.0, 3.0])
    logits = torch.stack([gaps, torch.zeros(4)]).reshape(1, 2, 1, 4)
    labels = torch.ones(1, 1, 4, dtype=torch.long)
    per_pixel = torch.log1p(torch.exp(gaps))
    below_0_3 = LossConfig(hard_pixel_fraction=0.25, hard_pixel_probability=0.3)  # 3 pixels beat the 1 of the floor
    torch.testing.assert_close(joint_loss({"out": logits}, labels=labels, edge_target=None, config=below_0_3)["seg"], per_pixel[1:].mean())
    floor = LossConfig(hard_pixel_fraction=0.5, hard_pixel_probability=0.1)  # 1 pixel below 0.1, the floor keeps 2
    torch.testing.assert_close(joint_loss({"out": logits}, labels=labels, edge_target=None, config=floor)["seg"], per_pixel[2:].mean())
    for bad in (-0.1, 1.0, float("nan")):
        with pytest.raises(ValueError, match="hard_pixel_probability"):
            LossConfig(hard_pixel_probability=bad)
