"""``invocations.json``: every ``basnet reproduce`` invocation of a results root, with its wall time,
the runs it trained and reused, and what it was made with (:mod:`basnet_lib.reproduction.environment`);
and the report's "How it was made" built from it.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from basnet_lib.engine.run_files import read_json
from basnet_lib.engine.runtime import system_info
from basnet_lib.reproduction.environment import environment_markdown
from basnet_lib.reproduction.notebooks import CHECKOUT

INVOCATIONS_FILE = "invocations.json"
NOTEBOOKS_OUT_DIR = "notebooks"
# The lock file the environment is compared with (at the repository root).
LOCK_FILE = CHECKOUT / "requirements-lock.txt"


def _devices(results_root: Path) -> list[str]:
    """The devices the runs trained on, from their ``metrics.json`` (the grid's were checked when
    they were reused; one of another run that is not readable is named, not left out)."""
    devices = set()
    for path in results_root.glob("runs/*/*/metrics.json"):
        try:
            metrics = read_json(path)
        except (ValueError, OSError):
            metrics = {"device": f"unknown ({path} is not readable)"}
        devices.add(str(metrics.get("device", "unknown") if isinstance(metrics, dict) else "unknown"))
    return sorted(devices)


def read_invocations(results_root: str | Path) -> list[dict]:
    """The earlier invocations recorded in ``invocations.json`` ([] when there is none); a file
    that is not such a record is a ValueError naming it (``basnet reproduce`` reads it before it
    trains anything, so the time of this invocation is not lost to it at the end)."""
    path = Path(results_root) / INVOCATIONS_FILE
    if not path.is_file():
        return []
    invocations = read_json(path)
    fields = {
        "finished": str, "wall_minutes": (int, float), "trained_runs": int, "total_runs": int,
        "other_processes_cpu_percent": (int, float, type(None)),
    }  # fmt: skip
    wrong = "" if isinstance(invocations, list) else f"a JSON {type(invocations).__name__}, expected a list"
    for number, item in enumerate(invocations if not wrong else [], start=1):
        values = item if isinstance(item, dict) else {}
        bad = [key for key, kind in fields.items() if not isinstance(values.get(key), kind)]
        if bad:
            wrong = f"invocation {number} lacks a valid {bad[0]!r}"
            break
    if wrong:
        raise ValueError(f"{path}: not a list of basnet reproduce invocations ({wrong}); repair or remove it")
    return invocations


def record_invocation(
    results_root: Path,
    *,
    wall_seconds: float,
    trained_runs: int,
    total_runs: int,
    other_cpu_share: float | None = None,
    environment: dict | None = None,
    stopped: str = "",
) -> None:
    """Append this ``basnet reproduce`` invocation to ``invocations.json``: a rerun that reuses
    finished runs must not replace the wall time of the invocation that trained them.
    ``other_cpu_share``: the share of the machine that other processes used meanwhile (a wall
    time is the machine's only when that is near 0). ``environment``: what it was made with
    (:func:`basnet_lib.reproduction.environment.environment_record`). ``stopped``: how an invocation
    that ended before its report ended, after its end time ("stopped by SIGTERM before its report")."""
    path = Path(results_root) / INVOCATIONS_FILE
    invocations = read_invocations(results_root)
    invocations.append(
        {
            "finished": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()) + (f" ({stopped})" if stopped else ""),
            "wall_minutes": round(wall_seconds / 60, 1),
            "trained_runs": trained_runs,
            "total_runs": total_runs,
            "other_processes_cpu_percent": None
            if other_cpu_share is None
            else round(100 * other_cpu_share, 1),
            **({} if environment is None else {"environment": environment}),
        }
    )
    path.write_text(json.dumps(invocations, indent=2) + "\n")


def _percent_or_dash(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def how_it_was_made(command: str, notebook_seconds: dict[str, float], results_root: Path) -> list[str]:
    """The report's section: the command, each invocation's time, the notebooks' seconds, the last
    invocation's environment against the lock, and this machine."""
    invocations = read_invocations(results_root)
    return [
        "## How it was made",
        "",
        f"Command: `{command}`. Training device: {', '.join(_devices(results_root)) or 'unknown'}.",
        "",
        "| invocation finished | wall time (min) | runs trained | runs reused | CPU used by other processes (% of the machine) |",
        "|---|---:|---:|---:|---:|",
        *[
            f"| {item['finished']} | {item['wall_minutes']:.1f} | {item['trained_runs']} | "
            f"{item['total_runs'] - item['trained_runs']} | {_percent_or_dash(item.get('other_processes_cpu_percent'))} |"
            for item in invocations
        ],
        "",
        "| executed notebook (last invocation) | seconds |",
        "|---|---:|",
        *[f"| `{NOTEBOOKS_OUT_DIR}/{name}` | {seconds:.0f} |" for name, seconds in notebook_seconds.items()],
        "",
        "A run trained by notebook 02 keeps its executed `02_training.ipynb` in its run directory "
        "(`runs/<preset>/<run>/`); one trained under torchrun its `torchrun.log`, one on Slurm its job's "
        "logs in `slurm_jobs/` (`slurm_grid.json` names the job).",
        "",
        *_environment_lines(invocations),
        "Machine:",
        "",
        "```json",
        json.dumps(system_info(), indent=2),
        "```",
        "",
    ]


def _environment_lines(invocations: list[dict]) -> list[str]:
    """The last invocation's environment as a list, or a line saying it was not recorded."""
    recorded = [item["environment"] for item in invocations if isinstance(item.get("environment"), dict)]
    if not recorded:
        return ["What the last invocation was made with was not recorded (an invocation before it was).", ""]
    return [
        "What the last invocation was made with (all of it in `invocations.json`):",
        "",
        environment_markdown(recorded[-1], lock=LOCK_FILE),
        "",
    ]
