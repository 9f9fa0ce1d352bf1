"""Claims and noise floor from paired per-seed differences, on hand-made runs frames.

Every expected number is computed by hand here: for differences with sample std ``sd`` over 3
seeds the 95% interval is mean ± t_{0.975, 2}·sd/√3, t_{0.975, 2} = 4.302652729911275.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from basnet_lib.reproduction.claims import (
    CLAIM_COLUMNS,
    check_claims,
    claims,
    claims_markdown,
    noise_floor,
    noise_floor_markdown,
)
from basnet_lib.reproduction.statistics import (
    CONTRADICTED,
    INCONCLUSIVE,
    SUPPORTED,
    paired_stats,
)
from basnet_lib.reproduction.tables import (
    paired_differences,
    table1,
)

T_975_2 = 4.302652729911275  # t_{0.975, 2} = 0.95 / sqrt(2 · 0.975 · 0.025) (closed form for 2 dof)
HALF = T_975_2 / math.sqrt(3)  # half-width for 3 seeds with sample std 1: 2.4841…
# Baseline per seed (seeds 0, 1, 2), in %.
BASE = {
    "mIoU": (40.0, 42.0, 41.0),
    "F_3px": (30.0, 32.0, 31.0),
    "F_5px": (40.0, 41.0, 39.0),
    "F_9px": (50.0, 53.0, 51.0),
}
# Per variant and metric, its per-seed difference to the baseline (0 where absent). So, per seed:
# ssb − baseline (4, 5, 6), ssb_bdb − ssb (1, 2, 3), full − ssb_bdb (−6, −5, −4), full − baseline
# (−1, 2, 5) in mIoU; full − baseline (3, 4, 5), (−1, 0, 1), (0, 1, 1) in F at 3/5/9 px.
GAINS = {
    "ssb": {"mIoU": (4.0, 5.0, 6.0)},
    "ssb_bdb": {"mIoU": (5.0, 7.0, 9.0)},
    "full": {
        "mIoU": (-1.0, 2.0, 5.0),
        "F_3px": (3.0, 4.0, 5.0),
        "F_5px": (-1.0, 0.0, 1.0),
        "F_9px": (0.0, 1.0, 1.0),
    },
}
CLAIMS = [
    "SSB raises mIoU over baseline (resnet18)",
    "BDB raises mIoU over ssb (resnet18)",
    "AM raises mIoU over ssb_bdb (resnet18)",
    "full BASNet beats the baseline in mIoU (resnet18)",
    "full BASNet beats the baseline in boundary F_3px (resnet18)",
    "full BASNet beats the baseline in boundary F_5px (resnet18)",
    "full BASNet beats the baseline in boundary F_9px (resnet18)",
    "the boundary gain is largest at the strictest tolerance (resnet18)",
]


def make_runs(
    gains: dict[str, dict[str, tuple[float, ...]]] = GAINS,
    *,
    seeds: tuple[int, ...] = (0, 1, 2),
    backbone: str = "resnet18",
) -> pd.DataFrame:
    """A ``tables.runs_frame``-like frame: baseline = BASE, every other variant = BASE + its gains."""
    rows = []
    for variant in ("baseline", *gains):
        for position, seed in enumerate(seeds):
            row = {"backbone": backbone, "variant": variant, "seed": seed}
            for metric, values in BASE.items():
                row[metric] = values[position] + gains.get(variant, {}).get(metric, (0.0,) * 3)[position]
            rows.append(row)
    return pd.DataFrame(rows)


def claim_row(frame: pd.DataFrame, claim: str) -> pd.Series:
    matches = frame[frame["claim"] == claim]
    assert len(matches) == 1, claim
    return matches.iloc[0]


def test_paired_stats_by_hand() -> None:
    paired = paired_stats(pd.Series([1.0, 2.0, 3.0], index=[0, 1, 2]))
    assert (paired.n, paired.seeds, paired.differences) == (3, (0, 1, 2), (1.0, 2.0, 3.0))
    assert paired.mean == pytest.approx(2) and paired.std == pytest.approx(1)
    assert paired.half_width == pytest.approx(2.4841377, abs=1e-7)
    assert (paired.ci_low, paired.ci_high) == pytest.approx((2 - HALF, 2 + HALF), rel=1e-9)
    assert paired.verdict == INCONCLUSIVE  # [-0.484, 4.484] spans 0


def test_t_quantile_matches_the_closed_form() -> None:
    # scipy's t.ppf is accurate to ~1e-10 here (1.17 gives 4.302652729749462), not to the last digit.
    assert stats.t.ppf(0.975, 2) == pytest.approx(T_975_2, rel=1e-9)
    paired = paired_stats(pd.Series([3.0, 5.0], index=[0, 1]))  # sd √2, n 2: t_{0.975, 1} · √2 / √2
    assert paired.half_width == pytest.approx(12.706204736174698, rel=1e-9)


@pytest.mark.parametrize(
    ("gains", "verdict", "mean"),
    [
        ((4.0, 5.0, 6.0), SUPPORTED, 5.0),  # [2.52, 7.48]
        ((1.0, 2.0, 3.0), INCONCLUSIVE, 2.0),  # [-0.48, 4.48]
        ((-6.0, -5.0, -4.0), CONTRADICTED, -5.0),  # [-7.48, -2.52]
    ],
)
def test_verdict_follows_the_interval(gains, verdict, mean) -> None:
    frame = claims(make_runs({"full": {"mIoU": gains}}))
    # baseline and full only: no module claim duplicates "full beats the baseline in mIoU".
    assert len(frame) == 5
    row = claim_row(frame, "full BASNet beats the baseline in mIoU (resnet18)")
    assert row["verdict"] == verdict and row["n"] == 3
    assert (row["mean_difference"], row["ci_low"], row["ci_high"]) == pytest.approx(
        (mean, mean - HALF, mean + HALF), rel=1e-9
    )


def test_claims_on_the_full_grid() -> None:
    frame = claims(make_runs())
    assert (
        list(frame.columns)
        == CLAIM_COLUMNS
        == [
            "claim",
            "paper",
            "n",
            "mean_difference",
            "ci_low",
            "ci_high",
            "verdict",
        ]
    )
    assert list(frame["claim"]) == CLAIMS
    assert list(frame["n"]) == [3] * 8
    # Means: (4,5,6), (1,2,3), (−6,−5,−4), (−1,2,5), (3,4,5), (−1,0,1), (0,1,1), (3,4,5) − (0,1,1).
    np.testing.assert_allclose(frame["mean_difference"], [5, 2, -5, 2, 4, 0, 2 / 3, 10 / 3])
    sds = np.array([1, 1, 1, 3, 1, 1, math.sqrt(1 / 3), math.sqrt(1 / 3)])
    np.testing.assert_allclose(frame["ci_high"] - frame["mean_difference"], sds * HALF, rtol=1e-9)
    np.testing.assert_allclose(frame["mean_difference"] - frame["ci_low"], sds * HALF, rtol=1e-9)
    assert list(frame["verdict"]) == [
        SUPPORTED,
        INCONCLUSIVE,
        CONTRADICTED,
        INCONCLUSIVE,
        SUPPORTED,
        INCONCLUSIVE,
        INCONCLUSIVE,
        SUPPORTED,
    ]
    assert frame["paper"].iloc[0] == "+1.11 (resnet50) / +1.93 (resnet101)"
    assert frame["paper"].iloc[3] == "+2.93 (resnet50) / +4.19 (resnet101)"
    assert frame["paper"].iloc[4] == "+5.1 (BASNet vs DeepLabV3+)"
    assert frame["paper"].iloc[7] == "+5.1 at 3px vs +2.4 at 9px: +2.7"


def test_strictest_tolerance_claim_is_the_per_seed_difference_of_gains() -> None:
    # F_3px gain (3, 4, 5) minus F_9px gain (5, 1, 0): (−2, 3, 5), mean 2, sd √13.
    frame = claims(make_runs({"full": {"F_3px": (3.0, 4.0, 5.0), "F_9px": (5.0, 1.0, 0.0)}}))
    row = claim_row(frame, CLAIMS[-1])
    half = T_975_2 * math.sqrt(13) / math.sqrt(3)
    assert (row["mean_difference"], row["ci_low"], row["ci_high"]) == pytest.approx((2, 2 - half, 2 + half))
    assert row["verdict"] == INCONCLUSIVE
    # Same gains, less spread at 9 px: the strict gain now clearly exceeds the loose one.
    frame = claims(make_runs({"full": {"F_3px": (3.0, 4.0, 5.0), "F_9px": (1.0, 2.0, 3.0)}}))
    row = claim_row(frame, CLAIMS[-1])
    assert row["mean_difference"] == pytest.approx(2) and row["ci_low"] == row["ci_high"] == pytest.approx(2)
    assert row["verdict"] == SUPPORTED


def test_one_seed_is_always_inconclusive() -> None:
    frame = claims(make_runs().query("seed == 0"))
    assert list(frame["claim"]) == CLAIMS and list(frame["n"]) == [1] * 8
    assert set(frame["verdict"]) == {f"{INCONCLUSIVE} (1 seed)"}
    assert frame["ci_low"].isna().all() and frame["ci_high"].isna().all()
    assert claim_row(frame, CLAIMS[0])["mean_difference"] == pytest.approx(4)  # a clear gain, one seed
    assert "0 of 8 claims supported; 0 contradicted; 8 inconclusive" in claims_markdown(frame)


def test_seeds_without_a_pair_are_dropped() -> None:
    runs = pd.concat(
        [
            make_runs({}, seeds=(0, 1, 2)),
            make_runs({"full": {"mIoU": (9.0, 10.0, 11.0)}}, seeds=(1, 2, 3)).query("variant == 'full'"),
        ]
    )
    # Baseline ran seeds 0–2 (40, 42, 41), full seeds 1–3 (49, 52, 52): pairs are seeds 1 and 2.
    differences = paired_differences(
        runs, backbone="resnet18", variant="full", reference="baseline", metric="mIoU"
    )
    assert list(differences.index) == [1, 2]
    np.testing.assert_allclose(differences, [7, 11])
    row = claim_row(claims(runs), "full BASNet beats the baseline in mIoU (resnet18)")
    assert row["n"] == 2 and row["mean_difference"] == pytest.approx(9)
    # sd of (7, 11) is 2√2; t_{0.975, 1} = 12.7062…: half-width 12.7062 · 2√2 / √2.
    assert row["ci_low"] == pytest.approx(9 - 2 * 12.706204736174698, rel=1e-9)
    # No seed in common: no interval, no decision.
    disjoint = pd.concat(
        [make_runs({}, seeds=(0,)), make_runs({"full": {}}, seeds=(5,)).query("variant == 'full'")]
    )
    assert set(claims(disjoint)["verdict"]) == {f"{INCONCLUSIVE} (no paired seeds)"}


def test_two_runs_of_one_seed_are_refused() -> None:
    runs = make_runs()
    with pytest.raises(ValueError, match="share a seed"):
        claims(pd.concat([runs, runs.iloc[:1]]))


def test_missing_middle_rows_name_every_module_added() -> None:
    frame = claims(make_runs({"ssb_bdb": GAINS["ssb_bdb"], "full": GAINS["full"]}))
    assert list(frame["claim"])[:2] == [
        "SSB+BDB raises mIoU over baseline (resnet18)",
        "AM raises mIoU over ssb_bdb (resnet18)",
    ]
    # The paper's gain over the same row: ssb_bdb − baseline.
    assert frame["paper"].iloc[0] == "+1.50 (resnet50) / +2.72 (resnet101)"


def test_claims_are_per_backbone() -> None:
    runs = pd.concat([make_runs(), make_runs({"full": {"mIoU": (-4.0, -5.0, -6.0)}}, backbone="resnet50")])
    frame = claims(runs)
    assert len(frame) == 8 + 5
    assert claim_row(frame, "full BASNet beats the baseline in mIoU (resnet50)")["verdict"] == CONTRADICTED
    assert claim_row(frame, "full BASNet beats the baseline in mIoU (resnet18)")["verdict"] == INCONCLUSIVE


def test_table1_verdicts_are_the_claims_verdicts() -> None:
    runs = make_runs()
    table, frame = table1(runs), claims(runs)
    np.testing.assert_allclose(table["ci_low"].iloc[1:], frame["ci_low"].iloc[:3])
    np.testing.assert_allclose(table["ci_high"].iloc[1:], frame["ci_high"].iloc[:3])
    assert list(table["verdict"].iloc[1:]) == list(frame["verdict"].iloc[:3])


def test_markdown_summary_and_lists() -> None:
    markdown = claims_markdown(claims(make_runs()))
    assert "3 of 8 claims supported; 1 contradicted; 4 inconclusive" in markdown
    assert "reproduced" not in markdown.lower()
    # Differences in points with 2 decimals, the interval as [low, high].
    assert "| SSB raises mIoU over baseline (resnet18) |" in " ".join(markdown.split())
    assert "+5.00" in markdown and "[+2.52, +7.48]" in markdown and "[-7.48, -2.52]" in markdown
    supported, rest = markdown.split("\nSupported:\n")[1].split("\nContradicted:\n")
    contradicted, inconclusive = rest.split("\nInconclusive:\n")
    assert supported.count("\n- ") + 1 == 3 and "- SSB raises mIoU over baseline" in supported
    assert contradicted.strip().startswith("- AM raises mIoU over ssb_bdb (resnet18): -5.00 pts")
    assert inconclusive.count("- ") == 4 and "BDB raises mIoU over ssb" in inconclusive
    # Nothing supported: no "Supported:" list, every claim listed elsewhere.
    flipped = claims_markdown(claims(make_runs({"full": {"mIoU": (-4.0, -5.0, -6.0)}})))
    assert "0 of 5 claims supported; 1 contradicted; 4 inconclusive" in flipped
    assert (
        "Supported:" not in flipped and "Contradicted:\n- full BASNet beats the baseline in mIoU" in flipped
    )
    assert claims_markdown(claims(make_runs({}))).startswith("No claim can be checked")


def test_noise_floor_numbers() -> None:
    floor = noise_floor(make_runs())
    variants = floor[floor["kind"] == "variant"].set_index(["compared", "metric"])
    assert len(variants) == 4 * 4 and set(variants["n"]) == {3}
    # baseline mIoU (40, 42, 41); full mIoU (39, 44, 46): mean 43, deviations (−4, 1, 3), std √13.
    assert variants.loc[("baseline", "mIoU"), ["mean", "std"]].tolist() == pytest.approx([41, 1])
    assert variants.loc[("full", "mIoU"), ["mean", "std"]].tolist() == pytest.approx([43, math.sqrt(13)])
    assert variants["min_detectable_gain"].isna().all()
    pairs = floor[floor["kind"] == "paired difference"]
    assert len(pairs) == 8 and list(pairs["compared"])[:4] == [
        "ssb − baseline",
        "ssb_bdb − ssb",
        "full − ssb_bdb",
        "full − baseline",
    ]
    assert list(pairs["metric"])[3:] == ["mIoU", "F_3px", "F_5px", "F_9px", "F_3px gain − F_9px gain"]
    sds = np.array([1, 1, 1, 3, 1, 1, math.sqrt(1 / 3), math.sqrt(1 / 3)])
    np.testing.assert_allclose(pairs["std"], sds)
    np.testing.assert_allclose(pairs["min_detectable_gain"], sds * HALF, rtol=1e-9)
    # The half-width is what separates supported from not: a mean gain of 5 > 2.48, 2 < 2.48.
    assert list(pairs["mean"] > pairs["min_detectable_gain"])[:2] == [True, False]
    one_seed = noise_floor(make_runs().query("seed == 0"))
    assert one_seed["std"].isna().all() and one_seed["min_detectable_gain"].isna().all()


def test_noise_floor_markdown() -> None:
    markdown = noise_floor_markdown(noise_floor(make_runs()))
    lines = [line for line in markdown.splitlines() if line.startswith("| resnet18")]
    assert [line.split("|")[2].strip() for line in lines[:4]] == ["baseline", "ssb", "ssb_bdb", "full"]
    assert "41.00 ± 1.00 (n=3)" in lines[0] and "43.00 ± 3.61 (n=3)" in lines[3]
    assert "| ssb − baseline | mIoU | 3 | +5.00 | 1.00 | 2.48 |" in " ".join(markdown.split())


def test_check_claims_records_what_is_compared() -> None:
    checks = check_claims(make_runs())
    assert [check.compared for check in checks][:3] == ["ssb − baseline", "ssb_bdb − ssb", "full − ssb_bdb"]
    assert checks[0].stats.seeds == (0, 1, 2) and checks[0].stats.differences == pytest.approx((4, 5, 6))
