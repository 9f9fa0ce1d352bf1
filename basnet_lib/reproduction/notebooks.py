"""Notebooks as functions: where they live, their parameters (each notebook's ``parameters`` cell is the
one source of what it accepts), and papermill execution, in-process or as a command."""

from __future__ import annotations

import ast
import json
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from basnet_lib.engine.config import RunConfig
from basnet_lib.engine.failures import error_message, report_interrupt
from basnet_lib.engine.presets import default_results_root
from basnet_lib.reproduction.parameters import parameter_value
from basnet_lib.reproduction.processes import failure_line, start_process, stopped_by_signals, wait_for

if TYPE_CHECKING:
    from traitlets.config import Config

# The repository checkout holding ``notebooks/`` (an editable install, as the Makefile makes).
CHECKOUT = Path(__file__).resolve().parents[2]
NOTEBOOKS_DIR = CHECKOUT / "notebooks"
TRAINING_NOTEBOOK = "02_training.ipynb"
PAPERMILL_LOG = "papermill.log"
# docs/method.md §8.1: the stock kernel name; custom ones raise NoSuchKernel on clean machines.
KERNEL_NAME = "python3"
# The first line of papermill's injected-parameters cell (its Python translator's comment).
INJECTED_CELL_START = "# Parameters\n"
# A kernel asked to stop (papermill's client interrupts it, then asks it to shut down) gets half of
# this to end before SIGTERM, the rest before SIGKILL: notebook 02 finishes its step and writes a
# checkpoint first (jupyter_client's default, 5 s, may cut it short).
KERNEL_SHUTDOWN_SECONDS = 60.0
RUNNER = "python -m basnet_lib.reproduction.notebooks"


class NotebookError(RuntimeError):
    """A notebook's cell raised: its one-line error names the notebook, the cell and the executed copy."""


def resolve_results_root(results_root: str | Path) -> Path:
    """``results_root`` as an absolute path; a relative one is taken from the repository root.

    Notebooks opened in JupyterLab run in ``notebooks/``; resolving against the checkout makes
    ``"results"`` mean the same folder there, under papermill and on the command line.
    """
    path = Path(results_root).expanduser()
    if path.is_absolute():
        return path
    return (project_directory() / path).resolve()


def project_directory() -> Path:
    """The repository checkout (where notebooks and the command line run), else the working directory."""
    return CHECKOUT if (CHECKOUT / "pyproject.toml").is_file() else Path.cwd()


def enter_project_directory() -> Path:
    """Make the repository root the working directory (notebooks opened in JupyterLab start in
    ``notebooks/``), so that run directories inside it can be kept relative, as ``basnet train``
    writes them; return it."""
    directory = project_directory()
    os.chdir(directory)
    return directory


def parameter_names(name: str) -> tuple[str, ...]:
    """The parameter names of ``notebooks/{name}``: its cell tagged ``parameters`` (docs/method.md §8.1)
    is the one source of what a notebook can be given."""
    return tuple(notebook_defaults(name))


def notebook_defaults(name: str) -> dict[str, object]:
    """Each parameter of ``notebooks/{name}`` and its default, which also gives its type (see
    :func:`basnet_lib.reproduction.parameters.parameter_value`)."""
    notebook = json.loads((NOTEBOOKS_DIR / name).read_text())
    cells = [cell for cell in notebook["cells"] if "parameters" in cell["metadata"].get("tags", [])]
    if len(cells) != 1:
        raise ValueError(f"{NOTEBOOKS_DIR / name}: expected one cell tagged parameters, found {len(cells)}")
    defaults = {}
    for statement in ast.parse("".join(cells[0]["source"])).body:
        target = statement.targets[0] if isinstance(statement, ast.Assign) else statement.target
        defaults[target.id] = ast.literal_eval(statement.value)
    return defaults


def checked_parameters(name: str, parameters: dict) -> dict:
    """``parameters`` for ``notebooks/{name}``, each parsed as the type of its default (papermill's
    ``-p`` passes lists as text); refused when one is not in its parameters cell (papermill would
    only warn, and the notebook would run with its default) or cannot be read as its type."""
    defaults = notebook_defaults(name)
    unknown = sorted(set(parameters) - set(defaults))
    if unknown:
        raise ValueError(f"{name} has no parameters {unknown}; its parameters cell has {list(defaults)}")
    return {key: parameter_value(key, value, defaults[key]) for key, value in parameters.items()}


def checked_parameter_values(name: str, namespace: dict) -> dict:
    """Every parameter of ``notebooks/{name}`` read from ``namespace`` (a notebook's ``globals()``,
    after papermill's injected cell), each parsed as the type of its default."""
    defaults = notebook_defaults(name)
    return {key: parameter_value(key, namespace[key], default) for key, default in defaults.items()}


def injected_parameter_names(namespace: dict) -> list[str]:
    """The names that papermill's injected-parameters cell assigned in the kernel of ``namespace``
    (a notebook's ``globals()``): IPython keeps the source of every executed cell in ``In``, and
    papermill's cell is the one that starts with ``# Parameters``. [] outside IPython or papermill."""
    names: list[str] = []
    history = namespace.get("In")
    for source in history if isinstance(history, list) else []:
        if not (isinstance(source, str) and source.startswith(INJECTED_CELL_START)):
            continue
        try:
            statements = ast.parse(source).body
        except SyntaxError:
            continue
        for statement in statements:
            targets = statement.targets if isinstance(statement, ast.Assign) else []
            names += [target.id for target in targets if isinstance(target, ast.Name)]
    return list(dict.fromkeys(names))


def start_notebook(name: str, namespace: dict) -> dict:
    """A notebook's set-up, which every notebook asks for in its first code cell: its parameters
    checked (:func:`checked_parameter_values`; papermill's ``-p`` gives lists and numbers as text),
    a parameter that its parameters cell does not define refused (papermill only warns, and a
    typo such as ``-p seedz 5`` would run with the default seed), the repository root made the
    working directory (:func:`enter_project_directory`), and ``results_root`` as an absolute path.
    Returns the values to put into ``namespace``."""
    defaults = notebook_defaults(name)
    unknown = [key for key in injected_parameter_names(namespace) if key not in defaults]
    if unknown:
        raise ValueError(
            f"{name} has no parameter {', '.join(map(repr, unknown))} (papermill -p); "
            f"its parameters are {', '.join(defaults)}"
        )
    values = checked_parameter_values(name, namespace)
    enter_project_directory()
    values["results_root"] = resolve_results_root(values["results_root"] or default_results_root(values["preset"]))
    return values


def clear_outputs(path: str | Path) -> bool:
    """Remove the outputs, execution counts and execution metadata of the notebook at ``path``, as
    the notebooks are committed (``make notebooks``); return whether it changed (unchanged files
    are not rewritten)."""
    import nbformat

    path = Path(path)
    notebook = nbformat.read(path, as_version=4)
    before = nbformat.writes(notebook)
    for cell in notebook.cells:
        for key in ("execution", "papermill", "collapsed", "scrolled"):
            cell.metadata.pop(key, None)
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    notebook.metadata.pop("papermill", None)
    if nbformat.writes(notebook) == before:
        return False
    nbformat.write(notebook, path)
    return True


def execute_notebook(
    name: str, output_path: str | Path, *, parameters: dict, progress: bool = False
) -> float:
    """Execute ``notebooks/{name}`` with papermill into ``output_path``; return the seconds it took.

    The kernel is ``python3`` (docs/method.md §8.1), started with this interpreter, and runs in the
    repository root. A failing cell raises :class:`NotebookError` in one line (the cell, its error's
    first line; papermill's ``PapermillExecutionError`` with the cell's traceback is its cause); the
    partly executed notebook, traceback included, stays at ``output_path`` for inspection.
    """
    import papermill

    source = NOTEBOOKS_DIR / name
    if not source.is_file():
        raise FileNotFoundError(
            f"{source} not found: the notebooks live in the repository checkout; "
            "install it with `pip install -e .` from a clone"
        )
    output_path = Path(output_path)
    output_path.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    try:
        papermill.execute_notebook(
            str(source),
            str(output_path),
            parameters=checked_parameters(name, parameters),
            kernel_name=KERNEL_NAME,
            cwd=str(project_directory()),
            progress_bar=progress,
            log_output=False,
            config=kernel_manager_config(),  # papermill hands it to nbclient, which makes the kernel manager
        )
    except papermill.PapermillExecutionError as error:
        said = (str(error.evalue).strip().splitlines() or [""])[0]
        raise NotebookError(
            f"{name} failed in cell [{error.exec_count}]: {error.ename}: {said} (the executed notebook: {output_path})"
        ) from error
    return time.perf_counter() - started


def execute_notebook_in_process_of_its_own(name: str, output_path: Path, *, parameters: dict) -> float:
    """:func:`execute_notebook` in a child process (:func:`notebook_command`) in a session of its
    own, its output into ``output_path`` with the suffix ``.log``; the child is stopped with its
    kernel when the wait ends otherwise (:func:`~basnet_lib.reproduction.processes.wait_for`: a
    signal to the command, Ctrl-C). A failure raises :class:`NotebookError` in one line."""
    started = time.perf_counter()
    output_path.parent.mkdir(parents=True, exist_ok=True)
    log = output_path.with_suffix(".log")
    command = notebook_command(name, output_path, checked_parameters(name, parameters))
    if wait_for(start_process(command, log=log, cwd=project_directory())) != 0:
        raise NotebookError(f"{failure_line(log)} (its output: {log})")
    return time.perf_counter() - started


def kernel_manager_config() -> Config:
    """The kernel manager's settings: CurveZMQ keys for every kernel whose kernelspec supports
    them (ipykernel's does), so that the kernel's channels are encrypted and it does not warn,
    at each start, that it "is running over TCP without encryption"."""
    import zmq
    from traitlets.config import Config

    settings = {"shutdown_wait_time": KERNEL_SHUTDOWN_SECONDS}
    if zmq.has("curve"):  # else a libzmq built without libsodium: the kernel stays unencrypted
        settings["transport_encryption"] = "auto"
    return Config({"KernelManager": settings})


def training_notebook_command(run: RunConfig, parameters: dict) -> list[str]:
    """The command that trains ``run`` by executing ``02_training.ipynb`` with ``parameters``
    (:func:`training_notebook_parameters`) into its run directory (docs/method.md §6.6: every run
    keeps its executed notebook): :func:`execute_notebook` in a process of its own (papermill's
    command line cannot be given the kernel manager's settings)."""
    return notebook_command(TRAINING_NOTEBOOK, run.run_dir / TRAINING_NOTEBOOK, parameters)


def notebook_command(name: str, output_path: str | Path, parameters: dict) -> list[str]:
    """The command that executes ``notebooks/{name}`` into ``output_path`` (:func:`main`)."""
    return [sys.executable, "-m", "basnet_lib.reproduction.notebooks", name, str(output_path), json.dumps(parameters)]


def training_notebook_parameters(
    run: RunConfig,
    *,
    preset_name: str,
    data_root: str = "",
    iterations: int = 0,
    results_root: str | Path = "",
) -> dict:
    """The parameters of ``02_training.ipynb`` that train ``run`` (checked against its cell)."""
    return checked_parameters(
        TRAINING_NOTEBOOK,
        {
            "preset": preset_name,
            "variant": run.model.variant,
            "backbone": run.model.backbone,
            "seed": run.train.seed,
            "data_root": data_root,
            "iterations": iterations,
            "results_root": str(resolve_results_root(results_root or default_results_root(preset_name))),
            "progress": False,
        },
    )


def main(argv: list[str] | None = None) -> int:
    """``python -m basnet_lib.reproduction.notebooks NAME OUTPUT PARAMETERS_JSON``: a failure is one
    line on stderr, ``python -m basnet_lib.reproduction.notebooks: error: ...``, and exit status 1.

    SIGTERM and SIGHUP stop it as Ctrl-C does (the process is the command's own): papermill's client
    then interrupts the kernel, asks it to shut down and waits for it (notebook 02's run finishes
    its step and writes a checkpoint); the exit status is 128 + the signal. By default SIGTERM
    would end this process at once, and its kernel a second later without a checkpoint."""
    name, output_path, parameters = sys.argv[1:] if argv is None else argv
    try:
        with stopped_by_signals():
            execute_notebook(name, output_path, parameters=json.loads(parameters))
    except KeyboardInterrupt as interrupt:
        return report_interrupt(RUNNER, interrupt)
    except Exception as error:
        print(f"{RUNNER}: error: {error_message(error)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    # The module's own classes (NotebookError), not __main__'s copies: the error line names no type.
    from basnet_lib.reproduction.notebooks import main as module_main

    sys.exit(module_main())
