"""What one Slurm job of the grid runs: :class:`TrainingJob`, the callable submitit pickles.

Each of the job's tasks is one DDP process; the job gives it the environment torchrun would
(``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR`` …, from submitit's ``TorchDistributedEnvironment``) and
calls the library's ``train``, which starts the run or resumes it from its checkpoint.
"""

from __future__ import annotations

import subprocess

from basnet_lib.distributed import cleanup_distributed
from basnet_lib.engine.config import RunConfig, upgraded_run_dict
from basnet_lib.engine.config_io import config_from_dict, config_to_dict
from basnet_lib.engine.stop import RunPreempted, StopRequest
from basnet_lib.reproduction.progress import metrics_text


class TrainingJob:
    """Train one run as a Slurm job (a picklable callable for ``submitit``).

    It holds the run's config as a plain dict (``config_to_dict``), so that the pickle does not
    depend on the dataclasses' layout, and a requeued job reads it back as a saved config is read.
    The job's tasks each run :meth:`__call__`; a run stopped by a signal checkpoints and the job
    ends (:func:`after_preemption`); :meth:`checkpoint` is submitit's hook for the same signal
    arriving outside the training loop, which requeues the same job.
    """

    def __init__(self, run: RunConfig | dict) -> None:
        self.run = run if isinstance(run, dict) else config_to_dict(run)

    @property
    def run_config(self) -> RunConfig:
        return config_from_dict(RunConfig, upgraded_run_dict(self.run), source="the job's run config")

    def __call__(self) -> str:
        import submitit

        from basnet_lib.engine import trainer

        # The job's process is this task's alone: its environment is how DDP finds its peers
        # (env://), as under torchrun. Slurm's CUDA_VISIBLE_DEVICES (the job's GPUs) is kept, so
        # LOCAL_RANK picks this task's GPU among them.
        submitit.helpers.TorchDistributedEnvironment().export(set_cuda_visible_devices=False, overwrite=True)
        run = self.run_config
        try:
            # SIGTERM, SIGUSR1, SIGUSR2: the run checkpoints after its step and stops (the task's
            # process is the job's, so the job installs the handlers, replacing submitit's).
            with StopRequest.on_signals() as stop:
                result = trainer.train(run, resume="auto", progress=False, stop=stop)
        except RunPreempted as preempted:
            return after_preemption(run, preempted.signal_name)
        finally:
            cleanup_distributed()
        return f"{'reused' if result.reused else 'finished'} {run.run_dir}: {metrics_text(result.metrics)}"

    def checkpoint(self) -> object:
        """submitit's hook for its pre-timeout signal (USR2) when it reaches submitit's handler, not the
        trainer's (while the run is set up or evaluated): submit the same job again, which resumes the
        run from its last checkpoint."""
        import submitit

        return submitit.helpers.DelayedSubmission(TrainingJob(self.run))


def after_preemption(run: RunConfig, signal_name: str) -> str:
    """What the job does once the trainer has checkpointed and stopped on ``signal_name``.

    The signal submitit asks Slurm to send before the time limit (``--signal USR2@90``) means the
    job is out of time: rank 0 requeues it (the same array task, resumed from the checkpoint). Any
    other (SIGTERM: preemption, ``scontrol requeue``, ``scancel``) is Slurm's own doing, and Slurm
    requeues the job itself where it was preempted or requeued.
    """
    import submitit

    environment = submitit.JobEnvironment()
    timeout_signal = f"SIG{environment.USR_SIG}"
    if signal_name != timeout_signal:
        return f"stopped by {signal_name} with {run.run_dir} checkpointed"
    if environment.global_rank == 0:
        subprocess.run(["scontrol", "requeue", environment.job_id], check=True, timeout=60)
    return f"requeued after {signal_name} with {run.run_dir} checkpointed"
