"""A single-node Slurm cluster of its own for the tests: munged, slurmctld and slurmd as root, with a
minimal ``slurm.conf``, a MUNGE key and free ports in a temporary folder, so that it neither needs
nor touches the machine's own Slurm or MUNGE set-up. Starts in a few seconds.

Needs Debian's ``slurm-wlm`` and ``munge`` (``apt-get install -y slurm-wlm munge``) and root:
slurmd runs jobs as their users, and the jobs here are root's own.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import time
from pathlib import Path

DAEMONS = ("munged", "slurmctld", "slurmd")
# Daemons live in sbin, which a non-login PATH may lack.
SEARCH_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
CLIENTS = ("sbatch", "squeue", "scontrol", "srun", "scancel", "sinfo")
START_TIMEOUT_S = 30

SLURM_CONF = """\
ClusterName=basnet-test
SlurmctldHost=localhost
SlurmctldPort={controller_port}
SlurmdPort={node_port}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket={munge_socket}
CredType=cred/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
ReturnToService=2
StateSaveLocation={folder}/state
SlurmdSpoolDir={folder}/spool
SlurmctldPidFile={folder}/slurmctld.pid
SlurmdPidFile={folder}/slurmd.pid
SlurmctldLogFile={folder}/slurmctld.log
SlurmdLogFile={folder}/slurmd.log
NodeName=localhost CPUs=2 RealMemory=1000 State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
"""


def missing_requirements() -> str:
    """Why this machine cannot start the cluster ("" when it can)."""
    if os.geteuid() != 0:
        return "root (slurmd starts jobs as their users)"
    missing = [name for name in DAEMONS + CLIENTS if shutil.which(name, path=SEARCH_PATH) is None]
    if missing:
        return f"{', '.join(missing)} (apt-get install -y slurm-wlm munge)"
    try:
        import submitit  # noqa: F401
    except ImportError:
        return "submitit (pip install -e '.[cluster]')"
    return ""


class SlurmCluster:
    """The cluster in ``folder``; ``environment`` holds ``SLURM_CONF`` for every Slurm command."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.conf = folder / "slurm.conf"
        self.munge_socket = folder / "munge" / "munge.socket"
        self.environment = {"SLURM_CONF": str(self.conf)}

    def start(self) -> None:
        for name in ("state", "spool", "munge"):
            (self.folder / name).mkdir(mode=0o700, exist_ok=True)
        key = self.folder / "munge" / "munge.key"
        key.write_bytes(secrets.token_bytes(1024))
        key.chmod(0o600)
        munge = self.folder / "munge"
        self._daemon(["munged", "--force", f"--socket={self.munge_socket}", f"--key-file={key}",
                      f"--log-file={munge}/munged.log", f"--pid-file={munge}/munged.pid",
                      f"--seed-file={munge}/munged.seed"])  # fmt: skip
        self.conf.write_text(SLURM_CONF.format(
            controller_port=_free_port(), node_port=_free_port(), munge_socket=self.munge_socket, folder=self.folder
        ))  # fmt: skip
        self._daemon(["slurmctld", "-i"])
        self._daemon(["slurmd", "-N", "localhost"])
        self._wait_until_idle()

    def stop(self) -> None:
        """Cancel every job, shut the controller and the node down, stop munged (each by its own pid)."""
        subprocess.run(["scancel", "--user", "root"], env=self._env(), capture_output=True, timeout=30)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and self.command("squeue", "--noheader").strip():
            time.sleep(0.5)
        subprocess.run(["scontrol", "shutdown"], env=self._env(), capture_output=True, timeout=30)
        for pid_file in (self.folder / "slurmd.pid", self.folder / "slurmctld.pid", self.folder / "munge" / "munged.pid"):
            _stop_process(pid_file)

    def command(self, *words: str) -> str:
        """A Slurm command's standard output (``squeue``, ``scontrol`` …) against this cluster."""
        return subprocess.run(list(words), env=self._env(), capture_output=True, text=True, timeout=60).stdout

    def log_tails(self) -> str:
        return "\n".join(
            f"--- {path.name}\n" + "\n".join(path.read_text(errors="replace").splitlines()[-15:])
            for path in sorted(self.folder.rglob("*.log"))
        )

    def _env(self) -> dict[str, str]:
        return {**os.environ, **self.environment}

    def _daemon(self, command: list[str]) -> None:
        """Start a daemon (it forks into the background once it is up)."""
        command = [shutil.which(command[0], path=SEARCH_PATH), *command[1:]]
        finished = subprocess.run(command, env=self._env(), capture_output=True, text=True, timeout=60)
        if finished.returncode != 0:
            raise RuntimeError(f"{Path(command[0]).name} did not start: {finished.stderr.strip()}\n{self.log_tails()}")

    def _wait_until_idle(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.command("sinfo", "--noheader", "--format", "%t").strip() == "idle":
                return
            time.sleep(0.3)
        raise RuntimeError(f"the Slurm node is not idle after {START_TIMEOUT_S} s\n{self.log_tails()}")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _stop_process(pid_file: Path, timeout: float = 10) -> None:
    """SIGTERM the daemon whose pid ``pid_file`` holds (if it still runs), and wait for it to end."""
    try:
        pid = int(pid_file.read_text().strip())
        os.kill(pid, 15)
    except (FileNotFoundError, ValueError, ProcessLookupError):
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
