"""``REPORT.md``: the reproduction at a glance, built from the artifacts the notebooks wrote.

Tables beside the paper's numbers, the figures, the machine, the commands, the time, and which of
the paper's claims our measurements support: every statement is derived from the saved CSVs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from basnet_lib.claims import claims, claims_markdown
from basnet_lib.summary import system_info

TABLES_DIR, FIGURES_DIR, NOTEBOOKS_OUT_DIR = "tables", "figures", "notebooks"
# Figures of the report, in reading order (file name in figures/, caption).
REPORT_FIGURES = (
    ("architecture_full.png", "Block diagram of the full model with tensor shapes (notebook 01, Fig. 1)"),
    ("table1_miou.png", "Table 1: mIoU per variant, error bars = std over seeds (notebook 03)"),
    ("fscore_vs_tolerance.png", "Table 3: boundary F against tolerance (notebook 04)"),
    ("per_class_fscore.png", "Per-class boundary F at the strictest threshold (notebook 04)"),
    ("fig4_sab_probes.png", "Fig. 4: SAB-probe boundary maps per stage (notebook 05)"),
    ("fig6_segmentation.png", "Fig. 6: segmentation per variant (notebook 05)"),
    ("fig7_boundaries.png", "Fig. 7: boundary per variant (notebook 05)"),
)


@dataclass(frozen=True)
class ReproductionSettings:
    """What the main job ran: the grid, where it wrote, and how it was asked for."""

    preset: str
    variants: tuple[str, ...]
    backbones: tuple[str, ...]
    seeds: tuple[int, ...]
    data_root: str
    iterations: int
    command: str


def write_report(
    results_root: str | Path,
    *,
    settings: ReproductionSettings,
    notebook_seconds: dict[str, float],
    wall_seconds: float,
) -> Path:
    """Write ``{results_root}/REPORT.md`` from ``tables/``, ``figures/`` and ``runs.csv``."""
    results_root = Path(results_root)
    tables = results_root / TABLES_DIR
    table1 = pd.read_csv(tables / "table1.csv")
    table3 = pd.read_csv(tables / "table3.csv")
    runs = pd.read_csv(tables / "runs.csv")
    data = settings.data_root or "SynthCity (generated, Cityscapes layout, SPEC B2)"
    lines = [
        f"# BASNet reproduction report: `{settings.preset}` preset",
        "",
        f"Dataset: {data}. Variants: {', '.join(settings.variants)}; backbones: "
        f"{', '.join(sorted(set(table1['backbone'])))}; seeds: {', '.join(map(str, settings.seeds))}"
        + (f"; iterations overridden to {settings.iterations}" if settings.iterations else "")
        + ".",
        "",
        "The paper's numbers are Cityscapes with ImageNet ResNet-50/101 at full scale; unless this is the "
        "`paper` preset they are a reference, not a target. What we check is the *direction* of each gain "
        'the paper claims ("reproduced" = same sign as the paper\'s, all of which are positive).',
        "",
        "## Which claims our measurements support",
        "",
        claims_markdown(claims(table1, table3)),
        "## Table 1: mIoU (%) per module, val",
        "",
        (tables / "table1.md").read_text(),
        "## Table 3: boundary F-score (%), val",
        "",
        (tables / "table3.md").read_text(),
        "## Runs",
        "",
        runs.to_markdown(index=False, floatfmt=".2f"),
        "",
        "## Figures",
        "",
    ]
    for name, caption in REPORT_FIGURES:
        if (results_root / FIGURES_DIR / name).is_file():
            lines += [f"**{caption}**", "", f"![{caption}]({FIGURES_DIR}/{name})", ""]
    lines += [
        "## How it was made",
        "",
        f"Command: `{settings.command}`",
        "",
        f"Wall time: {wall_seconds / 60:.1f} min in total.",
        "",
        "| executed notebook | seconds |",
        "|---|---:|",
        *[f"| `{NOTEBOOKS_OUT_DIR}/{name}` | {seconds:.0f} |" for name, seconds in notebook_seconds.items()],
        "",
        "Each run's own executed `02_training.ipynb` is in its run directory (`runs/<preset>/<run>/`).",
        "",
        "Machine:",
        "",
        "```json",
        json.dumps(system_info(), indent=2),
        "```",
        "",
    ]
    path = results_root / "REPORT.md"
    path.write_text("\n".join(lines))
    return path


__all__ = ["REPORT_FIGURES", "ReproductionSettings", "write_report"]
