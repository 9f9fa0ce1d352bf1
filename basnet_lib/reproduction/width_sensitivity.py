"""The paper's claims again at a wider decoder: a sensitivity row beside each main verdict, not a
replacement for it (docs/decisions.md, "The Aggregation Module's deficit").

The width study (``studies/cpu_recipe.py --width 128 --variants ...``) trains the cpu preset with
another decoder width C; every variant has C (the baseline's semantic branch included), so its
claims pair variants of the same width and seed, exactly as the main claims do
(:func:`basnet_lib.reproduction.claims.claims`).
"""

from __future__ import annotations

import pandas as pd

from basnet_lib.reproduction.claims import claims
from basnet_lib.reproduction.statistics import format_ci, format_points

STUDY_COMMAND = "python studies/cpu_recipe.py --width {width} --variants baseline ssb ssb_bdb full --seeds 0 1 2"


def width_claims(width_runs: pd.DataFrame) -> pd.DataFrame:
    """The claims table (``claims.CLAIM_COLUMNS``) of each width's runs, with a ``width`` column."""
    frames = [claims(group).assign(width=int(width)) for width, group in width_runs.groupby("width")]
    return pd.concat(frames, ignore_index=True)


def sensitivity_markdown(main: pd.DataFrame, width_runs: pd.DataFrame, *, preset_width: int) -> str:
    """Each main claim beside the same claim at every studied width (mean difference, interval,
    verdict, n); a claim the width study cannot pair says which variants and seeds it ran."""
    wide = width_claims(width_runs)
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
