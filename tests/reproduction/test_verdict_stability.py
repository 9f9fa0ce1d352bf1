"""How stable a verdict is across hosts: the odds are those of simulated seeds, a clear effect is
stable and a small one fragile, and the seed budget comes from the slowest measured host."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from measured_runs import COMMITTED_HOST_RUNS
from scipy import stats

from basnet_lib.reproduction.statistics import CONFIDENCE
from basnet_lib.reproduction.verdict_stability import (
    MAIN_JOB_TIMES,
    hosts_markdown,
    read_earlier_hosts,
    read_main_job_times,
    seed_budget,
    stability_markdown,
    stable_from,
    verdict_odds,
    verdict_stability,
    verdicts_across_hosts,
)


@pytest.mark.parametrize(("mean", "std", "seeds"), [(1.0, 1.0, 3), (-2.0, 1.5, 4), (0.3, 2.0, 6)])
def test_odds_are_those_of_simulated_seeds(mean, std, seeds) -> None:
    draws = np.random.default_rng(0).normal(mean, std, size=(200_000, seeds))
    t = draws.mean(axis=1) / (draws.std(axis=1, ddof=1) / np.sqrt(seeds))
    quantile = stats.t.ppf((1 + CONFIDENCE) / 2, seeds - 1)
    odds = verdict_odds(mean, std, seeds)
    assert odds.supported == pytest.approx((t > quantile).mean(), abs=0.005)
    assert odds.contradicted == pytest.approx((t < -quantile).mean(), abs=0.005)


def test_a_clear_effect_is_stable_a_small_one_is_not() -> None:
    assert verdict_odds(10.0, 1.0, 3).agreement > 0.99 and stable_from(10.0, 1.0) <= 3
    assert verdict_odds(1.0, 1.0, 3).agreement < 0.9
    assert 3 < stable_from(1.0, 1.0) <= 20  # resolved by more seeds
    assert stable_from(0.2, 1.0) is None  # neither resolved nor reliably unresolved within 20 seeds
    assert verdict_odds(0.0, 1.0, 5).inconclusive > 0.9  # no effect: both other verdicts are 2.5 % each
    with pytest.raises(ValueError, match="std > 0"):
        verdict_odds(1.0, 0.0, 3)


def test_fragile_verdicts_are_named() -> None:
    runs = pd.read_csv(COMMITTED_HOST_RUNS)
    # The reference: AM's mIoU loss is 4.7 std from 0, BDB's gain 1.2 std.
    frame = verdict_stability(runs).set_index("claim")
    clear, small = "AM raises mIoU over ssb_bdb (resnet18)", "BDB raises mIoU over ssb (resnet18)"
    assert frame.loc[clear, "p_same_verdict"] > 0.9 > frame.loc[small, "p_same_verdict"]
    text = stability_markdown(frame.reset_index(), seeds=3, budget=(2, "slow host"))
    fragile = text.split("Fragile at 3 seeds")[1]
    assert small.split(" (")[0] in fragile and clear not in fragile
    assert "holds 2 seed(s) on the slowest measured host (slow host)" in text
    one_seed = verdict_stability(runs[runs["seed"] == 0])
    assert stability_markdown(one_seed, seeds=1, budget=None).startswith("No claim has two paired seeds")


def test_the_budget_follows_the_slowest_host(tmp_path) -> None:
    times = pd.DataFrame(
        {"host": ["fast", "slow"], "seeds": [3, 3], "wall_minutes": [30.0, 75.0], "source": ["a", "b"]}
    )
    assert seed_budget(times) == (2, "slow")  # 25 min per seed
    assert seed_budget(read_main_job_times(MAIN_JOB_TIMES))[0] >= 1
    broken = tmp_path / "times.csv"
    times.drop(columns="source").to_csv(broken, index=False)
    with pytest.raises(ValueError, match=r"times\.csv: lacks the columns \['source'\]"):
        read_main_job_times(broken)
    times.assign(wall_minutes=[30.0, -1.0]).to_csv(broken, index=False)
    with pytest.raises(ValueError, match=r"times\.csv: seeds and wall_minutes must be positive"):
        read_main_job_times(broken)


def test_verdicts_measured_across_hosts_beside_the_expected_changes(tmp_path) -> None:
    reference = pd.read_csv(COMMITTED_HOST_RUNS)
    other = reference.copy()
    other.loc[other["variant"] == "ssb", "mIoU"] += [-2.0, 0.0, 2.0]  # SSB's verdict: supported → inconclusive
    other.to_csv(tmp_path / "amd_epyc.csv", index=False)
    hosts = read_earlier_hosts(tmp_path)
    across = verdicts_across_hosts({"these runs": reference, **hosts}).set_index("claim")
    assert list(across.columns) == ["these runs", "amd_epyc", "same on every host"]
    assert not across.loc["SSB raises mIoU over baseline (resnet18)", "same on every host"]
    assert across["same on every host"].sum() == len(across) - 1
    text = hosts_markdown(across.reset_index(), verdict_stability(reference))
    expected = (1 - verdict_stability(reference)["p_same_verdict"]).sum()
    assert f"1 of {len(across)} verdicts differ between the two hosts; the model above expects {expected:.1f}" in text
    assert read_earlier_hosts(tmp_path / "absent") == {}
