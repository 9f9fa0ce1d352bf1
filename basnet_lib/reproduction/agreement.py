"""A user's reproduction against the committed reference run (docs/decisions.md, "Same seed, same
numbers"): per run the difference from the reference, per variant whether the user's mean lies
where the reference's seeds say a mean of that many seeds can lie, and whether every verdict came
out the same.

A variant agrees when the user's mean of n seeds lies in the reference's 95% prediction interval for
such a mean: ``m_ref ± t_{0.975, n_ref−1} · s_ref · √(1/n_ref + 1/n)``, i.e. where a new set of n
seeds drawn like the reference's falls 95 times in 100. It asks whether a host's numbers behave like
other seeds of the reference, which is what a change of CPU or kernels does to this training (it
does not ask for equal numbers: those come only from the reference's CPU type and lock).
"""

from __future__ import annotations

import math

import pandas as pd
from scipy import stats

from basnet_lib.reproduction.claims import claims
from basnet_lib.reproduction.notebooks import CHECKOUT
from basnet_lib.reproduction.statistics import CONFIDENCE, format_points
from basnet_lib.reproduction.tables import METRICS
from basnet_lib.reproduction.verdict_stability import STABLE, verdict_stability

# The cpu preset's reference: the committed report's runs table (results/tables/runs.csv) as
# the reference run wrote it; the agreement section compares a results root's runs with it.
REFERENCE_RUNS = CHECKOUT / "results" / "reference" / "cpu_runs.csv"
RUN_KEY = ["backbone", "variant", "seed"]


def run_differences(runs: pd.DataFrame, reference: pd.DataFrame) -> pd.DataFrame:
    """Per run both tables hold: each metric's difference from the reference (points)."""
    merged = runs.merge(reference, on=RUN_KEY, suffixes=("", "_reference"))
    frame = merged[RUN_KEY].copy()
    for metric in METRICS:
        frame[metric] = merged[metric] - merged[f"{metric}_reference"]
    return frame


def variant_agreement(runs: pd.DataFrame, reference: pd.DataFrame, *, metric: str = "mIoU") -> pd.DataFrame:
    """Per (backbone, variant) of the user's runs: both means, the reference's prediction interval
    for a mean of as many seeds, and whether the user's mean lies in it."""
    rows = []
    for (backbone, variant), group in runs.groupby(["backbone", "variant"], sort=False):
        ours = group[metric].dropna()
        theirs = reference.loc[
            (reference["backbone"] == backbone) & (reference["variant"] == variant), metric
        ].dropna()
        low, high = prediction_interval(theirs, len(ours))
        mean = float(ours.mean()) if len(ours) else math.nan
        rows.append(
            {
                "backbone": backbone,
                "variant": variant,
                "metric": metric,
                "n": len(ours),
                "mean": mean,
                "reference_n": len(theirs),
                "reference_mean": float(theirs.mean()) if len(theirs) else math.nan,
                "interval_low": low,
                "interval_high": high,
                "within": bool(low <= mean <= high) if not math.isnan(low) else None,
            }
        )
    return pd.DataFrame(rows)


def prediction_interval(reference: pd.Series, n: int) -> tuple[float, float]:
    """Where a mean of ``n`` new seeds falls with probability ``CONFIDENCE`` if they behave like the
    reference's seeds (NaN without two reference seeds or without a new one)."""
    count = len(reference)
    if count < 2 or n < 1:
        return math.nan, math.nan
    half = stats.t.ppf((1 + CONFIDENCE) / 2, count - 1) * reference.std(ddof=1) * math.sqrt(1 / count + 1 / n)
    return float(reference.mean() - half), float(reference.mean() + half)


def verdict_changes(runs: pd.DataFrame, reference: pd.DataFrame) -> pd.DataFrame:
    """Each claim's verdict from both tables and whether it is the same; a claim checked on fewer
    paired seeds than the reference's (a partial rerun) is not comparable (``same`` is None).
    ``fragile``: the reference's verdict is one another host gives again with probability below
    ``STABLE`` (:mod:`~basnet_lib.reproduction.verdict_stability`)."""
    # The reference's claims with their stability: a verdict another host gives again with
    # probability below STABLE may change without a failed reproduction (docs/decisions.md,
    # "Verdicts that do not depend on the host").
    ours, theirs = claims(runs).set_index("claim"), verdict_stability(reference).set_index("claim")
    frame = pd.DataFrame(
        {
            "reference": theirs["verdict"],
            "n reference": theirs["n"],
            "yours": ours["verdict"],
            "n yours": ours["n"],
        }
    ).reset_index(names="claim")
    comparable = frame["n yours"].eq(frame["n reference"])
    frame["same"] = [
        bool(a == b) if ok else None
        for a, b, ok in zip(frame["reference"], frame["yours"], comparable, strict=True)
    ]
    frame["fragile"] = ~frame["claim"].map(theirs["p_same_verdict"]).ge(STABLE)
    return frame.fillna({"yours": "—", "reference": "—"})


def agreement_markdown(runs: pd.DataFrame, reference: pd.DataFrame, *, reference_name: str) -> str:
    """The report's "Agreement with the reference run": a verdict line first, then per variant and
    metric the interval check, the claims' verdicts side by side and every run's differences. The
    reference run's own report says only that it is the reference (every table would be zeros)."""
    if is_the_reference(runs, reference):
        return (
            f"These runs are the reference run: {reference_name} holds this report's runs table. "
            "A `make reproduce` on another machine is checked against it here; the README says what "
            "to expect and what counts as a failed reproduction.\n"
        )
    variants = pd.concat(
        [variant_agreement(runs, reference, metric=metric) for metric in METRICS], ignore_index=True
    )
    verdicts = verdict_changes(runs, reference)
    differences = run_differences(runs, reference)
    headline = _headline(variants, verdicts, differences)
    shown = pd.DataFrame(
        {
            "variant": variants["variant"],
            "metric": variants["metric"],
            "n": variants["n"],
            "your mean": [_plain(value) for value in variants["mean"]],
            "reference mean (n)": [
                f"{_plain(m)} ({n})"
                for m, n in zip(variants["reference_mean"], variants["reference_n"], strict=True)
            ],
            f"{CONFIDENCE:.0%} prediction interval": [
                "—" if math.isnan(low) else f"[{low:.2f}, {high:.2f}]"
                for low, high in zip(variants["interval_low"], variants["interval_high"], strict=True)
            ],
            "within": [
                "—" if value is None else ("yes" if value else "**no**") for value in variants["within"]
            ],
        }
    )
    per_run = differences.assign(**{metric: differences[metric].map(format_points) for metric in METRICS})
    return "\n".join(
        [
            headline,
            "",
            f"Reference: {reference_name} ({len(reference)} runs). A variant agrees when your mean of n seeds lies "
            f"in the reference's {CONFIDENCE:.0%} prediction interval for a mean of n seeds, "
            'm ± t·s·√(1/n_ref + 1/n) (docs/decisions.md, "Same seed, same numbers").',
            "",
            shown.to_markdown(index=False, disable_numparse=True),
            "",
            "Verdicts, reference and yours:",
            "",
            _verdict_table(verdicts),
            "",
            "Your runs minus the reference's, per seed (points):",
            "",
            per_run.to_markdown(index=False, disable_numparse=True)
            if not per_run.empty
            else "(no run in common)",
            "",
        ]
    )


def is_the_reference(runs: pd.DataFrame, reference: pd.DataFrame) -> bool:
    """Whether ``runs`` holds exactly the reference's runs, with the same scores."""
    differences = run_differences(runs, reference)
    same_runs = len(differences) == len(runs) == len(reference)
    return same_runs and bool(differences[list(METRICS)].abs().max().max() < 1e-9)


def _headline(variants: pd.DataFrame, verdicts: pd.DataFrame, differences: pd.DataFrame) -> str:
    """Agrees (every variant within its interval, every verdict the same) or what does not."""
    outside = variants[variants["within"].eq(False)]
    changed = verdicts["same"].eq(False)
    flipped, allowed = verdicts[changed & ~verdicts["fragile"]], verdicts[changed & verdicts["fragile"]]
    largest = differences[list(METRICS)].abs().max().max() if not differences.empty else math.nan
    allowed_names = ", ".join(f'the verdict of "{claim}"' for claim in allowed["claim"])
    allowed_text = f" Changed, as their fragility allows: {allowed_names}." if allowed_names else ""
    if outside.empty and flipped.empty:
        comparable = int(verdicts["same"].eq(True).sum())
        verdict_text = (
            f"every verdict is the same ({comparable} of {len(verdicts)} claims checked on as many seeds as the reference's)"
            if comparable
            else "no verdict is comparable (fewer paired seeds than the reference's)"
        )
        headline = (
            f"**Agrees with the reference run.** Every variant's mean lies in the reference's {CONFIDENCE:.0%} "
            f"prediction interval and {verdict_text}; the largest difference of a run is {_plain(largest)} points."
        )
    else:
        named = [f"`{row.variant}` {row.metric}" for row in outside.itertuples()]
        named += [f'the verdict of "{row.claim}"' for row in flipped.itertuples()]
        headline = f"**Does not agree with the reference run:** {', '.join(named)}."
    return headline + allowed_text


def _verdict_table(verdicts: pd.DataFrame) -> str:
    shown = verdicts.copy()
    shown["same"] = [
        "yes" if same is True else ("no (fragile)" if fragile else "**no**") if same is False else "— (fewer seeds)"
        for same, fragile in zip(verdicts["same"], verdicts["fragile"], strict=True)
    ]
    shown = shown.drop(columns="fragile")
    for column in ("n reference", "n yours"):
        shown[column] = ["—" if pd.isna(n) else str(int(n)) for n in verdicts[column]]
    return shown.to_markdown(index=False, disable_numparse=True)


def _plain(value: float) -> str:
    return "—" if math.isnan(value) else f"{value:.2f}"
