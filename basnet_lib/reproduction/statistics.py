"""The statistics behind every verdict: per-seed paired differences, their Student-t interval, and
how a mean ± std or an interval is written (Table 1, the claims, the boundary tables)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd
from scipy import stats

# Coverage of the intervals on paired differences, and their verdicts.
CONFIDENCE = 0.95
SUPPORTED, CONTRADICTED, INCONCLUSIVE = "supported", "contradicted", "inconclusive"


@dataclass(frozen=True)
class PairedStats:
    """Per-seed differences (variant − reference, in points) and the Student-t interval of their mean.

    ``std`` is the differences' sample std and ``half_width`` is t_{(1+CONFIDENCE)/2, n−1}·std/√n:
    the smallest mean gain the interval separates from 0. Both are NaN below two seeds.
    """

    seeds: tuple[int, ...]
    differences: tuple[float, ...]
    mean: float
    std: float
    half_width: float

    @property
    def n(self) -> int:
        return len(self.differences)

    @property
    def ci_low(self) -> float:
        return self.mean - self.half_width

    @property
    def ci_high(self) -> float:
        return self.mean + self.half_width

    @property
    def verdict(self) -> str:
        """Supported (interval above 0), contradicted (below 0), else inconclusive; a positive
        difference is the paper's direction. One seed gives no interval, hence no decision."""
        if self.n < 2:
            return f"{INCONCLUSIVE} ({'1 seed' if self.n == 1 else 'no paired seeds'})"
        if self.ci_low > 0:
            return SUPPORTED
        if self.ci_high < 0:
            return CONTRADICTED
        return INCONCLUSIVE


def paired_stats(differences: pd.Series) -> PairedStats:
    """Mean, sample std and the ``CONFIDENCE`` Student-t interval of per-seed differences (index: seed)."""
    values = differences.dropna()
    n = len(values)
    std = sample_std(values)
    quantile = float(stats.t.ppf((1 + CONFIDENCE) / 2, n - 1)) if n > 1 else math.nan
    return PairedStats(
        seeds=tuple(int(seed) for seed in values.index),
        differences=tuple(float(value) for value in values),
        mean=float(values.mean()) if n else math.nan,
        std=std,
        half_width=quantile * std / math.sqrt(n) if n > 1 else math.nan,
    )


def sample_std(values: pd.Series) -> float:
    """Sample std over seeds (NaN for one seed: no spread is measured)."""
    return float(values.std(ddof=1)) if len(values) > 1 else math.nan


def format_mean_std(mean: float, std: float, n: int) -> str:
    """``mean ± std (n=…)`` with 2 decimals; without ``± std`` where one seed measures no spread."""
    if n == 0:
        return "—"
    return f"{format_mean_or_mean_std(mean, std)} (n={n})"


def format_mean_or_mean_std(mean: float, std: float) -> str:
    """``mean ± std`` with 2 decimals, or ``mean`` alone where ``std`` is NaN (one seed, or the paper)."""
    return f"{mean:.2f}" if math.isnan(std) else f"{mean:.2f} ± {std:.2f}"


def format_points(value: float) -> str:
    """A signed difference in percentage points, 2 decimals (``—`` where undefined)."""
    return "—" if math.isnan(value) else f"{value:+.2f}"


def format_ci(low: float, high: float) -> str:
    """An interval as ``[low, high]`` in signed points (``—`` where fewer than two seeds pair up)."""
    return "—" if math.isnan(low) or math.isnan(high) else f"[{low:+.2f}, {high:+.2f}]"


def interval_columns(frame: pd.DataFrame) -> dict[str, list]:
    """A table's shown columns of paired intervals (``n``, ``mean_difference``, ``ci_low``,
    ``ci_high``, ``verdict``): n, the signed mean difference, the interval and the verdict."""
    return {
        "n": list(frame["n"]),
        "mean difference (pts)": [format_points(value) for value in frame["mean_difference"]],
        f"{CONFIDENCE:.0%} CI (pts)": [
            format_ci(low, high) for low, high in zip(frame["ci_low"], frame["ci_high"], strict=True)
        ],
        "verdict": list(frame["verdict"]),
    }
