"""CpuClock: how much of the machine a timed run had."""

from __future__ import annotations

import os
import time

import pytest

from basnet_lib.reproduction.cpu_clock import CpuClock, other_processes_cpu_share


def test_other_processes_share_is_machine_time_minus_our_own() -> None:
    start, end = CpuClock(machine=100.0, own=10.0), CpuClock(machine=160.0, own=40.0)
    # 60 busy seconds on the machine, 30 of them ours, over 30 s of 2 CPUs: others took a half.
    assert other_processes_cpu_share(start, end, wall_seconds=30.0, cpus=2) == pytest.approx(0.5)
    # Clamped: our children's time is counted when they end, so the difference can dip below 0.
    assert other_processes_cpu_share(start, CpuClock(machine=110.0, own=40.0), wall_seconds=30.0, cpus=2) == 0.0
    assert other_processes_cpu_share(CpuClock(None, 0.0), end, wall_seconds=30.0, cpus=2) is None


@pytest.mark.skipif(not os.path.exists("/proc/stat"), reason="/proc/stat is Linux's")
def test_cpu_clock_counts_our_own_work() -> None:
    start = CpuClock.now()
    deadline = time.process_time() + 0.3
    while time.process_time() < deadline:  # busy for 0.3 CPU seconds
        pass
    end = CpuClock.now()
    assert end.own - start.own >= 0.29
    assert start.machine is not None and end.machine - start.machine >= 0.25  # /proc/stat ticks are 10 ms
