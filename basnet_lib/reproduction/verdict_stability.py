"""How many seeds a verdict needs to come out the same on another host (docs/decisions.md,
"Verdicts that do not depend on the host").

A change of CPU moves a run the way a new draw of its training noise does: the two hosts' runs
part from the tenth step on, and the measured cross-host differences are no larger than the
seed-to-seed spread (the agreement section's model, :mod:`basnet_lib.reproduction.agreement`). So a
second host's verdict on a claim is a draw from the verdicts that n new seeds give.

With the per-seed paired differences normal with mean δ and std σ, the t statistic of n seeds is
noncentral t with n − 1 degrees of freedom and noncentrality δ√n/σ: the claim is supported when it
exceeds the interval's quantile q, contradicted below −q. Plugging in the runs' own δ and σ gives
each verdict's probability at n seeds, and two hosts agree with probability Σ p². A claim is stable
from n seeds on when that agreement is at least ``STABLE`` at every seed count from n to
``MAX_SEEDS``: a small effect is stably "inconclusive" at few seeds and flips once the seeds start
to resolve it, so stability at one n alone would mislead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from scipy import stats

from basnet_lib.reproduction.claims import check_claims, claims
from basnet_lib.reproduction.learning_curves import read_study_csv
from basnet_lib.reproduction.notebooks import CHECKOUT
from basnet_lib.reproduction.statistics import CONFIDENCE

STABLE = 0.9
MAX_SEEDS = 20
# The main job's time budget on the slower measured host (docs/decisions.md, "Verdicts that do not
# depend on the host"), and the measured main-job times it is divided by.
BUDGET_MINUTES = 60.0
MAIN_JOB_TIMES = CHECKOUT / "results" / "reference" / "main_job_times.csv"
# Runs tables (``tables.runs_frame``) of whole grids that other hosts trained: the verdicts measured
# across hosts, beside what the model expects.
EARLIER_HOSTS = CHECKOUT / "results" / "reference" / "earlier_hosts"
STABILITY_COLUMNS = [
    "claim", "n", "mean_difference", "std_difference", "verdict", "p_same_verdict", "stable_from_seeds",
]  # fmt: skip


@dataclass(frozen=True)
class VerdictOdds:
    """Each verdict's probability for a claim whose paired differences have mean δ and std σ, at n seeds."""

    supported: float
    contradicted: float

    @property
    def inconclusive(self) -> float:
        return max(0.0, 1.0 - self.supported - self.contradicted)

    @property
    def agreement(self) -> float:
        """Probability that two hosts (two independent draws of n seeds) give the same verdict."""
        return self.supported**2 + self.contradicted**2 + self.inconclusive**2


def verdict_odds(mean: float, std: float, seeds: int) -> VerdictOdds:
    """The verdicts' probabilities at ``seeds`` paired seeds (noncentral t, see the module docstring)."""
    if seeds < 2 or not std > 0 or math.isnan(mean):
        raise ValueError(f"verdict odds need ≥ 2 seeds and a finite std > 0 (got n={seeds}, std={std})")
    freedom = seeds - 1
    quantile = stats.t.ppf((1 + CONFIDENCE) / 2, freedom)
    shift = mean * math.sqrt(seeds) / std
    return VerdictOdds(
        supported=_upper_tail(quantile, freedom, shift), contradicted=_upper_tail(quantile, freedom, -shift)
    )


def _upper_tail(quantile: float, freedom: int, shift: float) -> float:
    """P(T > quantile) for noncentral t; P(T < −q) is this with the shift negated (symmetry)."""
    tail = float(stats.nct.sf(quantile, freedom, shift))
    return 0.0 if math.isnan(tail) else tail  # scipy's nan: a tail below ~1e-30


def stable_from(mean: float, std: float, *, max_seeds: int = MAX_SEEDS) -> int | None:
    """The smallest seed count from which two hosts agree with probability ≥ ``STABLE`` at every
    count up to ``max_seeds``; ``None`` when even ``max_seeds`` seeds are not enough."""
    first = None
    for seeds in range(2, max_seeds + 1):
        stable = verdict_odds(mean, std, seeds).agreement >= STABLE
        first = (first or seeds) if stable else None
    return first


def verdict_stability(runs: pd.DataFrame) -> pd.DataFrame:
    """Per claim the runs (``tables.runs_frame``) check: its paired differences' mean and std, the
    verdict, the probability that another host gives the same verdict at the same seed count, and
    the seed count from which the verdict is stable (NaN where the runs measure no spread, or beyond
    ``MAX_SEEDS``)."""
    rows = []
    for check in check_claims(runs):
        paired = check.stats
        row = {
            "claim": check.claim,
            "n": paired.n,
            "mean_difference": paired.mean,
            "std_difference": paired.std,
            "verdict": paired.verdict,
            "p_same_verdict": math.nan,
            "stable_from_seeds": math.nan,
        }
        if paired.n >= 2 and paired.std > 0:
            odds = verdict_odds(paired.mean, paired.std, paired.n)
            stable = stable_from(paired.mean, paired.std)
            row.update(p_same_verdict=odds.agreement, stable_from_seeds=math.nan if stable is None else stable)
        rows.append(row)
    return pd.DataFrame(rows, columns=STABILITY_COLUMNS)


def seeds_for_stable_verdicts(frame: pd.DataFrame) -> int | None:
    """The seed count that makes every claim's verdict stable; ``None`` if some claim needs more than
    ``MAX_SEEDS`` or its spread is not measured."""
    needed = frame["stable_from_seeds"]
    return None if frame.empty or needed.isna().any() else int(needed.max())


def seed_budget(times: pd.DataFrame, *, budget_minutes: float = BUDGET_MINUTES) -> tuple[int, str]:
    """How many seeds the main job's ``budget_minutes`` hold on the slowest host of ``times``
    (``MAIN_JOB_TIMES``' columns: host, seeds, wall_minutes), and that host."""
    per_seed = times["wall_minutes"] / times["seeds"]
    slowest = times.loc[per_seed.idxmax()]
    return int(budget_minutes // per_seed.max()), str(slowest["host"])


def read_main_job_times(path: Path = MAIN_JOB_TIMES) -> pd.DataFrame:
    """The measured main-job times (a ValueError naming ``path`` where a column or a value is wrong)."""
    frame = read_study_csv(path, (("host", "source"), ("seeds", "wall_minutes")))
    if not ((frame["seeds"] > 0) & (frame["wall_minutes"] > 0)).all():
        raise ValueError(f"{path}: seeds and wall_minutes must be positive numbers")
    return frame


def main_job_times_markdown(times: pd.DataFrame) -> str:
    """The measured main-job times per host, with minutes per seed, as a Markdown table."""
    shown = pd.DataFrame(
        {
            "host": times["host"],
            "seeds": times["seeds"],
            "main job (min)": times["wall_minutes"].map("{:.1f}".format),
            "per seed (min)": (times["wall_minutes"] / times["seeds"]).map("{:.1f}".format),
            "source": times["source"],
        }
    )
    return shown.to_markdown(index=False, disable_numparse=True) + "\n"


def read_earlier_hosts(folder: Path = EARLIER_HOSTS) -> dict[str, pd.DataFrame]:
    """Each ``*.csv`` runs table in ``folder``, by file name (none where the folder is absent)."""
    columns = (("backbone", "variant"), ("seed", "mIoU", "F_3px", "F_5px", "F_9px"))
    return {path.stem: read_study_csv(path, columns) for path in sorted(folder.glob("*.csv"))}


def verdicts_across_hosts(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Per claim the verdict of each host's runs table (a column per host) and whether all agree."""
    frame = pd.DataFrame({host: claims(table).set_index("claim")["verdict"] for host, table in tables.items()})
    frame["same on every host"] = frame.nunique(axis=1).eq(1)
    return frame.reset_index(names="claim")


def hosts_markdown(across: pd.DataFrame, stability: pd.DataFrame) -> str:
    """The verdicts measured on each host, and for two hosts the model's expected count of changes
    (Σ 1 − P(another host agrees), from ``stability``) beside the count observed."""
    shown = across.assign(**{"same on every host": across["same on every host"].map({True: "yes", False: "**no**"})})
    changed = int((~across["same on every host"]).sum())
    text = shown.to_markdown(index=False, disable_numparse=True) + f"\n\n{changed} of {len(across)} verdicts differ"
    if across.shape[1] == 4:  # claim, two hosts, same
        expected = float((1 - stability["p_same_verdict"]).sum())
        text += f" between the two hosts; the model above expects {expected:.1f} changes between two hosts"
    return text + ".\n"


def stability_markdown(frame: pd.DataFrame, *, seeds: int, budget: tuple[int, str] | None) -> str:
    """The stability table, the seed count it asks for, and which verdicts are fragile at ``seeds``
    (the main job's), given the seeds the time budget holds (:func:`seed_budget`; None: unknown)."""
    if frame.empty:
        return "No claim can be checked, so no verdict's stability either.\n"
    if frame["p_same_verdict"].isna().all():
        return "No claim has two paired seeds with a spread: how another host would decide is not measured.\n"
    shown = pd.DataFrame(
        {
            "claim": frame["claim"],
            "n": frame["n"],
            "mean ± std of differences (pts)": [
                "—" if math.isnan(std) else f"{mean:+.2f} ± {std:.2f}"
                for mean, std in zip(frame["mean_difference"], frame["std_difference"], strict=True)
            ],
            "verdict": frame["verdict"],
            "P(another host agrees)": [_percent(value) for value in frame["p_same_verdict"]],
            "stable from (seeds)": [_seeds_text(value) for value in frame["stable_from_seeds"]],
        }
    )
    needed = seeds_for_stable_verdicts(frame)
    lines = [
        shown.to_markdown(index=False, disable_numparse=True),
        "",
        f"A verdict is stable from n seeds when another host gives the same verdict with probability "
        f"≥ {STABLE:.0%} at n and every count above (up to {MAX_SEEDS}). All of them are stable from "
        + (f"{needed} seeds. " if needed is not None else f"more than {MAX_SEEDS} seeds. ")
        + _budget_sentence(seeds, needed, budget),
    ]
    fragile = frame[~(frame["p_same_verdict"] >= STABLE)]
    if fragile.empty:
        return "\n".join([*lines, "", f"No verdict is fragile at {seeds} seeds."]) + "\n"
    lines += ["", f"Fragile at {seeds} seeds (another host may well give another verdict):"]
    lines += [
        f"- {row.claim}: {row.verdict} here; another host agrees with probability "
        f"{_percent(row.p_same_verdict)} ({_why_fragile(row)})"
        for row in fragile.itertuples()
    ]
    return "\n".join(lines) + "\n"


def _budget_sentence(seeds: int, needed: int | None, budget: tuple[int, str] | None) -> str:
    if budget is None:
        return f"The main job runs {seeds} seeds."
    affordable, host = budget
    holds = f"The {BUDGET_MINUTES:.0f}-minute budget holds {affordable} seed(s) on the slowest measured host ({host})"
    if needed is not None and needed <= affordable:
        return f"{holds}; the main job runs {seeds}."
    return (
        f"{holds}, fewer than that: the main job keeps {seeds} rather than drop to what the budget holds "
        "(two seeds' interval is 12.7·sd/√2 wide) and names the verdicts that are fragile at that count."
    )


def _why_fragile(row) -> str:
    if math.isnan(row.p_same_verdict):
        return "no spread measured"
    ratio = abs(row.mean_difference) / row.std_difference
    return f"mean difference {ratio:.2f} std from 0; stable from {_seeds_text(row.stable_from_seeds)} seeds"


def _seeds_text(value: float) -> str:
    return f"> {MAX_SEEDS}" if math.isnan(value) else str(int(value))


def _percent(value: float) -> str:
    return "—" if math.isnan(value) else f"{100 * value:.1f}%"
