"""The paper's claims again at a wider decoder: a sensitivity row beside each main verdict, not a
replacement for it (docs/decisions.md, "The Aggregation Module's deficit").

The width study (``studies/cpu_recipe.py --width 128 --variants ...``) trains the cpu preset's
variants that have a decoder with another decoder width C. The baseline has none (ResNet + ASPP,
docs/method.md §1.10): C does not change it, so the main grid's baseline runs pair with the study's
runs of the same seed. The claims are then computed exactly as the main claims are
(:func:`basnet_lib.reproduction.claims.claims`).
"""

from __future__ import annotations

import pandas as pd

from basnet_lib.reproduction.claims import claims
from basnet_lib.reproduction.statistics import format_ci, format_points

STUDY_COMMAND = "python studies/cpu_recipe.py --width {width} --variants ssb ssb_bdb full --seeds 0 1 2"
WIDTHLESS_VARIANT = "baseline"  # no decoder: the same network at every C


def width_claims(width_runs: pd.DataFrame) -> pd.DataFrame:
    """The claims table (``claims.CLAIM_COLUMNS``) of each width's runs, with a ``width`` column."""
    frames = [claims(group).assign(width=int(width)) for width, group in width_runs.groupby("width")]
    return pd.concat(frames, ignore_index=True)


def with_main_baseline(width_runs: pd.DataFrame, main_runs: pd.DataFrame) -> pd.DataFrame:
    """The width study's runs and, at each width where the study did not train it, the main grid's
    baseline runs (C does not change the baseline)."""
    baseline = main_runs[main_runs["variant"] == WIDTHLESS_VARIANT]
    added = [
        baseline.assign(width=width)
        for width, group in width_runs.groupby("width")
        if not group["variant"].eq(WIDTHLESS_VARIANT).any()
    ]
    return pd.concat([width_runs, *added], ignore_index=True)


def sensitivity_markdown(
    main: pd.DataFrame, width_runs: pd.DataFrame, *, main_runs: pd.DataFrame, preset_width: int
) -> str:
    """Each main claim (``main``, the claims of ``main_runs``) beside the same claim at every
    studied width (mean difference, interval, verdict, n); a claim the width study cannot pair says
    which variants and seeds it ran."""
    wide = width_claims(with_main_baseline(width_runs, main_runs))
    lines = []
    for width, runs in width_runs.groupby("width"):
        at_width = wide[wide["width"] == width].set_index("claim")
        rows = []
        for claim in main.itertuples():
            cell = at_width.loc[claim.claim] if claim.claim in at_width.index else None
            rows.append(
                {
                    "claim": claim.claim,
                    f"at C = {preset_width}": _result(claim),
                    f"at C = {width}": "not run" if cell is None else _result(cell),
                }
            )
        lines += [pd.DataFrame(rows).to_markdown(index=False, disable_numparse=True), ""]
        ran = ", ".join(
            f"`{variant}` (seeds {', '.join(map(str, sorted(group['seed'])))})"
            for variant, group in runs.groupby("variant", sort=False)
        )
        if not runs["variant"].eq(WIDTHLESS_VARIANT).any():
            ran += f", paired with the main grid's `{WIDTHLESS_VARIANT}` runs (no decoder: C does not change it)"
        lines.append(
            f"At C = {width} the width study ran {ran}. A claim is checked there only where both of its "
            f"variants ran on the same seeds; `{STUDY_COMMAND.format(width=width)}` runs every one."
        )
        lines.append("")
    return "\n".join(lines)


def _result(row) -> str:
    """``verdict: mean [low, high] (n=…)`` of one claims-table row."""
    return (
        f"{row.verdict}: {format_points(row.mean_difference)} {format_ci(row.ci_low, row.ci_high)} (n={row.n})"
    )
