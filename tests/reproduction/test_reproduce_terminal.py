"""What ``basnet reproduce`` shows on a terminal: one progress bar over the grid, a line per finished
run, and no warning from the Jupyter kernels that execute the notebooks, in the terminal or their
logs (their channels are encrypted: basnet_lib.reproduction.notebooks.kernel_manager_config)."""

from __future__ import annotations

import os
import select
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

pty = pytest.importorskip("pty", reason="pseudo-terminals are POSIX-only")
termios = pytest.importorskip("termios")
fcntl = pytest.importorskip("fcntl")

ROOT = Path(__file__).resolve().parents[2]
KERNEL_WARNING = "running over TCP without encryption"


def run_in_terminal(command: list[str], *, columns: int, timeout: float) -> tuple[int, str]:
    """Run ``command`` with a pseudo-terminal of ``columns`` as stdin, stdout and stderr; return its
    exit status and everything it (and its child processes) wrote there."""
    main_end, process_end = pty.openpty()
    fcntl.ioctl(process_end, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    environment = dict(os.environ, MPLBACKEND="agg")
    process = subprocess.Popen(
        command, stdin=process_end, stdout=process_end, stderr=process_end, cwd=ROOT, env=environment
    )
    os.close(process_end)
    output, deadline = bytearray(), time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([main_end], [], [], 1.0)
            if not ready:
                if process.poll() is not None:  # it ended, and nothing more came for a second
                    break
                continue
            try:
                chunk = os.read(main_end, 65536)
            except OSError:  # EIO: every process holding the terminal has closed it
                break
            if not chunk:
                break
            output += chunk
        else:
            process.kill()
        return process.wait(timeout=60), output.decode(errors="replace")
    finally:
        os.close(main_end)


@pytest.fixture(scope="module")
def terminal(tmp_path_factory) -> tuple[int, str, Path]:
    """A smoke reproduction of one run (baseline, seed 0, 2 steps) on a terminal 200 columns wide."""
    results_root = tmp_path_factory.mktemp("results")
    command = [
        sys.executable, "-m", "basnet_lib.cli", "reproduce", "--preset", "smoke", "--variants", "baseline",
        "--seeds", "0", "--iterations", "2", "--num-images", "1", "--results-root", str(results_root),
    ]  # fmt: skip
    status, output = run_in_terminal(command, columns=200, timeout=900)
    return status, output, results_root


def test_reproduce_shows_one_bar_over_the_grid_and_a_line_per_run(terminal) -> None:
    status, output, results_root = terminal
    assert status == 0, output[-3000:]
    run_dir = results_root / "runs" / "smoke" / "baseline-resnet18-seed0"
    assert f"[1/1] trained {run_dir} in " in output
    assert "mIoU " in output.split(f"trained {run_dir}")[1].splitlines()[0]
    # The bar, redrawn in place: the grid's steps, the run in training and its step, loss and speed.
    assert "\r" in output
    assert "2/2 [" in output
    drawn = [line for line in output.split("\r") if line.startswith("run 1 of 1")]
    assert any("baseline seed0 step " in line and " loss " in line and "img/s" in line for line in drawn), drawn


def test_no_kernel_warns_about_its_channels(terminal) -> None:
    status, output, results_root = terminal
    assert status == 0, output[-3000:]
    assert KERNEL_WARNING not in output
    logs = sorted((results_root / "notebooks").glob("*.log"))  # each notebook's process (01, 03, 04, 05)
    assert len(logs) == 4 and not [log for log in logs if KERNEL_WARNING in log.read_text()]
    run_dir = results_root / "runs" / "smoke" / "baseline-resnet18-seed0"
    assert (run_dir / "02_training.ipynb").is_file()
    assert KERNEL_WARNING not in (run_dir / "papermill.log").read_text()  # the training process's
