"""How much of the machine a timed ``basnet reproduce`` had: CPU time read from ``/proc/stat`` and
from this process tree's resource usage, so that the report's invocation table can say whether
other processes shared the cores."""

from __future__ import annotations

import os
import resource
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class CpuClock:
    """CPU seconds used so far by the whole machine (``None`` where ``/proc/stat`` is missing)
    and by this process with its finished children: two readings tell how much of the machine
    other processes took in between, so a timed run can say whether it had the machine."""

    machine: float | None
    own: float

    @classmethod
    def now(cls) -> CpuClock:
        own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return cls(
            machine=_machine_busy_seconds(),
            own=own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime,
        )


def other_processes_cpu_share(start: CpuClock, end: CpuClock, *, wall_seconds: float, cpus: int) -> float | None:
    """The fraction of the machine's CPU time between two readings that processes outside this
    process tree used (``None`` without ``/proc/stat``)."""
    if start.machine is None or end.machine is None or wall_seconds <= 0:
        return None
    others = (end.machine - start.machine) - (end.own - start.own)
    return min(max(others / (wall_seconds * cpus), 0.0), 1.0)


def _machine_busy_seconds() -> float | None:
    try:
        first_line = Path("/proc/stat").read_text().split("\n", 1)[0]
    except OSError:
        return None
    # cpu  user nice system idle iowait irq softirq steal (guest time is inside user)
    ticks = [int(value) for value in first_line.split()[1:9]]
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")
