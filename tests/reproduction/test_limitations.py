"""The report's limitations of a scaled-down preset: one row per departure from the paper's
config, with the two presets' values, the claims it may move and where it was measured."""

from __future__ import annotations

from basnet_lib.reproduction.limitations import SCALE_DOWNS, limitations_markdown


def rows(markdown: str) -> dict[str, list[str]]:
    table = [line for line in markdown.splitlines() if line.startswith("| ") and not line.startswith("| scale-down")]
    return {cells[0]: cells[1:] for cells in ([cell.strip() for cell in line.strip("|").split("|")] for line in table)}


def test_the_cpu_preset_lists_every_scale_down_with_both_values() -> None:
    table = rows(limitations_markdown("cpu", synthcity=True))
    assert list(table) == [item.name for item in SCALE_DOWNS]
    assert table["decoder width C"][:2] == ["width 64, aspp_channels 128", "width 256, aspp_channels 256"]
    assert table["edge weight λ"][:2] == ["edge_weight 3.0", "edge_weight 0.05"]
    assert table["SynthCity instead of Cityscapes"][:2] == ["SynthCity (generated)", "Cityscapes"]
    assert all(cells[3].startswith(("measured", "not measured", "crops measured")) for cells in table.values())


def test_the_paper_preset_has_no_limitations_and_cityscapes_runs_no_synthcity_row() -> None:
    assert limitations_markdown("paper", synthcity=False) == ""
    assert "SynthCity instead of Cityscapes" not in rows(limitations_markdown("cpu", synthcity=False))
