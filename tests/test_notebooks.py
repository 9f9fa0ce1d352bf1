"""The notebooks run under papermill (smoke preset) and write their artifacts (docs/method.md §8.1–8.3,
§6).

One smoke reproduction (``basnet reproduce --preset smoke`` with 2 iterations per run) is shared
by the module; the tests check what it wrote to ``results/``, not cell outputs (docs/method.md §8.2).
"""

from __future__ import annotations

import argparse
import ast
import itertools
import math
import re
from pathlib import Path

import jupytext
import nbformat
import numpy as np
import pandas as pd
import papermill
import pytest

from basnet_lib.engine.presets import default_results_root
from basnet_lib.model import variant_names
from basnet_lib.reproduction.experiments import planned_run
from basnet_lib.reproduction.notebooks import (
    TRAINING_NOTEBOOK,
    checked_parameters,
    clear_outputs,
    parameter_names,
    training_notebook_parameters,
)
from basnet_lib.reproduction.report import ReproductionSettings
from basnet_lib.reproduction.reproduce import (
    NOTEBOOKS,
    parameter_values_per_notebook,
    reproduce,
)
from basnet_lib.reproduction.reproduce_command import add_reproduce_arguments
from basnet_lib.reproduction.tables import BIOU_COLUMNS, F_COLUMNS, PAPER_TABLE3

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_PATHS = sorted((ROOT / "notebooks").glob("*.ipynb"))  # each paired with NN_name.py
# Two seeds: the fewest with a confidence interval; the smoke preset trains them side by side.
SEEDS = (0, 1)
FIGURES = (
    "architecture_full.png",
    "table1_miou.png",
    "fscore_vs_tolerance.png",
    "per_class_fscore.png",
    "fig4_sab_probes.png",
    "fig6_segmentation.png",
    "fig7_boundaries.png",
)


# Notebook 03's tables from the recipe study's long and wide runs, written only where it ran.
STUDY_TABLES = ("plateau_gap.md", "width.md")


@pytest.fixture(scope="module")
def smoke_results(tmp_path_factory) -> Path:
    results_root = tmp_path_factory.mktemp("results")
    (results_root / "tables").mkdir()
    for name in STUDY_TABLES:  # left by an earlier study of this results root, which no longer has it
        (results_root / "tables" / name).write_text("an earlier study's table\n")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MPLBACKEND", "agg")  # docs/method.md §8.1
        reproduce(preset_name="smoke", results_root=results_root, iterations=2, num_images=2, seeds=SEEDS)
    return results_root


def test_every_notebook_is_executed(smoke_results) -> None:
    executed = sorted(path.name for path in (smoke_results / "notebooks").glob("*.ipynb"))
    assert executed == [
        "01_architecture.ipynb",
        "03_table1_ablations.ipynb",
        "04_table3_fscore.ipynb",
        "05_figures.ipynb",
    ]
    for variant, seed in itertools.product(variant_names(), SEEDS):  # each run executed 02 into its directory
        run_dir = smoke_results / "runs" / "smoke" / f"{variant}-resnet18-seed{seed}"
        for name in ("02_training.ipynb", "config.json", "metrics.json", "history.csv", "checkpoint.pt"):
            assert (run_dir / name).is_file(), run_dir / name
        notebook = nbformat.read(run_dir / "02_training.ipynb", as_version=4)
        injected = [cell for cell in notebook.cells if "injected-parameters" in cell.metadata.get("tags", [])]
        assert len(injected) == 1 and f'variant = "{variant}"' in injected[0].source
        assert f"seed = {seed}" in injected[0].source
        assert len(pd.read_csv(run_dir / "history.csv")) == 2  # iterations=2 reached the run


def test_tables_of_a_study_the_results_root_lacks_are_removed(smoke_results) -> None:
    assert not any((smoke_results / "tables" / name).exists() for name in STUDY_TABLES)
    assert "an earlier study's table" not in (smoke_results / "REPORT.md").read_text()


def test_table1_has_a_row_per_variant_with_finite_numbers(smoke_results) -> None:
    table = pd.read_csv(smoke_results / "tables" / "table1.csv")
    assert list(table["variant"]) == list(variant_names())
    for column in (
        "mIoU_mean",
        "gain",
        "paper_resnet50",
        "paper_resnet101",
        "paper_resnet50_gain",
        "verdict",
    ):
        assert column in table.columns, column
    assert np.isfinite(table["mIoU_mean"]).all() and table["mIoU_mean"].between(0, 100).all()
    assert math.isnan(table["gain"].iloc[0]) and np.isfinite(table["gain"].iloc[1:]).all()
    np.testing.assert_allclose(table["gain"].iloc[1:], np.diff(table["mIoU_mean"]))
    assert list(table["paper_resnet101"]) == [75.01, 76.94, 77.73, 79.20]
    markdown = (smoke_results / "tables" / "table1.md").read_text()
    assert "ResNet18+ASPP" in markdown and "79.20 (+1.47)" in markdown
    per_class = pd.read_csv(smoke_results / "tables" / "per_class_iou.csv")
    assert list(per_class["variant"].unique()) == list(variant_names()) and per_class.shape[1] == 3 + 19
    thin = (smoke_results / "tables" / "thin_classes.md").read_text()
    assert all(name in thin for name in ("pole", "traffic light", "traffic sign", "person"))


def test_table3_has_every_variant_and_the_paper_rows(smoke_results) -> None:
    table = pd.read_csv(smoke_results / "tables" / "table3.csv")
    assert list(table["method"]) == [*variant_names(), *PAPER_TABLE3]
    ours = table[table["source"] == "ours"]
    assert np.isfinite(ours[list(F_COLUMNS)].to_numpy()).all()
    assert ours[list(F_COLUMNS)].stack().between(0, 100).all()
    per_class = pd.read_csv(smoke_results / "tables" / "per_class_fscore.csv", index_col=0)
    assert per_class.shape == (4, 19)
    boundary_iou = (smoke_results / "tables" / "table3_boundary_iou.md").read_text()
    assert "| full" in boundary_iou and "full − baseline" in boundary_iou
    assert re.search(r"\| BIoU +\| +2 +\| [+-]\d+\.\d\d +\| \[", boundary_iou)  # paired over both seeds
    runs = pd.read_csv(smoke_results / "tables" / "runs.csv")
    biou = runs[list(BIOU_COLUMNS)]
    assert biou.notna().all().all() and biou.stack().between(0, 100).all()


def test_architecture_tables_and_figures(smoke_results) -> None:
    components = pd.read_csv(smoke_results / "architecture" / "components.csv")
    assert {"torchvision DeepLabV3", "BASNet full"} <= set(components["model"])
    assert np.isfinite(components[["params_M", "GFLOPs"]].to_numpy()).all()
    shapes = pd.read_csv(smoke_results / "architecture" / "shapes.csv")
    assert set(shapes["variant"]) == set(variant_names())
    assert "boundary_branch.block3" in set(shapes["block"])
    for name in FIGURES:
        path = smoke_results / "figures" / name
        assert path.is_file() and 0 < path.stat().st_size < 500_000, name


def test_report_states_claims_from_the_numbers(smoke_results) -> None:
    report = (smoke_results / "REPORT.md").read_text()
    for heading in ("Which claims our measurements support", "Table 1", "Table 3", "Figures", "Machine"):
        assert heading in report, heading
    assert re.search(r"\d+ of 8 claims supported; \d+ contradicted; \d+ inconclusive", report)
    assert "reproduced" not in report.lower()
    for heading in ("Noise floor", "Thin classes", "The boundary branch on its own", "empty pairs", "departs from the paper",
                    "Boundary IoU", "Limitations of the `smoke` preset"):  # fmt: skip
        assert heading in report, heading
    for name in FIGURES:
        assert f"(figures/{name})" in report


def _parameters_cell(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    cells = [cell for cell in notebook.cells if "parameters" in cell.metadata.get("tags", [])]
    assert len(cells) == 1, "exactly one cell tagged parameters (docs/method.md §8.1)"
    return cells[0]


@pytest.mark.parametrize("path", NOTEBOOK_PATHS, ids=lambda path: path.name)
def test_committed_notebook_is_clean_with_literal_parameters(path) -> None:
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, (
                "committed with outputs (docs/method.md §8.2)"
            )
    assert notebook.metadata["kernelspec"]["name"] == "python3"
    parameters = {}
    for statement in ast.parse(_parameters_cell(notebook).source).body:
        assert isinstance(statement, ast.Assign | ast.AnnAssign), ast.dump(statement)
        target = statement.targets[0] if isinstance(statement, ast.Assign) else statement.target
        parameters[target.id] = ast.literal_eval(statement.value)  # plain literals only
    assert {"preset", "results_root"} <= set(parameters)
    inferred = papermill.inspect_notebook(str(path))  # what `papermill --help-notebook` lists
    assert set(inferred) == set(parameters) == set(parameter_names(path.name))


def pair_differences(notebook_path: Path, script_path: Path) -> list[str]:
    """What differs between the cells of a notebook and of its percent script, both read by jupytext:
    cell type, source and tags, cell by cell (empty: the pair is in sync)."""
    notebook, script = (_cells(jupytext.read(path)) for path in (notebook_path, script_path))
    differences = [
        f"cell {index}: {ours!r} != {theirs!r}"
        for index, (ours, theirs) in enumerate(zip(notebook, script, strict=False))
        if ours != theirs
    ]
    if len(notebook) != len(script):
        differences.append(f"{len(notebook)} cells in {notebook_path.name}, {len(script)} in {script_path.name}")
    return differences


def _cells(notebook: nbformat.NotebookNode) -> list[tuple[str, str, tuple[str, ...]]]:
    return [(cell.cell_type, cell.source, tuple(cell.metadata.get("tags", ()))) for cell in notebook.cells]


def test_every_notebook_is_paired_with_its_percent_script() -> None:
    scripts = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py"))
    assert [path.stem for path in scripts] == [path.stem for path in NOTEBOOK_PATHS]
    configuration = (ROOT / "notebooks" / "jupytext.toml").read_text()
    assert 'formats = "ipynb,py:percent"' in configuration  # JupyterLab saves both files
    for path in NOTEBOOK_PATHS:
        script = path.with_suffix(".py")
        assert script.read_text().count('# %% tags=["parameters"]') == 1, script.name
        assert pair_differences(path, script) == [], f"{path.name}: run `make notebooks`"


def test_an_out_of_sync_pair_is_caught(tmp_path) -> None:
    notebook = NOTEBOOK_PATHS[0]
    script = tmp_path / notebook.with_suffix(".py").name
    source = notebook.with_suffix(".py").read_text()
    script.write_text(source)
    assert pair_differences(notebook, script) == []
    script.write_text(source.replace('results_root: str = ""', 'results_root: str = "elsewhere"'))
    (difference,) = pair_differences(notebook, script)
    assert "elsewhere" in difference
    script.write_text(source.replace('# %% tags=["parameters"]', "# %%"))  # the tag lost
    assert len(pair_differences(notebook, script)) == 1
    script.write_text(source + "\n# %%\nprint('a cell only the script has')\n")
    assert pair_differences(notebook, script)[-1].endswith(f"in {script.name}")


def test_clear_outputs_leaves_the_notebook_as_committed(tmp_path) -> None:
    committed = nbformat.read(NOTEBOOK_PATHS[0], as_version=4)
    executed = nbformat.read(NOTEBOOK_PATHS[0], as_version=4)
    code = next(cell for cell in executed.cells if cell.cell_type == "code")
    code.outputs = [nbformat.v4.new_output("stream", name="stdout", text="trained\n")]
    code.execution_count = 3
    code.metadata["execution"] = {"iopub.status.idle": "2024-01-01T00:00:00Z"}
    path = tmp_path / NOTEBOOK_PATHS[0].name
    nbformat.write(executed, path)
    assert clear_outputs(path) is True
    assert nbformat.writes(nbformat.read(path, as_version=4)) == nbformat.writes(committed)
    assert clear_outputs(path) is False


def test_reproduce_arguments_default_to_the_main_job() -> None:
    parser = argparse.ArgumentParser()
    add_reproduce_arguments(parser)
    args = parser.parse_args([])
    defaults = ("cpu", list(variant_names()), [], [0, 1, 2])
    assert (args.preset, args.variants, args.backbones, args.seeds) == defaults
    assert default_results_root("cpu") == "results" and default_results_root("smoke") == "results/smoke"
    args = parser.parse_args(["--preset", "paper", "--data-root", "/data/cityscapes", "--seeds", "0", "1"])
    assert args.data_root == "/data/cityscapes" and args.seeds == [0, 1]


def _cell_parameters(path: Path) -> set[str]:
    """The names assigned in a committed notebook's parameters cell."""
    statements = ast.parse(_parameters_cell(nbformat.read(path, as_version=4)).source).body
    return {(s.targets[0] if isinstance(s, ast.Assign) else s.target).id for s in statements}


def test_parameters_given_to_the_notebooks_are_in_their_parameters_cells(tmp_path) -> None:
    """The dictionaries of `basnet reproduce` and of the training runs name only parameters that
    the notebooks' parameters cells define (a renamed parameter would be ignored by papermill)."""
    settings = ReproductionSettings(
        preset="smoke",
        variants=variant_names(),
        backbones=("resnet18",),
        seeds=(0, 1),
        data_root="",
        iterations=2,
        command="",
    )
    given = parameter_values_per_notebook(settings, tmp_path, num_images=2)
    assert list(given) == list(NOTEBOOKS)
    run = planned_run(preset_name="smoke", variant="full", results_root=tmp_path)
    given[TRAINING_NOTEBOOK] = training_notebook_parameters(run, preset_name="smoke", results_root=tmp_path)
    assert sorted(given) == [path.name for path in NOTEBOOK_PATHS]
    for name, parameters in given.items():
        cell = _cell_parameters(ROOT / "notebooks" / name)
        assert set(parameters) <= cell, (name, sorted(set(parameters) - cell))
        assert {"preset", "results_root"} <= set(parameters), name
    with pytest.raises(ValueError, match=r"no parameters \['variant_name'\]"):
        checked_parameters(TRAINING_NOTEBOOK, {"variant_name": "full"})
