"""The paper's claims checked against our runs: a verdict per claim from an interval over seeds.

Every claim is "X is higher than Y" (all the paper's gains are positive). Per seed we take the paired
difference X − Y (same seed, same backbone; a seed only one side ran is dropped), and the Student-t
interval of its mean (:func:`basnet_lib.reproduction.statistics.paired_stats`, shared with Table 1) decides: supported
when it lies above 0, contradicted below 0, inconclusive when it spans 0 or one seed gives no
interval. Nothing here is fixed text about the outcome: the statements follow the numbers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from basnet_lib.model.variants import BASELINE, FULL, reference_variant, table1_variants, variant_row
from basnet_lib.reproduction.statistics import (
    CONFIDENCE,
    CONTRADICTED,
    INCONCLUSIVE,
    SUPPORTED,
    PairedStats,
    format_ci,
    format_mean_std,
    format_points,
    interval_columns,
    paired_stats,
    sample_std,
)
from basnet_lib.reproduction.tables import (
    F_COLUMNS,
    METRICS,
    PAPER_TABLE3,
    paired_differences,
    paper_table1,
    present_variants,
    variant_values,
)

CLAIM_COLUMNS = ["claim", "paper", "n", "mean_difference", "ci_low", "ci_high", "verdict"]
NOISE_COLUMNS = ["backbone", "kind", "compared", "metric", "n", "mean", "std", "min_detectable_gain"]
# The paper's Table 3 rows standing for our baseline / full variants.
PAPER_BASELINE, PAPER_FULL = "DeepLabV3+", "BASNet"


@dataclass(frozen=True)
class ClaimCheck:
    """One claim on one backbone: its text, the paper's gain, what is compared and our statistics."""

    backbone: str
    claim: str
    paper: str
    compared: str
    metric: str
    stats: PairedStats


def check_claims(runs: pd.DataFrame) -> list[ClaimCheck]:
    """Every claim the runs (``tables.runs_frame``) allow checking, per backbone in order of appearance.

    Each variant raises mIoU over the one it is compared with in the variant table (its
    ``compared_with``, or the nearest one before it that ran); the full model beats the baseline in
    mIoU and in boundary F at 3/5/9 px; and that boundary gain is largest at the strictest tolerance
    (per seed: gain at 3 px minus gain at 9 px).
    """
    checks = []
    for backbone in dict.fromkeys(runs["backbone"]):
        present = present_variants(runs, backbone)
        for variant in present:
            reference = reference_variant(variant, present=present)
            # Without the middle rows, full over baseline is the claim checked below: count it once.
            if reference is not None and (reference, variant) != (BASELINE, FULL):
                checks.append(_module_check(runs, backbone, variant, reference))
        if {BASELINE, FULL} <= set(present):
            checks += _full_vs_baseline_checks(runs, backbone)
    return checks


def claims(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per claim: the paper's gain, n paired seeds, our mean difference (points), its 95%
    interval and the verdict (``supported`` / ``contradicted`` / ``inconclusive``)."""
    rows = [
        {
            "claim": check.claim,
            "paper": check.paper,
            "n": check.stats.n,
            "mean_difference": check.stats.mean,
            "ci_low": check.stats.ci_low,
            "ci_high": check.stats.ci_high,
            "verdict": check.stats.verdict,
        }
        for check in check_claims(runs)
    ]
    return pd.DataFrame(rows, columns=CLAIM_COLUMNS)


def claims_markdown(frame: pd.DataFrame) -> str:
    """The claims table, then a plain summary: how many claims are supported, contradicted,
    inconclusive, and which."""
    if frame.empty:
        return "No claim can be checked: a backbone needs at least two Table 1 variants.\n"
    shown = pd.DataFrame({"claim": list(frame["claim"]), "paper": list(frame["paper"]), **interval_columns(frame)})
    groups = {label: frame[frame["verdict"].str.startswith(label)] for label in _VERDICT_LABELS}
    lines = [
        shown.to_markdown(index=False, disable_numparse=True),
        "",
        f"Verdicts come from the {CONFIDENCE:.0%} Student-t interval of the per-seed paired difference "
        "(ours minus the variant it is compared with): supported when it lies above 0, contradicted "
        "below 0, inconclusive when it spans 0 or a single seed gives no interval.",
        "",
        f"{len(groups[SUPPORTED])} of {len(frame)} claims supported; {len(groups[CONTRADICTED])} "
        f"contradicted; {len(groups[INCONCLUSIVE])} inconclusive.",
    ]
    for label, rows in groups.items():
        if rows.empty:
            continue
        lines += ["", f"{_VERDICT_LABELS[label]}:"]
        lines += [
            f"- {row.claim}: {format_points(row.mean_difference)} pts, {CONFIDENCE:.0%} CI "
            f"{format_ci(row.ci_low, row.ci_high)}, n={row.n} (paper {row.paper})"
            for row in rows.itertuples()
        ]
    return "\n".join(lines) + "\n"


def noise_floor(runs: pd.DataFrame) -> pd.DataFrame:
    """How much our numbers move between seeds, and the smallest gain this setup could call supported.

    ``kind == "variant"`` rows: per (backbone, variant) and metric, n seeds, mean and seed-to-seed
    std (%). ``kind == "paired difference"`` rows: per claim, the paired differences' n, mean and std
    (points) and ``min_detectable_gain``, the interval's half-width t·sd/√n: a mean gain must exceed
    it to be supported (NaN with one seed).
    """
    rows = []
    for backbone in dict.fromkeys(runs["backbone"]):
        for variant in present_variants(runs, backbone):
            for metric in METRICS:
                values = variant_values(runs, backbone, variant, metric)
                mean = float(values.mean()) if len(values) else math.nan
                rows.append(
                    [backbone, "variant", variant, metric, len(values), mean, sample_std(values), math.nan]
                )
    for check in check_claims(runs):
        paired = check.stats
        spread = [paired.n, paired.mean, paired.std, paired.half_width]
        rows.append([check.backbone, "paired difference", check.compared, check.metric, *spread])
    return pd.DataFrame(rows, columns=NOISE_COLUMNS)


def noise_floor_markdown(frame: pd.DataFrame) -> str:
    """The noise floor as two Markdown tables: spread per variant, smallest detectable gain per claim."""
    variants = frame[frame["kind"] == "variant"]
    pairs = frame[frame["kind"] == "paired difference"]
    spread = pd.DataFrame(
        [
            {
                "backbone": backbone,
                "variant": variant,
                **{row.metric: format_mean_std(row.mean, row.std, int(row.n)) for row in group.itertuples()},
            }
            for (backbone, variant), group in variants.groupby(["backbone", "compared"], sort=False)
        ],
        columns=["backbone", "variant", *METRICS],
    )
    detectable = pd.DataFrame(
        {
            "backbone": pairs["backbone"],
            "compared": pairs["compared"],
            "metric": pairs["metric"],
            "n": pairs["n"],
            "mean difference (pts)": [format_points(value) for value in pairs["mean"]],
            "std of differences (pts)": [_plain(value) for value in pairs["std"]],
            "smallest detectable gain (pts)": [_plain(value) for value in pairs["min_detectable_gain"]],
        }
    )
    return (
        "Seed-to-seed spread (%, mean ± sample std over seeds):\n\n"
        + spread.to_markdown(index=False, disable_numparse=True)
        + f"\n\nSmallest gain each claim could detect: the {CONFIDENCE:.0%} interval's half-width "
        "t·sd/√n of the paired per-seed differences (a mean gain must exceed it to be supported; "
        "— with one seed):\n\n" + detectable.to_markdown(index=False, disable_numparse=True) + "\n"
    )


_VERDICT_LABELS = {SUPPORTED: "Supported", CONTRADICTED: "Contradicted", INCONCLUSIVE: "Inconclusive"}


def _module_check(runs: pd.DataFrame, backbone: str, variant: str, reference: str) -> ClaimCheck:
    """The modules ``variant`` adds over ``reference`` raise mIoU (the paper's gain between the same
    rows, where the paper has both)."""
    return _compare(
        runs,
        backbone,
        claim=f"{_added_modules(reference, variant)} raises mIoU over {reference} ({backbone})",
        paper=_paper_miou_gains(variant, reference),
        variant=variant,
        reference=reference,
        metric="mIoU",
    )


def _paper_miou_gains(variant: str, reference: str) -> str:
    """The paper's Table 1 gain of ``variant`` over ``reference`` per backbone (``—`` where it has none)."""
    gains = [
        f"{values[variant] - values[reference]:+.2f} ({name})"
        for name, values in paper_table1().items()
        if variant in values and reference in values
    ]
    return " / ".join(gains) or "—"


def _full_vs_baseline_checks(runs: pd.DataFrame, backbone: str) -> list[ClaimCheck]:
    """Full beats baseline in mIoU and in boundary F per threshold; the gain is largest at the
    strictest threshold."""
    paper_miou = _paper_miou_gains(FULL, BASELINE)
    checks = [_compare(runs, backbone, f"full BASNet beats the baseline in mIoU ({backbone})", paper_miou)]
    paper_gains = dict(
        zip(F_COLUMNS, np.subtract(PAPER_TABLE3[PAPER_FULL], PAPER_TABLE3[PAPER_BASELINE]), strict=True)
    )
    for column in F_COLUMNS:
        claim = f"full BASNet beats the baseline in boundary {column} ({backbone})"
        paper = f"{paper_gains[column]:+.1f} ({PAPER_FULL} vs {PAPER_BASELINE})"
        checks.append(_compare(runs, backbone, claim, paper, metric=column))
    strict, loose = F_COLUMNS[0], F_COLUMNS[-1]
    gains = {
        column: paired_differences(
            runs, backbone=backbone, variant=FULL, reference=BASELINE, metric=column
        )
        for column in (strict, loose)
    }
    strict_px, loose_px = strict.removeprefix("F_"), loose.removeprefix("F_")
    paper_excess = paper_gains[strict] - paper_gains[loose]
    checks.append(
        ClaimCheck(
            backbone=backbone,
            claim=f"the boundary gain is largest at the strictest tolerance ({backbone})",
            paper=f"{paper_gains[strict]:+.1f} at {strict_px} vs {paper_gains[loose]:+.1f} at {loose_px}: "
            f"{paper_excess:+.1f}",
            compared=f"{FULL} − {BASELINE}",
            metric=f"{strict} gain − {loose} gain",
            stats=paired_stats(gains[strict] - gains[loose]),
        )
    )
    return checks


def _compare(
    runs: pd.DataFrame,
    backbone: str,
    claim: str,
    paper: str,
    *,
    variant: str = FULL,
    reference: str = BASELINE,
    metric: str = "mIoU",
) -> ClaimCheck:
    differences = paired_differences(
        runs, backbone=backbone, variant=variant, reference=reference, metric=metric
    )
    return ClaimCheck(
        backbone=backbone,
        claim=claim,
        paper=paper,
        compared=f"{variant} − {reference}",
        metric=metric,
        stats=paired_stats(differences),
    )


def _added_modules(reference: str, variant: str) -> str:
    """What ``variant`` adds over ``reference``: the modules it switches on (``SSB``; ``BDB+AM`` when a
    row is missing), with its name where another variant has the same modules (or it adds none)."""
    modules = variant_row(variant).modules
    added = "+".join(module for module in modules if module not in variant_row(reference).modules)
    twins = [row.name for row in table1_variants() if row.modules == modules]
    if not added:
        return variant
    return added if twins == [variant] else f"{added} ({variant})"


def _plain(value: float) -> str:
    return "—" if math.isnan(value) else f"{value:.2f}"
