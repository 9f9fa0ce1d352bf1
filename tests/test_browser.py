"""Notebook 05's interactive view in a real browser: JupyterLab runs the notebook, Chromium shows it.

The widget tests (tests/reproduction/test_widgets.py) set slider values in Python; this one checks
what a reader sees (docs/method.md §8): JupyterLab renders the explorer (variant selector, image
slider, SAB-stage slider, picture), the SAB-stage slider moves with the keyboard, the picture
changes, and the browser logs no error. Screenshots before and after go to ``results/browser/``.

Needs Chromium (Debian: ``apt-get install chromium``, or ``BASNET_CHROMIUM=/path/to/chrome``) and
Playwright (the ``dev`` extra); without them the test is skipped, or fails when
``BASNET_REQUIRE_BROWSER=1`` (CI, ``.ci/run``).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import papermill
import pytest

from basnet_lib.reproduction.experiments import planned_runs, train_unfinished_runs_in_notebooks

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = ROOT / "results" / "browser"
# Two variants are enough for the selector; `full` has the SAB probes the stage slider shows.
VARIANTS = ["baseline", "full"]
GRID = dict(preset_name="smoke", data_root="", iterations=2)
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
CELLS_TIMEOUT_MS = 300_000

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
    candidates = [os.environ.get("BASNET_CHROMIUM", "")] + [
        shutil.which(name) or "" for name in CHROMIUM_NAMES
    ]
    found = next((path for path in candidates if path and os.access(path, os.X_OK)), None)
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
    papermill.execute_notebook(
        str(ROOT / "notebooks" / "05_figures.ipynb"),
        str(lab_root / "05_figures.ipynb"),
        parameters=dict(
            preset="smoke", variants=VARIANTS, iterations=2, results_root=str(results_root), num_images=2
        ),
        prepare_only=True,
        progress_bar=False,
    )
    return lab_root


@dataclass(frozen=True)
class JupyterLab:
    url: str
    token: str


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _lab_environment(state: Path) -> dict[str, str]:
    """This interpreter's environment, with Jupyter's settings and state kept in ``state``, and this
    checkout first on the kernel's path (the kernel imports the ``basnet_lib`` under test)."""
    settings = state / "settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    # No news toast over the screenshots, and no request outside the machine.
    (settings / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False})
    )
    environment = dict(os.environ)
    environment.update(
        JUPYTER_CONFIG_DIR=str(state / "config"),
        JUPYTER_RUNTIME_DIR=str(state / "runtime"),
        JUPYTERLAB_SETTINGS_DIR=str(state / "settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(state / "workspaces"),
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH", "")])),
    )
    return environment


def _wait_until_serving(lab: JupyterLab, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"JupyterLab exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{lab.url}/api/status?token={lab.token}", timeout=5) as reply:
                if reply.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"JupyterLab did not answer within 120 s:\n{log.read_text()[-3000:]}")


def _shut_down(lab: JupyterLab, process: subprocess.Popen) -> None:
    """Ask the server to stop (it shuts its kernels down), then make sure it did."""
    request = urllib.request.Request(f"{lab.url}/api/shutdown?token={lab.token}", method="POST")
    try:
        urllib.request.urlopen(request, timeout=10).close()
        process.wait(timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def jupyter_lab(lab_root, tmp_path) -> Iterator[JupyterLab]:
    port, token = _free_port(), secrets.token_hex(16)
    lab = JupyterLab(url=f"http://127.0.0.1:{port}", token=token)
    command = [
        sys.executable, "-m", "jupyter", "lab", "--no-browser",
        f"--ServerApp.port={port}", "--ServerApp.port_retries=0", "--ServerApp.ip=127.0.0.1",
        f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={lab_root}",
    ]  # fmt: skip
    if os.geteuid() == 0:
        command.append("--allow-root")
    log = tmp_path / "jupyterlab.log"
    with open(log, "w") as output:  # the server keeps its own handle
        process = subprocess.Popen(
            command, stdout=output, stderr=subprocess.STDOUT, env=_lab_environment(tmp_path / "jupyter")
        )
    try:
        _wait_until_serving(lab, process, log)
        yield lab
    finally:
        _shut_down(lab, process)


@dataclass(frozen=True)
class BrowserPage:
    """A Chromium page and every error its console logged or its scripts threw."""

    page: object  # playwright.sync_api.Page
    errors: list[str]


@pytest.fixture
def browser_page(chromium) -> Iterator[BrowserPage]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium)
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 1000})
            errors: list[str] = []
            page.on(
                "console", lambda message: errors.append(message.text) if message.type == "error" else None
            )
            page.on("pageerror", lambda error: errors.append(f"uncaught: {error}"))
            yield BrowserPage(page, errors)
        finally:
            browser.close()


def _run_all_cells(page) -> None:
    # Run All before the kernel is up does not run the cells; the status bar says when it is.
    kernel_idle = re.compile(r"^(?!No Kernel).+ \| Idle$")
    page.locator(".jp-StatusBar-TextItem", has_text=kernel_idle).wait_for(timeout=120_000)
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()


def _slider(explorer, description: str):
    return explorer.locator(".widget-slider").filter(
        has=explorer.page.locator(".widget-label", has_text=re.compile(f"^{description}$"))
    )


def test_explorer_in_jupyterlab_redraws_when_the_sab_stage_slider_moves(jupyter_lab, browser_page) -> None:
    from playwright.sync_api import expect

    page = browser_page.page
    page.goto(f"{jupyter_lab.url}/lab/tree/05_figures.ipynb?token={jupyter_lab.token}")
    _run_all_cells(page)
    stage_label = page.locator(".widget-label", has_text=re.compile(r"^SAB stage$"))
    explorer = page.locator(".widget-vbox").filter(has=stage_label)
    expect(explorer).to_be_visible(timeout=CELLS_TIMEOUT_MS)
    expect(explorer.locator(".widget-dropdown select")).to_have_value("full")
    expect(explorer.locator(".widget-dropdown option")).to_have_text(VARIANTS)
    expect(_slider(explorer, "image").locator(".widget-readout")).to_have_text("0")
    stage = _slider(explorer, "SAB stage")
    expect(stage.locator(".widget-readout")).to_have_text("3")
    picture = explorer.locator("img.widget-image")
    expect(picture).to_have_attribute("src", re.compile(r"^blob:"))
    # The last cell (the own-image view) has run: every output that could log an error is in.
    expect(page.locator(".widget-upload")).to_be_visible(timeout=CELLS_TIMEOUT_MS)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    explorer.screenshot(path=SCREENSHOTS / "explorer_before.png")
    source, pixels = picture.get_attribute("src"), picture.screenshot()

    stage.locator(".noUi-handle").focus()
    page.keyboard.press("Home")  # to stage 1, as a reader would with the keyboard
    expect(stage.locator(".widget-readout")).to_have_text("1")
    expect(picture).not_to_have_attribute("src", source, timeout=120_000)
    page.wait_for_function("image => image.complete && image.naturalWidth > 0", arg=picture.element_handle())
    assert picture.screenshot() != pixels, "the picture did not change with the SAB stage"
    explorer.screenshot(path=SCREENSHOTS / "explorer_after.png")
    assert browser_page.errors == [], f"browser console errors: {browser_page.errors}"
