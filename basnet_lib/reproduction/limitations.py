"""The report's "Limitations of the cpu preset": each way the cpu preset scales the paper down,
its value beside the paper's (read from the two presets' configs), the claims it may move, and the
measurement behind that statement, or "not measured" where there is none.

The values come from the configs, so they cannot drift from what ran; what each scale-down may do
to the claims is our reading, and it points at the measurement (a report section or a
docs/decisions.md section) that supports it.
"""

from __future__ import annotations

from dataclasses import dataclass

from basnet_lib.engine.config_io import config_to_dict
from basnet_lib.engine.presets import preset


@dataclass(frozen=True)
class ScaleDown:
    """One departure from the paper: the config fields that show it, the claims it may move, and
    where it was measured."""

    name: str
    fields: tuple[str, ...]
    claims: str
    measured: str
    # For a departure no config field shows (the dataset): the two sides as text.
    sides: tuple[str, str] = ("", "")


SCALE_DOWNS = (
    ScaleDown(
        "no ImageNet weights",
        ("model.pretrained_backbone",),
        "every mIoU claim; thin classes above all (traffic lights and signs are learned last from scratch)",
        "not measured (the preset has no weights offline); the report's thin-class table shows what is not learned",
    ),
    ScaleDown(
        "ResNet-18",
        ("model.backbone",),
        "the size of every module gain: the paper measured them on ResNet-50/101",
        "not measured",
    ),
    ScaleDown(
        "decoder width C",
        ("model.width", "model.aspp_channels"),
        "AM raises mIoU; full beats the baseline in mIoU (the AM's classifier sees C/4 + C/8 channels)",
        "measured: the report's \"The Aggregation Module's deficit: width or method?\" (C = 128)",
    ),
    ScaleDown(
        "small crops and images",
        ("data.crop_height", "data.crop_width"),
        "boundary F at 3/5/9 px, which are 1/2/3 px at 256×512, and the largest-at-strictest claim",
        'crops measured for the baseline only: docs/decisions.md, "cpu recipe" (+4.1 mIoU at 128×256)',
    ),
    ScaleDown(
        "600 steps",
        ("train.iterations", "train.learning_rate"),
        "every claim: the runs are far from their plateau",
        'measured: the report\'s "Learning curves: how far from the plateau" (4× the steps)',
    ),
    ScaleDown(
        "SynthCity instead of Cityscapes",
        (),
        "every claim: synthetic scenes with clean boundaries and 100 val images",
        "not measured (Cityscapes cannot be downloaded here)",
        sides=("SynthCity (generated)", "Cityscapes"),
    ),
    ScaleDown(
        "edge weight λ",
        ("loss.edge_weight",),
        "BDB raises mIoU; full beats the baseline in boundary F (λ = 0.05 leaves the boundary branch untrained at 600 steps)",
        'measured: docs/decisions.md, "cpu recipe", second round (λ = 0.05, 1, 3)',
    ),
    ScaleDown(
        "class-balanced loss",
        ("loss.class_balance",),
        "every mIoU claim, thin classes above all",
        'measured for the baseline only: docs/decisions.md, "cpu recipe"',
    ),
)


def limitations_markdown(preset_name: str, *, synthcity: bool) -> str:
    """The section's table for ``preset_name`` against the ``paper`` preset ("" where they agree);
    ``synthcity``: the runs trained on the generated dataset (no data root given)."""
    ours, paper = preset_fields(preset_name), preset_fields("paper")
    lines = [
        f"Each way the `{preset_name}` preset scales the paper down, the claims it may move and the "
        "measurement behind that. Values are the two presets' configs; the paper's numbers are "
        "Cityscapes at full scale, so these limit how far our verdicts speak for the paper's setting.",
        "",
        f"| scale-down | `{preset_name}` | paper | claims it may move | measured |",
        "|---|---|---|---|---|",
    ]
    rows = []
    for item in SCALE_DOWNS:
        if item.fields and all(ours.get(field) == paper.get(field) for field in item.fields):
            continue  # this preset keeps the paper's value
        if not item.fields and not synthcity:
            continue
        mine = ", ".join(f"{_short(field)} {ours.get(field)!r}" for field in item.fields) or item.sides[0]
        theirs = ", ".join(f"{_short(field)} {paper.get(field)!r}" for field in item.fields) or item.sides[1]
        rows.append(f"| {item.name} | {mine} | {theirs} | {item.claims} | {item.measured} |")
    return "\n".join([*lines, *rows]) + "\n" if rows else ""


def preset_fields(preset_name: str) -> dict[str, object]:
    """Every field of the preset's run config (for the full model), keyed ``section.name``."""
    config = config_to_dict(preset(preset_name, variant="full", data_root="-"))
    return {f"{section}.{name}": value for section, fields in config.items() for name, value in fields.items()}


def _short(field: str) -> str:
    return field.split(".", 1)[1]
