"""The variant table is the one place that knows the Table 1 variants (docs/method.md §1.10, §6.1):
the paper's four rows as the paper gives them, and a variant added to the table alone reaching the
model builder, the config, the command line, the experiment grid, Table 1, the claims and the charts."""

from __future__ import annotations

import argparse
import math

import pandas as pd
import pytest

from basnet_lib.engine.commands import add_train_arguments
from basnet_lib.model import ModelConfig, Variant, build_basnet, table1_variants, variant_names, variant_row
from basnet_lib.model import variants as variants_module
from basnet_lib.model.variants import reference_variant, variant_colors
from basnet_lib.plots import table1_bar_chart
from basnet_lib.reproduction.claims import check_claims, claims, claims_markdown
from basnet_lib.reproduction.experiments import planned_runs
from basnet_lib.reproduction.tables import paper_table1, table1, table1_markdown

# A second name for the ssb_bdb module set, compared with ssb, which the paper does not have.
TWIN = Variant(
    name="ssb_bdb_twin",
    semantic_branch=True,
    boundary_branch=True,
    aggregation=False,
    paper_row="+ SSB + BDB (twin)",
    compared_with="ssb",
    color="tab:purple",
)


@pytest.fixture
def with_twin(monkeypatch) -> None:
    monkeypatch.setattr(variants_module, "TABLE1_VARIANTS", (*variants_module.TABLE1_VARIANTS, TWIN))


def test_the_table_is_the_papers_table1() -> None:
    assert variant_names() == ("baseline", "ssb", "ssb_bdb", "full")
    assert [row.modules for row in table1_variants()] == [(), ("SSB",), ("SSB", "BDB"), ("SSB", "BDB", "AM")]
    assert [row.compared_with for row in table1_variants()] == [None, "baseline", "ssb", "ssb_bdb"]
    assert [row.paper_row for row in table1_variants()] == [
        "ResNet + ASPP",
        "+ SSB",
        "+ SSB + BDB",
        "+ SSB + BDB + AM",
    ]
    assert paper_table1() == {  # docs/method.md §6.1
        "resnet50": {"baseline": 74.21, "ssb": 75.32, "ssb_bdb": 75.71, "full": 77.14},
        "resnet101": {"baseline": 75.01, "ssb": 76.94, "ssb_bdb": 77.73, "full": 79.20},
    }
    assert variant_colors() == {
        "baseline": "tab:gray",
        "ssb": "tab:blue",
        "ssb_bdb": "tab:orange",
        "full": "tab:green",
    }


def test_every_row_is_compared_with_an_earlier_one() -> None:
    names = variant_names()
    assert len(set(names)) == len(names)
    for position, row in enumerate(table1_variants()):
        assert row.compared_with is None or row.compared_with in names[:position], row.name
        assert ModelConfig(variant=row.name).has_semantic_branch == row.semantic_branch


def test_unknown_names_and_impossible_rows_are_refused() -> None:
    with pytest.raises(
        ValueError, match=r"^unknown variant 'ssb_am'; the variants are baseline, ssb, ssb_bdb, full$"
    ):
        variant_row("ssb_am")
    with pytest.raises(ValueError, match="a boundary branch needs the semantic branch"):
        Variant(name="bdb", semantic_branch=False, boundary_branch=True, aggregation=False, paper_row="+ BDB")
    with pytest.raises(ValueError, match="the aggregation module merges both branches"):
        Variant(name="am", semantic_branch=True, boundary_branch=False, aggregation=True, paper_row="+ AM")


def test_a_missing_row_is_skipped_to_the_one_it_is_compared_with() -> None:
    assert reference_variant("full", present=["baseline", "ssb_bdb", "full"]) == "ssb_bdb"
    assert reference_variant("full", present=["baseline", "full"]) == "baseline"
    assert reference_variant("ssb", present=["ssb", "full"]) is None
    assert reference_variant("baseline", present=variant_names()) is None


@pytest.mark.usefixtures("with_twin")
def test_an_added_variant_is_built_from_its_modules(tiny_batch) -> None:
    config = ModelConfig(variant=TWIN.name, backbone="resnet18", width=16, aspp_channels=32)
    assert (config.has_semantic_branch, config.has_boundary_branch, config.has_aggregation) == (
        True,
        True,
        False,
    )
    model = build_basnet(config=config).eval()
    twin_of = build_basnet(
        config=ModelConfig(variant="ssb_bdb", backbone="resnet18", width=16, aspp_channels=32)
    )
    assert list(model.state_dict()) == list(twin_of.state_dict())  # the same modules, the same keys
    image, gradient_map = tiny_batch
    outputs = model(image, gradient_map)
    assert {key: tuple(value.shape) for key, value in outputs.items()} == {
        "out": (2, 19, 70, 90),
        "boundary": (2, 1, 70, 90),
    }
    with pytest.raises(ValueError, match="use 'ssb_bdb' or 'full' or 'ssb_bdb_twin'"):
        ModelConfig(variant="ssb", sab_probes=True)


@pytest.mark.usefixtures("with_twin")
def test_an_added_variant_is_planned_and_offered_on_the_command_line() -> None:
    runs = planned_runs(preset_name="smoke", variants=[TWIN.name, "ssb"], results_root="/tmp/r")
    assert [run.run_name for run in runs] == ["ssb-resnet18-seed0", "ssb_bdb_twin-resnet18-seed0"]
    assert [run.model.variant for run in planned_runs(preset_name="smoke")] == [*variant_names()]
    assert variant_names()[-1] == TWIN.name
    parser = argparse.ArgumentParser()
    add_train_arguments(parser)
    assert parser.parse_args(["--variant", TWIN.name]).variant == TWIN.name


def _runs(mious: dict[str, tuple[float, float, float]]) -> pd.DataFrame:
    """A ``tables.runs_frame``-like frame on resnet18, seeds 0–2, boundary F equal to mIoU."""
    rows = [
        {
            "backbone": "resnet18",
            "variant": variant,
            "seed": seed,
            **dict.fromkeys(("mIoU", "F_3px", "F_5px", "F_9px"), miou),
        }
        for variant, values in mious.items()
        for seed, miou in enumerate(values)
    ]
    return pd.DataFrame(rows)


@pytest.mark.usefixtures("with_twin")
def test_an_added_variant_reaches_table1_the_claims_and_the_charts() -> None:
    runs = _runs(
        {
            TWIN.name: (45.0, 47.0, 49.0),  # out of table order: the table orders the rows
            "baseline": (40.0, 41.0, 42.0),
            "ssb": (42.0, 43.0, 44.0),
            "ssb_bdb": (43.0, 44.0, 45.0),
            "full": (44.0, 45.0, 46.0),
        }
    )
    table = table1(runs)
    assert list(table["variant"]) == ["baseline", "ssb", "ssb_bdb", "full", TWIN.name]
    twin = table.set_index("variant").loc[TWIN.name]
    assert (twin["SSB"], twin["BDB"], twin["AM"]) == ("✓", "✓", "")
    assert twin["gain"] == pytest.approx(47.0 - 43.0)  # over ssb, the row it is compared with
    assert math.isnan(twin["paper_resnet50"]) and math.isnan(twin["paper_resnet101_gain"])
    twin_line = [cell.strip() for cell in table1_markdown(table).splitlines()[-1].strip("|").split("|")]
    assert twin_line[4:] == ["47.00 ± 2.00 (n=3)", "+4.00", "[+1.52, +6.48]", "—", "—", "supported"]
    checks = {check.compared: check for check in check_claims(runs)}
    assert f"{TWIN.name} − ssb" in checks and checks["full − ssb_bdb"].claim == (
        "AM raises mIoU over ssb_bdb (resnet18)"
    )
    frame = claims(runs).set_index("claim")
    # Two variants now add the BDB to ssb: each claim names its variant.
    twin_claim = frame.loc[f"BDB ({TWIN.name}) raises mIoU over ssb (resnet18)"]
    assert (twin_claim["paper"], twin_claim["n"], twin_claim["mean_difference"]) == (
        "—",
        3,
        pytest.approx(4.0),
    )
    assert "BDB (ssb_bdb) raises mIoU over ssb (resnet18)" in frame.index
    assert "full BASNet beats the baseline in mIoU (resnet18)" in frame.index
    assert TWIN.name in claims_markdown(claims(runs))
    assert variant_colors()[TWIN.name] == "tab:purple"
    figure = table1_bar_chart(table, paper=paper_table1())
    assert [patch.get_facecolor() for patch in figure.axes[0].patches][-1][:3] == pytest.approx(
        (0.580, 0.404, 0.741), abs=1e-3
    )  # tab:purple
