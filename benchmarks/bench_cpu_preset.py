"""The ``cpu`` preset's real training throughput, this tree against an earlier commit (issue: performance).

Each measurement is ``basnet train --preset cpu`` for ``--iterations`` steps in a fresh process:
the real loop with data loading, augmentation, Canny and edge targets, the joint loss and the SGD
step, on the embedded SynthCity set. It reports the trainer's own images/s (training only, the
final evaluation excluded) and the evaluation time. The earlier commit (``--before``) is checked
out into a temporary git worktree and run the same way, alternating with this tree, so both see
the same machine. Writes ``results/benchmarks/cpu_preset.json``.

    python benchmarks/bench_cpu_preset.py --before 2c90017          # ~8 min on 2 cores
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from basnet_lib.engine.runtime import system_info

ROOT = Path(__file__).resolve().parents[1]


def git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, check=True, capture_output=True, text=True).stdout.strip()


def measure(source: Path, variant: str, iterations: int, results_dir: Path) -> dict:
    """One ``basnet train`` of the code in ``source``; its metrics.json figures."""
    command = [
        sys.executable, "-m", "basnet_lib.cli", "train", "--preset", "cpu", "--variant", variant,
        "--train.iterations", str(iterations), "--train.results_dir", str(results_dir),
        "--quiet", "--overwrite",
    ]  # fmt: skip
    environment = {**os.environ, "PYTHONPATH": str(source)}
    finished = subprocess.run(command, cwd=source, env=environment, capture_output=True, text=True)
    if finished.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} in {source} failed:\n{finished.stderr[-3000:]}")
    metrics = json.loads((results_dir / f"{variant}-resnet18-seed0" / "metrics.json").read_text())
    return {
        "images_per_second": metrics["images_per_second"],
        "train_seconds": metrics["train_seconds_this_session"],
        "eval_seconds": metrics["eval_seconds"],
        "mIoU": metrics["mIoU"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--before", required=True, help="git commit to compare against")
    parser.add_argument("--variants", nargs="+", default=["baseline", "full"])
    parser.add_argument("--iterations", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--out", type=Path, default=ROOT / "results/benchmarks/cpu_preset.json")
    args = parser.parse_args()

    before_commit = git("rev-parse", args.before)
    after_commit = git("rev-parse", "HEAD") + (
        " + uncommitted changes" if git("status", "--porcelain") else ""
    )
    with tempfile.TemporaryDirectory(prefix="bench_cpu_preset_") as scratch:
        scratch = Path(scratch)
        worktree = scratch / "before"
        git("worktree", "add", "--detach", str(worktree), before_commit)
        try:
            # Both trees read the same cached SynthCity set (same parameters, same files).
            (worktree / ".cache").mkdir(exist_ok=True)
            (worktree / ".cache" / "synthcity").symlink_to(ROOT / ".cache" / "synthcity")
            rows = []
            for repeat in range(args.repeats):
                for variant in args.variants:
                    for label, source in (("before", worktree), ("after", ROOT)):
                        row = measure(source, variant, args.iterations, scratch / f"{label}-{repeat}")
                        row.update(label=label, variant=variant, repeat=repeat)
                        rows.append(row)
                        print(
                            f"{label:>6} {variant:>8}: {row['images_per_second']:.2f} img/s, "
                            f"eval {row['eval_seconds']:.1f} s"
                        )
        finally:
            git("worktree", "remove", "--force", str(worktree))
    summary = {}
    for variant in args.variants:
        speeds = {
            label: statistics.median(
                r["images_per_second"] for r in rows if r["variant"] == variant and r["label"] == label
            )
            for label in ("before", "after")
        }
        summary[variant] = {**speeds, "after_over_before": speeds["after"] / speeds["before"]}
        print(
            f"{variant}: {speeds['before']:.2f} → {speeds['after']:.2f} img/s (×{summary[variant]['after_over_before']:.2f})"
        )
    payload = {
        "before_commit": before_commit,
        "after_commit": after_commit,
        "iterations": args.iterations,
        "rows": rows,
        "summary": summary,
        "system": system_info(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
