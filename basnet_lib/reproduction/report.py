"""``REPORT.md``: the reproduction at a glance, built from the artifacts the notebooks wrote.

Tables beside the paper's numbers, the figures, the machine, the commands, the time, and which of
the paper's claims our measurements support: every statement is derived from the saved CSVs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from basnet_lib.engine.presets import preset
from basnet_lib.reproduction.agreement import REFERENCE_RUNS, agreement_markdown
from basnet_lib.reproduction.claims import claims, claims_markdown, noise_floor, noise_floor_markdown
from basnet_lib.reproduction.invocations import how_it_was_made
from basnet_lib.reproduction.learning_curves import read_width_runs
from basnet_lib.reproduction.limitations import limitations_markdown, preset_fields
from basnet_lib.reproduction.verdict_stability import (
    MAIN_JOB_TIMES,
    hosts_markdown,
    main_job_times_markdown,
    read_earlier_hosts,
    read_main_job_times,
    seed_budget,
    stability_markdown,
    verdict_stability,
    verdicts_across_hosts,
)
from basnet_lib.reproduction.width_sensitivity import sensitivity_markdown

TABLES_DIR, FIGURES_DIR = "tables", "figures"
# Figures of the report, in reading order (file name in figures/, caption).
REPORT_FIGURES = (
    ("architecture_full.png", "Block diagram of the full model with tensor shapes (notebook 01, Fig. 1)"),
    ("table1_miou.png", "Table 1: mIoU per variant, error bars = std over seeds (notebook 03)"),
    (
        "learning_curves.png",
        "Val learning curves of every run; dashed: the same recipe with 4× the steps (notebook 03)",
    ),
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
    # Runs of the grid a partial report leaves out (not finished when it was written).
    missing_runs: tuple[str, ...] = ()


def write_report(
    results_root: str | Path,
    *,
    settings: ReproductionSettings,
    notebook_seconds: dict[str, float],
) -> Path:
    """Write ``{results_root}/REPORT.md`` from ``tables/``, ``figures/`` and ``runs.csv``."""
    results_root = Path(results_root)
    tables = results_root / TABLES_DIR
    runs = pd.read_csv(tables / "runs.csv")
    claim_table = claims(runs)
    lines = [
        *_header(settings, runs),
        "## Which claims our measurements support",
        "",
        claims_markdown(claim_table),
        *_width_sensitivity_section(results_root, settings.preset, runs, claim_table),
        *_agreement_section(settings.preset, runs),
        *_stability_section(settings, runs),
        "## Noise floor",
        "",
        "Seed-to-seed spread of each variant, and for each claim the smallest mean gain its 95% "
        "interval could separate from 0 with these seeds (t·sd/√n of the paired differences).",
        "",
        noise_floor_markdown(noise_floor(runs)),
        *_section("Table 1: mIoU (%) per module, val", tables / "table1.md"),
        *_section("Thin classes: per-class IoU", tables / "thin_classes.md"),
        *_section("Table 3: boundary F-score (%), val", tables / "table3.md"),
        *_section("Table 3's second measure: Boundary IoU (%), val", tables / "table3_boundary_iou.md"),
        *_section("The boundary branch on its own", tables / "boundary_map.md"),
        *_section("Checkerboard artefacts in the boundary maps", tables / "checkerboard.md"),
        *_section("Boundary F read correctly: empty pairs", tables / "boundary_f_present.md"),
        *_section("Learning curves: how far from the plateau", tables / "plateau_gap.md"),
        *_section("The Aggregation Module's deficit: width or method?", tables / "width.md"),
        "## Runs",
        "",
        runs.to_markdown(index=False, floatfmt=".2f"),
        "",
        "## Where this preset departs from the paper's protocol",
        "",
        preset_deviations_markdown(settings.preset),
        *_limitations_section(settings),
        "## Figures",
        "",
    ]
    for name, caption in REPORT_FIGURES:
        if (results_root / FIGURES_DIR / name).is_file():
            lines += [f"**{caption}**", "", f"![{caption}]({FIGURES_DIR}/{name})", ""]
    lines += how_it_was_made(settings.command, notebook_seconds, results_root)
    path = results_root / "REPORT.md"
    path.write_text("\n".join(lines))
    return path


def results_summary(results_root: str | Path) -> str:
    """The README's results summary, derived from the committed tables (a test keeps the README
    equal to it): per variant mIoU and boundary F (3 px) mean ± std over seeds, and the verdicts."""
    tables = Path(results_root) / TABLES_DIR
    runs = pd.read_csv(tables / "runs.csv")
    maps_path = tables / "boundary_map_runs.csv"
    maps = pd.read_csv(maps_path) if maps_path.is_file() else pd.DataFrame(columns=["variant", "ODS_F"])
    lines = [
        "| variant | seeds | val mIoU (%) | boundary F 3 px (%) | boundary map ODS F (%) |",
        "|---|---:|---:|---:|---:|",
    ]
    for variant, group in runs.groupby("variant", sort=False):
        ods = maps.loc[maps["variant"] == variant, "ODS_F"]
        cells = [_mean_std_text(group[column]) for column in ("mIoU", "F_3px")] + [
            _mean_std_text(ods) if len(ods) else "—"
        ]
        lines.append(f"| `{variant}` | {len(group)} | {' | '.join(cells)} |")
    verdicts = claims(runs)["verdict"]
    counts = {
        label: int(verdicts.str.startswith(label).sum())
        for label in ("supported", "contradicted", "inconclusive")
    }
    lines += [
        "",
        f"Of the paper's {len(verdicts)} claims checked, {counts['supported']} are supported, "
        f"{counts['contradicted']} contradicted and {counts['inconclusive']} inconclusive (95% "
        "intervals of per-seed paired differences); claims, intervals and the boundary branch's own "
        "scores: [`results/REPORT.md`](results/REPORT.md).",
    ]
    return "\n".join(lines)


def _mean_std_text(values: pd.Series) -> str:
    return f"{values.mean():.1f} ± {values.std(ddof=1):.1f}"


def preset_deviations_markdown(preset_name: str) -> str:
    """Every config field where ``preset_name`` differs from the ``paper`` preset, as a table."""
    if preset_name == "paper":
        return "None: this is the `paper` preset.\n"
    ours, paper = preset_fields(preset_name), preset_fields("paper")
    rows = [
        f"| `{field}` | {value!r} | {paper[field]!r} |"
        for field, value in ours.items()  # every field of the run config
        if value != paper[field] and field.split(".", 1)[1] not in _BOOKKEEPING_FIELDS
    ]
    return "\n".join([f"| field | `{preset_name}` | `paper` |", "|---|---|---|", *rows]) + "\n"


def _header(settings: ReproductionSettings, runs: pd.DataFrame) -> list[str]:
    data = settings.data_root or 'SynthCity (generated, Cityscapes layout, docs/decisions.md "SynthCity")'
    return [
        f"# BASNet reproduction report: `{settings.preset}` preset",
        "",
        f"Dataset: {data}. Variants: {', '.join(settings.variants)}; backbones: "
        f"{', '.join(sorted(set(runs['backbone'])))}; seeds: {', '.join(map(str, settings.seeds))}"
        + (f"; iterations overridden to {settings.iterations}" if settings.iterations else "")
        + ".",
        "",
        "The paper's numbers are Cityscapes with ImageNet ResNet-50/101 at full scale; unless this is the "
        "`paper` preset they are a reference, not a target. What we check is the *direction* of each gain "
        "the paper claims (all positive), from the 95% Student-t interval of the per-seed paired "
        "difference: supported = above 0, contradicted = below 0, inconclusive = spans 0 or one seed.",
        "",
        *_partial_note(settings.missing_runs),
    ]


def _partial_note(missing_runs: tuple[str, ...]) -> list[str]:
    """A partial report's warning: which runs of the grid are missing from every table and figure."""
    if not missing_runs:
        return []
    return [
        f"**Partial report: {len(missing_runs)} runs of the grid are missing** (not finished when it was "
        f"written): {', '.join(f'`{name}`' for name in missing_runs)}. Every table, claim and figure "
        "below uses the finished runs only.",
        "",
    ]


def _limitations_section(settings: ReproductionSettings) -> list[str]:
    text = limitations_markdown(settings.preset, synthcity=not settings.data_root)
    return [f"## Limitations of the `{settings.preset}` preset", "", text] if text else []


def _agreement_section(preset_name: str, runs: pd.DataFrame) -> list[str]:
    """The cpu preset's check against the committed reference run (there is none for the others)."""
    if preset_name != "cpu" or not REFERENCE_RUNS.is_file():
        return []
    reference = pd.read_csv(REFERENCE_RUNS)
    name = f"the committed `cpu` run (`results/reference/{REFERENCE_RUNS.name}`)"
    return ["## Agreement with the reference run", "", agreement_markdown(runs, reference, reference_name=name)]


def _width_sensitivity_section(
    results_root: Path, preset_name: str, runs: pd.DataFrame, claim_table: pd.DataFrame
) -> list[str]:
    """The claims at the width study's decoder widths, beside the main verdicts (where it ran)."""
    width_runs = read_width_runs(results_root)
    if width_runs is None:
        return []
    text = sensitivity_markdown(
        claim_table, width_runs, main_runs=runs, preset_width=preset(preset_name).model.width
    )
    return ["### The same claims at a wider decoder (sensitivity, not a verdict)", "", text]


def _stability_section(settings: ReproductionSettings, runs: pd.DataFrame) -> list[str]:
    """How likely another host gives each verdict again; the cpu preset's with its time budget."""
    times = read_main_job_times() if settings.preset == "cpu" and MAIN_JOB_TIMES.is_file() else None
    budget = None if times is None else seed_budget(times)
    stability = verdict_stability(runs)
    text = stability_markdown(stability, seeds=len(settings.seeds), budget=budget)
    if times is not None:
        text += "\nThe main job's measured times (`results/reference/main_job_times.csv`):\n\n"
        text += main_job_times_markdown(times)
    earlier = read_earlier_hosts() if settings.preset == "cpu" else {}
    if earlier:
        across = verdicts_across_hosts({"these runs": runs, **earlier})
        text += "\nMeasured: the verdicts of these runs and of the grids other hosts trained "
        text += "(`results/reference/earlier_hosts/`):\n\n" + hosts_markdown(across, stability)
    intro = (
        "A change of CPU moves each run as a new draw of its training noise does (docs/decisions.md, "
        "\"Verdicts that do not depend on the host\"), so another host's verdict is what n new seeds "
        "would give: the probability of each verdict follows from the paired differences' mean and std "
        "(noncentral t)."
    )
    return ["## How stable the verdicts are across hosts", "", intro, "", text]


def _section(title: str, path: Path) -> list[str]:
    """A report section from a table the notebooks wrote; absent tables leave the section out."""
    return [f"## {title}", "", path.read_text(), ""] if path.is_file() else []


# Fields that say where and how a run is kept or observed, not what it learns: the SAB probes are
# detached heads, evaluations during training leave the weights bit-identical (both tested), and
# the thread count only changes float rounding.
_BOOKKEEPING_FIELDS = (
    "root",
    "results_dir",
    "run_name",
    "checkpoint_every",
    "log_every",
    "num_workers",
    "sab_probes",
    "eval_every",
    "eval_images",
    "threads",
)
