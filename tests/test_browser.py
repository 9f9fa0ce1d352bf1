"""Notebook 05's interactive view in a real browser: JupyterLab runs the notebook, Chromium shows it.

The widget tests (tests/reproduction/test_widgets.py) set slider values in Python; this one checks
what a reader sees (docs/method.md §8): JupyterLab renders the explorer (variant selector, image
slider, SAB-stage slider, picture), the SAB-stage slider moves with the keyboard, the picture
changes, and the browser logs no error. It trains smoke runs of its own and keeps its screenshots
in its temporary folder; the README's picture comes from the committed cpu runs
(``python -m basnet_lib.reproduction.explorer_picture``, the same server and page).

Needs Chromium (Debian: ``apt-get install chromium``, or ``BASNET_CHROMIUM=/path/to/chrome``) and
Playwright (the ``dev`` extra); without them the test is skipped, or fails when
``BASNET_REQUIRE_BROWSER=1`` (CI, ``.ci/run``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from basnet_lib.reproduction.experiments import planned_runs, train_unfinished_runs_in_notebooks
from basnet_lib.reproduction.explorer_picture import (
    JupyterLab,
    chromium_page,
    explorer_slider,
    find_chromium,
    jupyter_lab,
    main,
    prepare_figures_notebook,
    run_explorer,
)

# Two variants are enough for the selector; `full` has the SAB probes the stage slider shows.
VARIANTS = ["baseline", "full"]
GRID = dict(preset_name="smoke", data_root="", iterations=2)

pytestmark = pytest.mark.browser


def _unavailable(what: str) -> None:
    message = (
        f"browser test needs {what}: `apt-get install chromium` (or set BASNET_CHROMIUM to a "
        "Chrome/Chromium executable) and `pip install playwright` (the dev extra)"
    )
    if os.environ.get("BASNET_REQUIRE_BROWSER") == "1":
        pytest.fail(message + " (BASNET_REQUIRE_BROWSER=1)")
    pytest.skip(message)


@pytest.fixture
def chromium() -> str:
    """The system Chromium (Playwright's own browser download is not needed)."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _unavailable("Playwright")
    found = find_chromium()
    if found is None:
        _unavailable("Chromium")
    return found


@pytest.fixture
def lab_root(chromium, tmp_path) -> Path:
    """A folder for JupyterLab holding notebook 05 with parameters for smoke runs trained here."""
    results_root = tmp_path / "results"
    runs = planned_runs(variants=VARIANTS, results_root=results_root, **GRID)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MPLBACKEND", "agg")
        train_unfinished_runs_in_notebooks(runs, results_root=results_root, **GRID)
    lab_root = tmp_path / "lab"
    lab_root.mkdir()
    prepare_figures_notebook(
        lab_root, preset="smoke", variants=VARIANTS, iterations=2, results_root=str(results_root), num_images=2
    )
    return lab_root


@pytest.fixture
def lab(lab_root, tmp_path) -> Iterator[JupyterLab]:
    with jupyter_lab(lab_root, tmp_path / "jupyter") as server:
        yield server


@dataclass(frozen=True)
class BrowserPage:
    """A Chromium page and every error its console logged or its scripts threw."""

    page: object  # playwright.sync_api.Page
    errors: list[str]


@pytest.fixture
def browser_page(chromium) -> Iterator[BrowserPage]:
    with chromium_page(chromium) as page:
        errors: list[str] = []
        page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error: errors.append(f"uncaught: {error}"))
        yield BrowserPage(page, errors)


def test_explorer_in_jupyterlab_redraws_when_the_sab_stage_slider_moves(lab, browser_page, tmp_path) -> None:
    from playwright.sync_api import expect

    page = browser_page.page
    explorer = run_explorer(page, lab, "05_figures.ipynb")
    expect(explorer.locator(".widget-dropdown select")).to_have_value("full")
    expect(explorer.locator(".widget-dropdown option")).to_have_text(VARIANTS)
    expect(explorer_slider(explorer, "image").locator(".widget-readout")).to_have_text("0")
    stage = explorer_slider(explorer, "SAB stage")
    expect(stage.locator(".widget-readout")).to_have_text("3")
    picture = explorer.locator("img.widget-image")
    explorer.screenshot(path=tmp_path / "explorer_before.png")
    source, pixels = picture.get_attribute("src"), picture.screenshot()

    stage.locator(".noUi-handle").focus()
    page.keyboard.press("Home")  # to stage 1, as a reader would with the keyboard
    expect(stage.locator(".widget-readout")).to_have_text("1")
    expect(picture).not_to_have_attribute("src", source, timeout=120_000)
    page.wait_for_function("image => image.complete && image.naturalWidth > 0", arg=picture.element_handle())
    assert picture.screenshot() != pixels, "the picture did not change with the SAB stage"
    explorer.screenshot(path=tmp_path / "explorer_after.png")
    assert browser_page.errors == [], f"browser console errors: {browser_page.errors}"


def test_the_readme_picture_needs_the_finished_grid(chromium, tmp_path, capsys) -> None:
    """Nothing starts (no server, no browser) while a run of notebook 05's grid is missing."""
    with pytest.raises(SystemExit) as stopped:
        main(["--preset", "smoke", "--results-root", str(tmp_path), "--out", str(tmp_path / "p.png")])
    said = capsys.readouterr().err.strip().splitlines()[-1]
    assert stopped.value.code == 2 and not (tmp_path / "p.png").exists()
    assert re.search(r"runs of the smoke grid are not finished \(baseline-.*seed0.*\): run `basnet reproduce", said)
