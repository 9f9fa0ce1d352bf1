"""The grid's unfinished runs submitted to Slurm through submitit, one job per run in one job array,
and the record of what was submitted (``{results_root}/slurm_grid.json``), which ``basnet status``
and the next ``basnet reproduce`` read.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import shutil
import sys
import time
from pathlib import Path

from basnet_lib.engine.config import RunConfig
from basnet_lib.engine.run_files import read_json, write_json
from basnet_lib.reproduction.executors import SlurmExecution, sbatch_options
from basnet_lib.reproduction.local_training import THREAD_VARIABLES
from basnet_lib.reproduction.notebooks import project_directory
from basnet_lib.reproduction.slurm_job import TrainingJob

GRID_RECORD = "slurm_grid.json"
JOBS_DIR = "slurm_jobs"  # submitit's folder: each job's sbatch script, pickles and logs
# Folders that are usually local to each machine: a node writing its runs there writes where the
# machine that submitted them (and collects them) cannot read.
NODE_LOCAL_FOLDERS = (Path("/tmp"), Path("/var/tmp"), Path("/dev/shm"))


class SlurmSubmissionError(RuntimeError):
    """sbatch refused the jobs (its error line), or Slurm is not there; nothing was submitted."""


def check_slurm_available() -> None:
    """``--executor slurm`` needs Slurm's client commands on this machine (a login node)."""
    missing = [name for name in ("sbatch", "squeue", "scontrol") if shutil.which(name) is None]
    if missing:
        raise SlurmSubmissionError(
            f"--executor slurm needs Slurm's {', '.join(missing)} on PATH, not found on this machine: "
            "run it on the cluster's login node, or use --executor local"
        )


def check_results_root(results_root: Path) -> None:
    """The runs and the job files go under ``results_root``, which every node must reach by the same
    path: a relative path is an error (a job's working directory is not ours), a node-local folder
    (``/tmp`` …) a warning, since it is right only on a single-node cluster or a shared ``/tmp``."""
    if not results_root.is_absolute():
        raise SlurmSubmissionError(f"results root {results_root}: expected an absolute path for the nodes")
    local = next((folder for folder in NODE_LOCAL_FOLDERS if results_root.is_relative_to(folder)), None)
    if local is not None:
        print(
            f"warning: results root {results_root} is under {local}, which is usually local to each "
            "machine: jobs on other nodes would write their runs where this one cannot read them "
            "(give --results-root on a file system the nodes share)",
            file=sys.stderr,
            flush=True,
        )


def node_run_config(run: RunConfig) -> RunConfig:
    """``run`` with absolute paths, as a node must be given it: relative ones mean the repository root,
    where the grid was planned, not the job's working directory. (Reuse and resume ignore where the
    run directory lies, so the run is the same one ``basnet train`` or a local grid would train.)"""
    train = dataclasses.replace(run.train, results_dir=str(project_directory() / run.train.results_dir))
    data = run.data
    if data.root and not Path(data.root).is_absolute():
        data = dataclasses.replace(data, root=str(project_directory() / data.root))
    return dataclasses.replace(run, train=train, data=data)


def submitit_parameters(execution: SlurmExecution, runs: list[RunConfig], *, job_name: str) -> dict:
    """submitit's ``SlurmExecutor`` parameters for ``runs``: one task per DDP process, each with a
    CPU per compute thread and data worker, the thread pools sized by the environment as local runs
    are, a time limit (submitit asks Slurm for USR2 90 s before it), and the user's own options."""
    threads = max(run.train.threads for run in runs)
    workers = max(run.data.num_workers for run in runs)
    parameters = {
        "job_name": job_name,
        "time": execution.time_minutes,
        "nodes": execution.nodes_per_run,
        "ntasks_per_node": execution.tasks_per_node,
        "cpus_per_task": max(1, threads) + workers,
        "array_parallelism": execution.max_parallel_jobs or len(runs),
        "setup": [f"export {name}={threads}" for name in THREAD_VARIABLES] if threads else [],
        "additional_parameters": sbatch_options(execution.sbatch),
    }
    if execution.gpus_per_run:
        parameters["gpus_per_node"] = execution.gpus_per_run // execution.nodes_per_run
    for name in ("partition", "account", "qos", "constraint"):
        if getattr(execution, name):
            parameters[name] = getattr(execution, name)
    return parameters


def submit_runs(
    runs: list[RunConfig], execution: SlurmExecution, *, results_root: Path, job_name: str
) -> list[str]:
    """Submit one job per run of ``runs`` as one job array; return their job ids, in order.

    sbatch's refusal (an unknown partition, GPUs no node has …) is raised as one line,
    :class:`SlurmSubmissionError`; then nothing was submitted.
    """
    import submitit

    folder = results_root / JOBS_DIR
    existing = set(folder.iterdir()) if folder.is_dir() else None
    executor = submitit.SlurmExecutor(folder=folder)
    executor.update_parameters(**submitit_parameters(execution, runs, job_name=job_name))
    # submitit also prints sbatch's stderr when it fails; the error raised below carries it.
    with contextlib.redirect_stderr(io.StringIO()):
        try:
            with executor.batch():
                jobs = [executor.submit(TrainingJob(node_run_config(run))) for run in runs]
        except submitit.core.utils.FailedJobError as error:
            _remove_new_files(folder, existing)
            raise SlurmSubmissionError(f"sbatch refused the jobs: {sbatch_error_line(str(error))}") from None
    return [job.job_id for job in jobs]


def _remove_new_files(folder: Path, existing: set[Path] | None) -> None:
    """Remove what a refused submission left in submitit's folder (its pickles and sbatch script);
    the folder too when it was made for it."""
    for path in set(folder.iterdir()) - (existing or set()):
        path.unlink()
    if existing is None:
        folder.rmdir()


def sbatch_error_line(text: str) -> str:
    """The line of sbatch's output that says what is wrong: its first ``sbatch: error:`` line other
    than the generic "Batch job submission failed", else that one, else the last line."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("sbatch: error:")]
    specific = [line for line in errors if "Batch job submission failed" not in line]
    return (specific or errors or lines or ["sbatch failed without a message"])[0]


# The grid's settings as slurm_grid.json keeps them (recorded_grid), each with its JSON type.
# A list holds items of one type: [str] is a list of strings.
GRID_FIELDS = {
    "preset_name": str, "variants": [str], "backbones": [str], "seeds": [int],
    "data_root": str, "iterations": int, "results_root": str,
}  # fmt: skip
JOB_FIELDS = {"run_name": str, "job_id": str, "submitted": str, "earlier_job_ids": [str]}


def read_grid_record(results_root: Path) -> dict | None:
    """The record of the grid submitted from ``results_root`` (None: nothing was submitted there);
    one that is not such a record is a ValueError naming it."""
    path = results_root / GRID_RECORD
    if not path.is_file():
        return None
    record = read_json(path)
    problem = grid_record_problem(record)
    if problem:
        raise ValueError(
            f"{path}: not a record of a submitted grid ({problem}); repair it, or remove it once "
            "`squeue` lists none of the grid's jobs (the next submission then writes a new one)"
        )
    return record


def grid_record_problem(record: object) -> str:
    """What ``slurm_grid.json``'s content lacks ("": nothing)."""
    if not isinstance(record, dict):
        return f"a JSON {type(record).__name__}, expected an object"
    grid, runs = record.get("grid"), record.get("runs")
    if not (isinstance(grid, dict) and isinstance(runs, dict) and isinstance(record.get("jobs_folder"), str)):
        return "expected the keys grid, runs and jobs_folder"
    if set(grid) != set(GRID_FIELDS):
        return f"its grid has the keys {sorted(grid)}, expected {sorted(GRID_FIELDS)}"
    wrong = [key for key, kind in GRID_FIELDS.items() if not _is_json(grid[key], kind)]
    wrong += [f"{key} of {name}" for name, job in runs.items() for key, kind in JOB_FIELDS.items()
              if not isinstance(job, dict) or not _is_json(job.get(key), kind)]  # fmt: skip
    return f"{wrong[0]} is missing or of the wrong type" if wrong else ""


def _is_json(value: object, kind: type | list) -> bool:
    """``value`` is a ``kind`` (never a bool), or with ``[kind]`` a list of them."""
    if isinstance(kind, list):
        return isinstance(value, list) and all(_is_json(item, kind[0]) for item in value)
    return isinstance(value, kind) and not isinstance(value, bool)


def record_submission(
    results_root: Path, *, grid: dict, runs: list[RunConfig], job_ids: list[str], record: dict | None
) -> dict:
    """``record`` with the grid's settings and ``runs`` submitted as ``job_ids`` (a run's earlier jobs
    are kept in its ``earlier_job_ids``), written to ``slurm_grid.json``."""
    record = dict(record or {"runs": {}})
    record["grid"] = grid
    record["jobs_folder"] = str(results_root / JOBS_DIR)
    submitted = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    for run, job_id in zip(runs, job_ids, strict=True):
        key = str(node_run_config(run).run_dir)
        earlier = record["runs"].get(key)
        earlier_ids = [*earlier["earlier_job_ids"], earlier["job_id"]] if earlier else []
        record["runs"][key] = {
            "run_name": run.run_name, "job_id": job_id, "submitted": submitted, "earlier_job_ids": earlier_ids,
        }  # fmt: skip
    results_root.mkdir(parents=True, exist_ok=True)
    write_json(results_root / GRID_RECORD, record)
    return record
