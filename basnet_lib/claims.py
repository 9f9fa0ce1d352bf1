"""The paper's claims checked against our numbers: a verdict per claim, derived from the tables.

Nothing here is fixed text about the outcome: each verdict compares the *direction* of a gain
the paper reports (Table 1, Table 3) with the direction of ours, so the statements flip when the
numbers do.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from basnet_lib.tables import (
    F_COLUMNS,
    NOT_REPRODUCED,
    PAPER_TABLE1,
    PAPER_TABLE3,
    REPRODUCED,
    variant_above,
)


def claims(table1_frame: pd.DataFrame, table3_frame: pd.DataFrame) -> pd.DataFrame:
    """The paper's claims with its number, ours, and whether ours supports it (derived, never fixed).

    Claims: each module raises mIoU (Table 1 rows); the full model beats the baseline in mIoU;
    the full model's boundary F beats the baseline's at 3/5/9 px (Table 3, BASNet vs DeepLabV3+);
    that boundary gain is largest at the strictest tolerance (paper: +5.1 at 3 px, +2.4 at 9 px).
    """
    rows = []
    for _, row in table1_frame.iterrows():
        if np.isnan(row["gain"]):
            continue
        above = variant_above(
            row["variant"],
            present=list(table1_frame.loc[table1_frame["backbone"] == row["backbone"], "variant"]),
        )
        paper = " / ".join(f"{row[f'paper_{name}_gain']:+.2f} ({name})" for name in PAPER_TABLE1)
        rows.append(
            {
                "claim": f"{_added_module(row['variant'])} raises mIoU over {above} ({row['backbone']})",
                "paper": paper,
                "ours": f"{row['gain']:+.2f}",
                "verdict": row["verdict"],
            }
        )
    for backbone, group in table1_frame.groupby("backbone", sort=False):
        by_variant = group.set_index("variant")
        if {"baseline", "full"} <= set(by_variant.index):
            gain = by_variant.at["full", "mIoU_mean"] - by_variant.at["baseline", "mIoU_mean"]
            paper = " / ".join(
                f"{values['full'] - values['baseline']:+.2f} ({name})"
                for name, values in PAPER_TABLE1.items()
            )
            rows.append(
                {
                    "claim": f"full BASNet beats the baseline in mIoU ({backbone})",
                    "paper": paper,
                    "ours": f"{gain:+.2f}",
                    "verdict": REPRODUCED if gain > 0 else NOT_REPRODUCED,
                }
            )
    ours = table3_frame[table3_frame["source"] == "ours"]
    paper_gains = np.subtract(PAPER_TABLE3["BASNet"], PAPER_TABLE3["DeepLabV3+"])
    for backbone, group in ours.groupby("backbone", sort=False):
        full = group[group["method"] == "full"]
        if full.empty or not (group["method"] == "baseline").any():
            continue
        gains = [float(full[f"{column}_gain_vs_baseline"].iloc[0]) for column in F_COLUMNS]
        for column, gain, paper_gain in zip(F_COLUMNS, gains, paper_gains, strict=True):
            rows.append(
                {
                    "claim": f"full BASNet beats the baseline in boundary {column} ({backbone})",
                    "paper": f"{paper_gain:+.1f} (BASNet vs DeepLabV3+)",
                    "ours": f"{gain:+.2f}",
                    "verdict": REPRODUCED if gain > 0 else NOT_REPRODUCED,
                }
            )
        rows.append(
            {
                "claim": f"the boundary gain is largest at the strictest tolerance ({backbone})",
                "paper": f"{paper_gains[0]:+.1f} at 3px vs {paper_gains[-1]:+.1f} at 9px",
                "ours": f"{gains[0]:+.2f} at 3px vs {gains[-1]:+.2f} at 9px",
                "verdict": REPRODUCED if gains[0] > gains[-1] and gains[0] > 0 else NOT_REPRODUCED,
            }
        )
    return pd.DataFrame(rows, columns=["claim", "paper", "ours", "verdict"])


def claims_markdown(frame: pd.DataFrame) -> str:
    """The claims table and a plain summary of which claims our measurements support."""
    if frame.empty:
        return "No claim can be checked: Table 1 needs at least two variants, Table 3 baseline and full.\n"
    supported = frame[frame["verdict"].str.startswith(REPRODUCED)]
    unsupported = frame[~frame["verdict"].str.startswith(REPRODUCED)]
    lines = [
        frame.to_markdown(index=False),
        "",
        f"Our measurements support {len(supported)} of the {len(frame)} claims checked"
        + (":" if len(supported) else "."),
    ]
    lines += [
        f"- supported: {claim} (ours {ours})"
        for claim, ours in zip(supported["claim"], supported["ours"], strict=True)
    ]
    if len(unsupported):
        lines.append("They do not support:")
        lines += [
            f"- not supported: {claim} (ours {ours}, paper {paper})"
            for claim, ours, paper in zip(
                unsupported["claim"], unsupported["ours"], unsupported["paper"], strict=True
            )
        ]
    return "\n".join(lines) + "\n"


def _added_module(variant: str) -> str:
    return {"ssb": "SSB", "ssb_bdb": "BDB", "full": "AM"}.get(variant, variant)


__all__ = ["claims", "claims_markdown"]
