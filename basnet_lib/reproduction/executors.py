"""Where a grid's runs train: on this machine (:class:`LocalExecution`) or as Slurm jobs through
submitit (:class:`SlurmExecution`); ``basnet reproduce --executor local|slurm`` and notebook 03's
``executor`` parameter pick one (docs/usage.md "The grid on a Slurm cluster")."""

from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass

EXECUTORS = ("local", "slurm")
DEFAULT_TIME_MINUTES = 60


@dataclass(frozen=True)
class LocalExecution:
    """Train on this machine. With neither count set, each run executes the training notebook in a
    process of its own (as many side by side as the cores allow); ``gpus_per_run`` N trains each
    run with DDP over N GPUs and ``processes_per_run`` N over N gloo processes on CPU, both under
    torchrun (one of the two)."""

    gpus_per_run: int = 0
    processes_per_run: int = 0

    def __post_init__(self) -> None:
        _check_process_counts(self.gpus_per_run, self.processes_per_run)

    @property
    def uses_torchrun(self) -> bool:
        return bool(self.gpus_per_run or self.processes_per_run)


@dataclass(frozen=True)
class SlurmExecution:
    """One Slurm job per run, all submitted as one job array with submitit.

    ``gpus_per_run`` and ``processes_per_run`` count a run's DDP processes over all its
    ``nodes_per_run`` nodes (one task per process, spread evenly; a GPU each with ``gpus_per_run``);
    neither set: one process per node. ``time_minutes`` is each job's limit; ``sbatch`` holds
    ``KEY=VALUE`` options given to sbatch as they are (``--sbatch mem=32G``), overriding the
    options above of the same name; ``max_parallel_jobs`` throttles the array (0: no throttle).
    """

    gpus_per_run: int = 0
    processes_per_run: int = 0
    nodes_per_run: int = 1
    partition: str = ""
    account: str = ""
    qos: str = ""
    time_minutes: int = DEFAULT_TIME_MINUTES
    constraint: str = ""
    sbatch: tuple[str, ...] = ()
    max_parallel_jobs: int = 0

    def __post_init__(self) -> None:
        _check_process_counts(self.gpus_per_run, self.processes_per_run)
        for option, value in (("--nodes-per-run", self.nodes_per_run), ("--time", self.time_minutes)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{option} {value!r}: expected a whole number of at least 1")
        _check_count("--max-parallel-jobs", self.max_parallel_jobs)
        if self.processes % self.nodes_per_run:
            raise ValueError(
                f"--nodes-per-run {self.nodes_per_run} does not divide the run's {self.processes} processes "
                "(--gpus-per-run/--processes-per-run count all the nodes' processes)"
            )
        sbatch_options(self.sbatch)  # a malformed KEY=VALUE stops here, before anything is submitted

    @property
    def processes(self) -> int:
        """The run's DDP processes, one Slurm task each."""
        return self.gpus_per_run or self.processes_per_run or self.nodes_per_run

    @property
    def tasks_per_node(self) -> int:
        return self.processes // self.nodes_per_run


def sbatch_options(items: tuple[str, ...] | list[str]) -> dict[str, str]:
    """``--sbatch KEY=VALUE`` items as submitit's ``slurm_additional_parameters``; keys are written
    with underscores (``mem-per-cpu`` = ``mem_per_cpu``), the form submitit's own options take, so
    that a key given here replaces submitit's option of the same name instead of doubling it."""
    options = {}
    for item in items:
        key, equals, value = item.partition("=")
        key = key.strip().lstrip("-").replace("-", "_")
        if not equals or not key:
            raise ValueError(f"--sbatch {item!r}: expected KEY=VALUE such as mem=32G or gres=gpu:a100:4")
        options[key] = value
    return options


def grid_execution(
    executor: str,
    *,
    gpus_per_run: int = 0,
    processes_per_run: int = 0,
    nodes_per_run: int = 1,
    partition: str = "",
    account: str = "",
    qos: str = "",
    time_minutes: int = DEFAULT_TIME_MINUTES,
    constraint: str = "",
    sbatch: tuple[str, ...] | list[str] = (),
    max_parallel_jobs: int = 0,
) -> LocalExecution | SlurmExecution:
    """The execution ``executor`` names, from the values of ``basnet reproduce``'s options or notebook
    03's parameters; Slurm's options given with ``local`` are refused (they would do nothing)."""
    if executor == "local":
        slurm_only = {
            "--nodes-per-run": nodes_per_run != 1, "--partition": partition, "--account": account,
            "--qos": qos, "--time": time_minutes != DEFAULT_TIME_MINUTES, "--constraint": constraint,
            "--sbatch": sbatch, "--max-parallel-jobs": max_parallel_jobs,
        }  # fmt: skip
        given = [option for option, value in slurm_only.items() if value]
        if given:
            raise ValueError(f"{', '.join(given)}: Slurm options, given with --executor local; add --executor slurm")
        return LocalExecution(gpus_per_run=gpus_per_run, processes_per_run=processes_per_run)
    if executor == "slurm":
        return SlurmExecution(
            gpus_per_run=gpus_per_run,
            processes_per_run=processes_per_run,
            nodes_per_run=nodes_per_run,
            partition=partition,
            account=account,
            qos=qos,
            time_minutes=time_minutes,
            constraint=constraint,
            sbatch=tuple(sbatch),
            max_parallel_jobs=max_parallel_jobs,
        )
    raise ValueError(f"executor {executor!r}: expected one of {EXECUTORS}")


def execution_parameters(execution: LocalExecution | SlurmExecution) -> dict[str, object]:
    """``execution`` as notebook 03's parameters (the inverse of :func:`grid_execution`)."""
    executor = "slurm" if isinstance(execution, SlurmExecution) else "local"
    values = {"executor": executor, **dataclasses.asdict(execution)}
    if "sbatch" in values:
        values["sbatch"] = list(values["sbatch"])
    return values


def add_executor_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("where the runs train (docs/usage.md 'The grid on a Slurm cluster')")
    group.add_argument("--executor", choices=EXECUTORS, default="local",
                       help="local: this machine; slurm: one Slurm job per run through submitit")  # fmt: skip
    exclusive = group.add_mutually_exclusive_group()
    exclusive.add_argument("--gpus-per-run", type=int, default=0, metavar="N", help="DDP over N GPUs per run")
    exclusive.add_argument("--processes-per-run", type=int, default=0, metavar="N",
                           help="DDP over N CPU processes (gloo) per run")  # fmt: skip
    group.add_argument("--nodes-per-run", type=int, default=1, metavar="N", help="slurm: nodes per run")
    group.add_argument("--partition", default="", help="slurm: partition")
    group.add_argument("--account", default="", help="slurm: account")
    group.add_argument("--qos", default="", help="slurm: quality of service")
    group.add_argument("--time", type=int, default=DEFAULT_TIME_MINUTES, metavar="MINUTES",
                       help="slurm: time limit of each job (a run checkpoints before it and is requeued)")  # fmt: skip
    group.add_argument("--constraint", default="", help="slurm: node features, e.g. a100")
    group.add_argument("--sbatch", action="append", default=[], metavar="KEY=VALUE",
                       help="slurm: any other sbatch option, repeatable (--sbatch mem=32G)")  # fmt: skip
    group.add_argument("--max-parallel-jobs", type=int, default=0, metavar="N",
                       help="slurm: runs training at once (the job array's throttle; 0 = no limit)")  # fmt: skip


def execution_from_args(args: argparse.Namespace) -> LocalExecution | SlurmExecution:
    return grid_execution(
        args.executor,
        gpus_per_run=args.gpus_per_run,
        processes_per_run=args.processes_per_run,
        nodes_per_run=args.nodes_per_run,
        partition=args.partition,
        account=args.account,
        qos=args.qos,
        time_minutes=args.time,
        constraint=args.constraint,
        sbatch=tuple(args.sbatch),
        max_parallel_jobs=args.max_parallel_jobs,
    )


def execution_words(execution: LocalExecution | SlurmExecution) -> list[str]:
    """The ``basnet reproduce`` options that ask for ``execution`` (defaults left out)."""
    values = execution_parameters(execution)
    defaults = execution_parameters(type(execution)())
    words = [] if values["executor"] == "local" else ["--executor", "slurm"]
    for name, value in values.items():
        if name == "executor" or value == defaults[name]:
            continue
        option = "--time" if name == "time_minutes" else f"--{name.replace('_', '-')}"
        for item in value if isinstance(value, list) else [value]:
            # --sbatch=--exclusive=user: an item may itself start with dashes.
            words += [f"{option}={item}"] if option == "--sbatch" else [option, str(item)]
    return words


def _check_process_counts(gpus_per_run: int, processes_per_run: int) -> None:
    _check_count("--gpus-per-run", gpus_per_run)
    _check_count("--processes-per-run", processes_per_run)
    if gpus_per_run and processes_per_run:
        raise ValueError(
            f"--gpus-per-run {gpus_per_run} and --processes-per-run {processes_per_run}: give one of the "
            "two (GPU processes, or CPU processes with gloo)"
        )


def _check_count(option: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{option} {value!r}: expected a whole number of at least 0")
