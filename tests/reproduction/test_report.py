"""``preset_deviations_markdown``: where a preset departs from the paper's recipe (basnet_lib.reproduction.report)."""

from __future__ import annotations

import pytest

from basnet_lib.engine.config_io import config_to_dict
from basnet_lib.engine.presets import PRESETS, preset
from basnet_lib.reproduction.report import preset_deviations_markdown

SECTIONS = ("model", "data", "train", "loss")
BOOKKEEPING = (
    "results_dir",
    "run_name",
    "checkpoint_every",
    "log_every",
    "num_workers",
    "root",
    "sab_probes",
    "eval_every",
    "eval_images",
    "threads",
)


def table_rows(markdown: str) -> dict[str, tuple[str, str]]:
    """``{field: (ours, paper)}`` of the table's body rows."""
    lines = markdown.strip().splitlines()
    assert lines[1] == "|---|---|---|"
    rows = {}
    for line in lines[2:]:
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        assert len(cells) == 3, line
        field = cells[0].strip("`")
        assert field not in rows, f"{field} listed twice"
        rows[field] = (cells[1], cells[2])
    return rows


def differing_fields(name: str) -> dict[str, tuple[object, object]]:
    ours = config_to_dict(preset(name, variant="full", data_root="/x"))
    paper = config_to_dict(preset("paper", variant="full", data_root="/x"))
    return {
        f"{section}.{field}": (value, paper[section][field])
        for section in SECTIONS
        for field, value in ours[section].items()
        if value != paper[section][field]
    }


def test_cpu_table_header_names_both_presets() -> None:
    lines = preset_deviations_markdown("cpu").splitlines()
    assert lines[0] == "| field | `cpu` | `paper` |"


def test_cpu_lists_the_recipe_changes_with_both_values() -> None:
    rows = table_rows(preset_deviations_markdown("cpu"))
    cpu = preset("cpu", variant="full")
    paper = preset("paper", variant="full", data_root="/x")
    for field, ours, theirs in (
        ("train.iterations", cpu.train.iterations, paper.train.iterations),
        ("model.backbone", cpu.model.backbone, paper.model.backbone),
        ("data.crop_height", cpu.data.crop_height, paper.data.crop_height),
    ):
        assert ours != theirs
        assert rows[field] == (repr(ours), repr(theirs))


@pytest.mark.parametrize("name", [name for name in PRESETS if name != "paper"])
def test_rows_are_exactly_the_differing_non_bookkeeping_fields(name: str) -> None:
    rows = table_rows(preset_deviations_markdown(name))
    expected = {
        field: values
        for field, values in differing_fields(name).items()
        if field.split(".", 1)[1] not in BOOKKEEPING
    }
    assert expected, "the preset should differ from paper somewhere"
    assert set(rows) == set(expected)
    for field, (ours, theirs) in expected.items():
        assert rows[field] == (repr(ours), repr(theirs))


@pytest.mark.parametrize("name", [name for name in PRESETS if name != "paper"])
def test_bookkeeping_fields_are_left_out(name: str) -> None:
    markdown = preset_deviations_markdown(name)
    for field in BOOKKEEPING:
        assert f".{field}`" not in markdown
    # Some of them do differ, so leaving them out is the table's choice, not a coincidence.
    assert any(field.split(".", 1)[1] in BOOKKEEPING for field in differing_fields(name))


def test_fields_equal_in_both_presets_are_not_listed() -> None:
    rows = table_rows(preset_deviations_markdown("cpu"))
    differing = differing_fields("cpu")
    ours = config_to_dict(preset("cpu", variant="full", data_root="/x"))
    equal = [
        f"{section}.{field}"
        for section in SECTIONS
        for field in ours[section]
        if f"{section}.{field}" not in differing
    ]
    assert equal, "some fields should be shared"
    assert not set(equal) & set(rows)


def test_paper_has_no_deviations() -> None:
    markdown = preset_deviations_markdown("paper")
    assert markdown.startswith("None")
    assert "`paper` preset" in markdown
    assert "|" not in markdown


def test_cpu_lists_its_edge_weight_beside_the_papers() -> None:
    rows = table_rows(preset_deviations_markdown("cpu"))
    assert rows["loss.edge_weight"] == ("3.0", "0.05")


def test_invocations_say_how_much_of_the_machine_others_used(tmp_path) -> None:
    from basnet_lib.reproduction.invocations import how_it_was_made, record_invocation

    record_invocation(tmp_path, wall_seconds=600, trained_runs=12, total_runs=12, other_cpu_share=0.314)
    record_invocation(tmp_path, wall_seconds=60, trained_runs=0, total_runs=12)  # no /proc/stat
    rows = [line for line in how_it_was_made("basnet", {}, tmp_path) if line.startswith("| 20")]
    assert [row.split("|")[2:6] for row in rows] == [
        [" 10.0 ", " 12 ", " 0 ", " 31.4 "],
        [" 1.0 ", " 0 ", " 12 ", " — "],
    ]


@pytest.mark.parametrize(
    ("content", "said"),
    [
        ('[{"finished": "2026', "not valid JSON"),
        ('[{"finished": "today"}]', "invocation 1 lacks a valid 'wall_minutes'"),
    ],
)
def test_a_damaged_invocations_record_stops_reproduce_first(tmp_path, monkeypatch, content, said) -> None:
    """It was read after the training and the notebooks, and its JSON error named no file."""
    from basnet_lib.reproduction import reproduce as reproduce_module
    from basnet_lib.reproduction.invocations import INVOCATIONS_FILE

    def train_grid(*args, **kwargs):
        raise AssertionError("the grid was trained before invocations.json was read")

    monkeypatch.setattr(reproduce_module, "_train_grid", train_grid)
    path = tmp_path / INVOCATIONS_FILE
    path.write_text(content)
    with pytest.raises(ValueError, match=f"^{path}: .*{said}"):
        reproduce_module.reproduce(preset_name="smoke", results_root=tmp_path)
    assert sorted(tmp_path.iterdir()) == [path] and path.read_text() == content
