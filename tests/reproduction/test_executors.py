"""Where a grid trains, without a cluster: the executors' options and their checks, the torchrun
command of a local run, what submitit is given, and the Slurm job's round trip through a pickle.
The grid on a real Slurm cluster: tests/reproduction/test_slurm_grid.py."""

from __future__ import annotations

import argparse
import pickle
from pathlib import Path

import pytest

from basnet_lib.engine.config_io import config_to_dict
from basnet_lib.reproduction.executors import (
    LocalExecution,
    SlurmExecution,
    add_executor_arguments,
    execution_from_args,
    execution_parameters,
    execution_words,
    grid_execution,
    sbatch_options,
)
from basnet_lib.reproduction.experiments import planned_run
from basnet_lib.reproduction.local_training import local_slots, torchrun_command
from basnet_lib.reproduction.notebooks import checked_parameters
from basnet_lib.reproduction.slurm_job import TrainingJob
from basnet_lib.reproduction.slurm_submission import (
    SlurmSubmissionError,
    check_results_root,
    node_run_config,
    sbatch_error_line,
    submitit_parameters,
)


def _parsed(*words: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_executor_arguments(parser)
    return parser.parse_args(list(words))


def test_the_options_make_the_execution_they_name() -> None:
    assert execution_from_args(_parsed()) == LocalExecution()
    assert execution_from_args(_parsed("--processes-per-run", "2")) == LocalExecution(processes_per_run=2)
    slurm = execution_from_args(_parsed(
        "--executor", "slurm", "--gpus-per-run", "8", "--nodes-per-run", "2", "--partition", "gpu",
        "--time", "240", "--sbatch", "mem=64G", "--sbatch=--exclusive=user", "--max-parallel-jobs", "3",
    ))  # fmt: skip
    assert slurm == SlurmExecution(gpus_per_run=8, nodes_per_run=2, partition="gpu", time_minutes=240,
                                   sbatch=("mem=64G", "--exclusive=user"), max_parallel_jobs=3)  # fmt: skip
    assert slurm.tasks_per_node == 4
    # The command line and notebook 03's parameters say the same thing.
    assert execution_from_args(_parsed(*execution_words(slurm))) == slurm
    assert grid_execution(**execution_parameters(slurm)) == slurm
    assert checked_parameters("03_table1_ablations.ipynb", execution_parameters(slurm))["sbatch"] == list(slurm.sbatch)


@pytest.mark.parametrize(
    ("executor", "options", "message"),
    [
        ("local", {"gpus_per_run": 1, "processes_per_run": 2}, "give one of the two"),
        ("local", {"partition": "gpu"}, "--partition: Slurm options, given with --executor local"),
        ("slurm", {"processes_per_run": 3, "nodes_per_run": 2}, "--nodes-per-run 2 does not divide"),
        ("slurm", {"time_minutes": 0}, "--time 0: expected a whole number of at least 1"),
        ("slurm", {"sbatch": ["exclusive"]}, "--sbatch 'exclusive': expected KEY=VALUE"),
        ("slurm", {"gpus_per_run": -1}, "--gpus-per-run -1"),
        ("kubernetes", {}, "expected one of ('local', 'slurm')"),
    ],
)
def test_bad_options_are_one_line_naming_the_option(executor: str, options: dict, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        grid_execution(executor, **options)
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_sbatch_options_replace_submitits_own_of_the_same_name() -> None:
    assert sbatch_options(["mem-per-cpu=4G", "--gres=gpu:a100:4", "comment=a=b"]) == {
        "mem_per_cpu": "4G", "gres": "gpu:a100:4", "comment": "a=b",
    }  # fmt: skip
    runs = [planned_run(preset_name="smoke", variant="full", seed=seed) for seed in (0, 1)]
    execution = SlurmExecution(processes_per_run=2, partition="cpu", sbatch=("cpus-per-task=4",), max_parallel_jobs=1)
    parameters = submitit_parameters(execution, runs, job_name="basnet-smoke")
    assert parameters["ntasks_per_node"] == 2 and parameters["array_parallelism"] == 1
    assert parameters["cpus_per_task"] == 1  # the smoke preset's one thread, no data workers
    assert parameters["additional_parameters"] == {"cpus_per_task": "4"}  # submitit writes it last: it wins
    assert parameters["setup"] == ["export OMP_NUM_THREADS=1", "export OPENBLAS_NUM_THREADS=1",
                                   "export MKL_NUM_THREADS=1"]  # fmt: skip
    assert parameters["partition"] == "cpu" and "gpus_per_node" not in parameters and "qos" not in parameters


def test_sbatch_errors_are_reduced_to_the_line_that_says_what_is_wrong() -> None:
    refused = "sbatch: error: invalid partition specified: nope\nsbatch: error: Batch job submission failed: Invalid partition name specified"
    assert sbatch_error_line(refused) == "sbatch: error: invalid partition specified: nope"
    generic = "sbatch: error: Batch job submission failed: Invalid feature specification"
    assert sbatch_error_line("\n" + generic + "\n") == generic
    assert sbatch_error_line("") == "sbatch failed without a message"


def test_results_roots_the_nodes_may_not_see(capsys) -> None:
    with pytest.raises(SlurmSubmissionError, match="expected an absolute path"):
        check_results_root(Path("results/smoke"))
    check_results_root(Path("/tmp/results"))
    assert "results root /tmp/results is under /tmp, which is usually local to each machine" in capsys.readouterr().err
    check_results_root(Path("/shared/results"))
    assert capsys.readouterr().err == ""


def test_the_job_survives_its_pickle_and_gives_nodes_absolute_paths() -> None:
    run = planned_run(preset_name="smoke", variant="ssb", seed=1, iterations=2)
    assert not Path(run.train.results_dir).is_absolute()  # inside the repository: kept relative
    node_run = node_run_config(run)
    assert Path(node_run.train.results_dir).is_absolute() and node_run.run_name == run.run_name
    job = pickle.loads(pickle.dumps(TrainingJob(node_run)))
    assert job.run_config == node_run
    assert job.run == config_to_dict(node_run)  # a plain dict, read back as a saved config is
    assert callable(job) and callable(job.checkpoint)


def test_a_local_run_under_torchrun_is_the_readme_command(tmp_path) -> None:
    run = planned_run(preset_name="smoke", variant="ssb", seed=1, iterations=2, results_root=tmp_path)
    command = torchrun_command(run, preset_name="smoke", processes=2, data_root="", iterations=2)
    assert command[1:5] == ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    assert command[5:] == ["-m", "basnet_lib.train", "--preset", "smoke", "--variant", "ssb", "--backbone",
                           "resnet18", "--seed", "1", "--train.results_dir", str(tmp_path / "runs" / "smoke"),
                           "--quiet", "--train.iterations", "2", "--resume", "auto"]  # fmt: skip
    # --resume auto: the same command starts the run or continues it (a killed local run).


def test_local_slots_count_gpus_or_cores(monkeypatch) -> None:
    runs = [planned_run(preset_name="smoke", variant="full")]  # one thread per process
    monkeypatch.setattr("os.cpu_count", lambda: 8)
    assert local_slots(runs, gpus_per_run=0, processes_per_run=2) == 4
    monkeypatch.setattr("basnet_lib.reproduction.local_training.visible_gpus", lambda: ["0", "1", "2", "3", "4"])
    assert local_slots(runs, gpus_per_run=2, processes_per_run=0) == 2
    with pytest.raises(ValueError, match="--gpus-per-run 8: this machine has 5 visible GPU"):
        local_slots(runs, gpus_per_run=8, processes_per_run=0)
