"""Notebook 05's explorer as a reader sees it: JupyterLab runs the notebook, Chromium shows it.

The README's first picture comes from here, made from a results root's finished runs (the committed
cpu grid's):

    python -m basnet_lib.reproduction.explorer_picture --preset cpu --results-root results

The browser test (tests/test_browser.py) drives the same server and page with smoke runs of its own.
Needs Chromium (Debian's ``chromium``, or ``BASNET_CHROMIUM``) and Playwright (the ``dev`` extra);
Playwright's own browser download is not used.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from basnet_lib.reproduction.experiments import planned_runs, unfinished_runs
from basnet_lib.reproduction.notebooks import CHECKOUT

README_PICTURE = CHECKOUT / "results" / "browser" / "explorer_after.png"
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
CELLS_TIMEOUT_MS = 300_000


@dataclass(frozen=True)
class JupyterLab:
    url: str
    token: str


def find_chromium() -> str | None:
    """``BASNET_CHROMIUM`` or the first Chromium/Chrome on the PATH (None: none is installed)."""
    candidates = [os.environ.get("BASNET_CHROMIUM", "")] + [shutil.which(name) or "" for name in CHROMIUM_NAMES]
    return next((path for path in candidates if path and os.access(path, os.X_OK)), None)


def prepare_figures_notebook(folder: Path, **parameters) -> Path:
    """Notebook 05 with ``parameters`` injected (not run) in ``folder``, for JupyterLab to run."""
    import papermill

    path = folder / "05_figures.ipynb"
    papermill.execute_notebook(
        str(CHECKOUT / "notebooks" / "05_figures.ipynb"), str(path), parameters=parameters,
        prepare_only=True, progress_bar=False,
    )  # fmt: skip
    return path


@contextmanager
def jupyter_lab(root: Path, state: Path) -> Iterator[JupyterLab]:
    """A JupyterLab server on a free local port serving ``root``, its settings and state in ``state``;
    shut down (with its kernels) on exit."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    lab = JupyterLab(url=f"http://127.0.0.1:{port}", token=secrets.token_hex(16))
    command = [
        sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0", "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={lab.token}",
        f"--ServerApp.root_dir={root}", *(["--allow-root"] if os.geteuid() == 0 else []),
    ]  # fmt: skip
    state.mkdir(parents=True, exist_ok=True)
    log = state / "jupyterlab.log"
    with open(log, "w") as output:  # the server keeps its own handle
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, env=_lab_environment(state))
    try:
        _wait_until_serving(lab, process, log)
        yield lab
    finally:
        _shut_down(lab, process)


@contextmanager
def chromium_page(chromium: str) -> Iterator[object]:
    """A page (``playwright.sync_api.Page``, 1500×1000) of the Chromium at ``chromium``, closed on exit."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium)
        try:
            yield browser.new_page(viewport={"width": 1500, "height": 1000})
        finally:
            browser.close()


def run_explorer(page, lab: JupyterLab, notebook: str):
    """Open ``notebook`` in JupyterLab, run all its cells, and return the explorer's locator once its
    picture and the last cell's upload view are shown."""
    from playwright.sync_api import expect

    page.goto(f"{lab.url}/lab/tree/{notebook}?token={lab.token}")
    # Run All before the kernel is up does not run the cells; the status bar says when it is.
    kernel_idle = re.compile(r"^(?!No Kernel).+ \| Idle$")
    page.locator(".jp-StatusBar-TextItem", has_text=kernel_idle).wait_for(timeout=120_000)
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()
    stage_label = page.locator(".widget-label", has_text=re.compile(r"^SAB stage$"))
    explorer = page.locator(".widget-vbox").filter(has=stage_label)
    expect(explorer).to_be_visible(timeout=CELLS_TIMEOUT_MS)
    expect(explorer.locator("img.widget-image")).to_have_attribute("src", re.compile(r"^blob:"))
    # The last cell (the own-image view) has run: every output that could log an error is in.
    expect(page.locator(".widget-upload")).to_be_visible(timeout=CELLS_TIMEOUT_MS)
    return explorer


def explorer_slider(explorer, description: str):
    """The explorer's slider labelled ``description`` (``image``, ``SAB stage``)."""
    return explorer.locator(".widget-slider").filter(
        has=explorer.page.locator(".widget-label", has_text=re.compile(f"^{description}$"))
    )


def make_picture(*, preset: str, results_root: Path, out: Path, chromium: str) -> Path:
    """Screenshot the explorer over the finished runs of ``preset`` in ``results_root`` into ``out``;
    a ValueError before anything starts where a run of notebook 05's grid is not finished."""
    missing = unfinished_runs(planned_runs(preset_name=preset, results_root=results_root))
    if missing:
        names = ", ".join(run.run_dir.name for run in missing)
        raise ValueError(f"{results_root}: {len(missing)} runs of the {preset} grid are not finished ({names}): "
                         f"run `basnet reproduce --preset {preset}` first")  # fmt: skip
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        prepare_figures_notebook(folder, preset=preset, results_root=str(results_root.resolve()))
        with jupyter_lab(folder, folder) as lab, chromium_page(chromium) as page:
            explorer = run_explorer(page, lab, "05_figures.ipynb")
            out.parent.mkdir(parents=True, exist_ok=True)
            explorer.screenshot(path=out)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Screenshot notebook 05's explorer over finished runs.")
    parser.add_argument("--preset", default="cpu")
    parser.add_argument("--results-root", type=Path, default=CHECKOUT / "results")
    parser.add_argument("--out", type=Path, default=README_PICTURE)
    args = parser.parse_args(argv)
    chromium = find_chromium()
    if chromium is None:
        parser.error("needs Chromium: `apt-get install chromium`, or set BASNET_CHROMIUM")
    try:
        print(make_picture(preset=args.preset, results_root=args.results_root, out=args.out, chromium=chromium))
    except ValueError as error:
        parser.error(str(error))
    return 0


def _lab_environment(state: Path) -> dict[str, str]:
    """This interpreter's environment, with Jupyter's settings and state kept in ``state``, and this
    checkout first on the kernel's path (the kernel imports this ``basnet_lib``)."""
    settings = state / "settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    # No news toast over the screenshots, and no request outside the machine.
    (settings / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False})
    )
    return {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(state / "config"),
        "JUPYTER_RUNTIME_DIR": str(state / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(state / "settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(state / "workspaces"),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(CHECKOUT), os.environ.get("PYTHONPATH", "")])),
    }


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


if __name__ == "__main__":
    raise SystemExit(main())
