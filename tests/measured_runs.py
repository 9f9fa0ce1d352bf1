"""A measured cpu-preset runs table that never changes, for tests whose assertions encode its
numbers: the grid of the host that made the first committed report, kept among the earlier hosts.
The reference (``agreement.REFERENCE_RUNS``) is replaced whenever the committed report is rerun."""

from __future__ import annotations

from basnet_lib.reproduction.verdict_stability import EARLIER_HOSTS

COMMITTED_HOST_RUNS = EARLIER_HOSTS / "committed_host_2026-11-30.csv"
