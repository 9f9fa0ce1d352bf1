"""The cpu preset's recipe study: validation learning curves of candidate recipes (issue: a
reproduction whose conclusions can be trusted; docs/decisions.md "cpu recipe").

Each candidate is ``basnet train --preset cpu`` with field overrides, evaluated on val every
``--eval-every`` steps (``TrainConfig.eval_every``). Candidates run as ``--parallel`` processes of
``--threads`` threads each. The curves of every run (``history.csv``'s ``val_*`` columns) are
collected into ``results/studies/cpu_recipe/curves.csv`` and ``curves.png``; each run's
directory, config and history stay under ``results/studies/cpu_recipe/runs/``.

    python studies/cpu_recipe.py --candidates sgd adamw --variants baseline full --iterations 600
    python studies/cpu_recipe.py --width 128 --variants ssb ssb_bdb full --seeds 0 1 2 --parallel 2

The width study trains the variants with a decoder (the baseline has none: the report pairs them with
the main grid's baseline runs). It checkpoints like the preset and continues where it stopped when
the same command runs again (finished runs are reused, unfinished ones resume).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

OUT = Path("results/studies/cpu_recipe")
# Overrides of the cpu preset per candidate recipe (command-line spelling of TrainConfig/DataConfig).
CANDIDATES = {
    "preset": [],
    "sgd_bf16": ["--train.optimizer", "sgd", "--train.learning_rate", "0.05", "--train.warmup_iterations", "0",
                 "--train.amp", "true"],
    "adamw1e-3": ["--train.optimizer", "adamw", "--train.learning_rate", "0.001",
                  "--train.warmup_iterations", "50", "--train.weight_decay", "0.0001", "--train.amp", "true"],
    "adamw3e-3": ["--train.optimizer", "adamw", "--train.learning_rate", "0.003",
                  "--train.warmup_iterations", "50", "--train.weight_decay", "0.0001", "--train.amp", "true"],
    "adamw1e-3_fp32": ["--train.optimizer", "adamw", "--train.learning_rate", "0.001",
                       "--train.warmup_iterations", "50", "--train.weight_decay", "0.0001", "--train.amp", "false"],
    "adamw1e-3_noaug": ["--train.optimizer", "adamw", "--train.learning_rate", "0.001",
                        "--train.warmup_iterations", "50", "--train.weight_decay", "0.0001", "--train.amp", "true",
                        "--data.scale_min", "1.0", "--data.scale_max", "1.0", "--data.hflip", "false"],
    "adamw1e-3_crop128": ["--train.optimizer", "adamw", "--train.learning_rate", "0.001",
                          "--train.warmup_iterations", "50", "--train.weight_decay", "0.0001", "--train.amp", "true",
                          "--data.crop_height", "128", "--data.crop_width", "256"],
    "sgd_bf16_lr0.1": ["--train.optimizer", "sgd", "--train.learning_rate", "0.1", "--train.warmup_iterations", "50",
                       "--train.amp", "true"],
    "sgd_bf16_bs4": ["--train.optimizer", "sgd", "--train.learning_rate", "0.05", "--train.amp", "true",
                     "--train.batch_size", "4"],
    "sgd_bf16_crop64": ["--train.optimizer", "sgd", "--train.learning_rate", "0.05", "--train.amp", "true",
                        "--data.crop_height", "64", "--data.crop_width", "128"],
    "sgd_bf16_scale0.5-1": ["--train.optimizer", "sgd", "--train.learning_rate", "0.05", "--train.amp", "true",
                            "--data.scale_min", "0.5", "--data.scale_max", "1.0"],
    "sgd_bf16_bs16_lr0.1": ["--train.optimizer", "sgd", "--train.learning_rate", "0.1", "--train.amp", "true",
                            "--train.batch_size", "16", "--train.warmup_iterations", "20"],
    "sgd_bf16_lr0.1_scale0.5-1": ["--train.optimizer", "sgd", "--train.learning_rate", "0.1", "--train.amp", "true",
                                  "--train.warmup_iterations", "50", "--data.scale_min", "0.5", "--data.scale_max", "1.0"],
    "sgd_bf16_scale0.5-1_balance0.5": ["--train.optimizer", "sgd", "--train.learning_rate", "0.05",
                                       "--train.amp", "true", "--data.scale_min", "0.5", "--data.scale_max", "1.0",
                                       "--loss.class_balance", "0.5"],
    "sgd_bf16_scale0.5-1_balance1": ["--train.optimizer", "sgd", "--train.learning_rate", "0.05",
                                     "--train.amp", "true", "--data.scale_min", "0.5", "--data.scale_max", "1.0",
                                     "--loss.class_balance", "1.0"],
    "sgd_bf16_scale0.5-1_balance0.75": ["--train.optimizer", "sgd", "--train.learning_rate", "0.05",
                                        "--train.amp", "true", "--data.scale_min", "0.5", "--data.scale_max", "1.0",
                                        "--loss.class_balance", "0.75"],
    "preset_edge1": ["--loss.edge_weight", "1.0"],
    "preset_edge3": ["--loss.edge_weight", "3.0"],
    "preset_hard0.25": ["--loss.hard_pixel_fraction", "0.25"],
    "preset_hard0.1": ["--loss.hard_pixel_fraction", "0.1"],
    "preset_ohem0.7": ["--loss.hard_pixel_fraction", "0.1", "--loss.hard_pixel_probability", "0.7"],
    "preset_ohem0.9": ["--loss.hard_pixel_fraction", "0.1", "--loss.hard_pixel_probability", "0.9"],
    "preset_crop128": ["--data.crop_height", "128", "--data.crop_width", "256"],
    "preset_scale0.75-1.25": ["--data.scale_min", "0.75", "--data.scale_max", "1.25"],
    "adamw1e-3_w128": ["--train.optimizer", "adamw", "--train.learning_rate", "0.001",
                       "--train.warmup_iterations", "50", "--train.weight_decay", "0.0001", "--train.amp", "true",
                       "--model.width", "128"],
}


def run_name(candidate: str, variant: str, seed: int, iterations: int, threads: int) -> str:
    return f"{candidate}-{variant}-it{iterations}-t{threads}-seed{seed}"


def command(candidate: str, variant: str, seed: int, args: argparse.Namespace) -> list[str]:
    name = run_name(candidate, variant, seed, args.iterations, args.threads)
    return [
        sys.executable, "-m", "basnet_lib.cli", "train", "--preset", "cpu", "--variant", variant,
        "--seed", str(seed), "--quiet", *CANDIDATES[candidate],
        "--train.iterations", str(args.iterations), "--train.eval_every", str(args.eval_every),
        "--train.eval_images", str(args.eval_images), "--train.checkpoint_every", str(args.iterations),
        "--train.results_dir", str(OUT / "runs"), "--train.run_name", name,
    ]


def run_all(jobs: list[tuple[str, str, int]], args: argparse.Namespace) -> None:
    """Run the jobs, ``args.parallel`` at a time, each with ``args.threads`` threads."""
    environment = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
    pending, running = list(jobs), []
    while pending or running:
        while pending and len(running) < args.parallel:
            job = pending.pop(0)
            log = open(OUT / "logs" / f"{run_name(*job, args.iterations, args.threads)}.log", "w")
            started = time.perf_counter()
            running.append((job, subprocess.Popen(command(*job, args), stdout=log, stderr=log, env=environment), started))
        time.sleep(2)
        for entry in list(running):
            job, process, started = entry
            if process.poll() is not None:
                running.remove(entry)
                print(f"{job}: exit {process.returncode} after {time.perf_counter() - started:.0f} s", flush=True)


def collect() -> pd.DataFrame:
    frames = []
    for history in sorted((OUT / "runs").glob("*/history.csv")):
        frame = pd.read_csv(history)
        frame = frame[frame["val_mIoU"].notna()].copy()
        frame.insert(0, "run", history.parent.name)
        frames.append(frame)
    curves = pd.concat(frames, ignore_index=True)
    curves.to_csv(OUT / "curves.csv", index=False)
    return curves


def plot(curves: pd.DataFrame) -> Path:
    figure = Figure(figsize=(12, 4.5), layout="constrained")
    miou, fscore = figure.subplots(1, 2)
    for run, group in curves.groupby("run"):
        miou.plot(group["iteration"], 100 * group["val_mIoU"], marker=".", label=run)
        fscore.plot(group["iteration"], 100 * group["val_F_3px"], marker=".", label=run)
    miou.set(xlabel="training step", ylabel="val mIoU (%)", title="SynthCity val mIoU")
    fscore.set(xlabel="training step", ylabel="val boundary F, 3 px (%)", title="boundary F (strictest)")
    miou.legend(fontsize=6)
    path = OUT / "curves.png"
    figure.savefig(path, dpi=110)
    return path


def run_preset_variants(kind: str, variants: list[str], seeds: list[int], overrides: list[str], parallel: int) -> list[Path]:
    """The cpu preset as it is (plus ``overrides``), one process per (variant, seed), ``parallel`` at a time."""
    from basnet_lib.engine.presets import preset

    jobs, directories = [], []
    for variant in variants:
        for seed in seeds:
            run = preset("cpu", variant=variant, seed=seed)
            name = f"{variant}-{run.model.backbone}-seed{seed}"
            directories.append(OUT / kind / name)
            jobs.append([
                sys.executable, "-m", "basnet_lib.cli", "train", "--preset", "cpu", "--variant", variant,
                "--seed", str(seed), "--quiet", *overrides, "--train.results_dir", str(OUT / kind),
                "--train.run_name", name,
            ])  # fmt: skip
    running: list[subprocess.Popen] = []
    while jobs or running:
        while jobs and len(running) < parallel:
            command = jobs.pop(0)
            name = command[command.index("--train.run_name") + 1]
            log = open(OUT / "logs" / f"{kind}-{name}.log", "a")  # a resumed run adds to its log
            running.append(subprocess.Popen(command, stdout=log, stderr=log))
        time.sleep(2)
        for process in [p for p in running if p.poll() is not None]:
            running.remove(process)
            print(f"{' '.join(process.args[-3:])}: exit {process.returncode}", flush=True)
    return directories


def long_runs(variants: list[str], factor: int, parallel: int) -> None:
    """The cpu preset's recipe with ``factor``× the steps (warm-up scaled alike, evaluations at half
    the scaled spacing):
    curves into ``long_runs.csv`` (read by the report, basnet_lib.reproduction.learning_curves)."""
    from basnet_lib.engine.presets import preset
    from basnet_lib.engine.run_files import load_run
    from basnet_lib.reproduction.learning_curves import validation_curves

    train = preset("cpu").train
    overrides = [
        "--train.iterations", str(factor * train.iterations),
        "--train.warmup_iterations", str(factor * train.warmup_iterations),
        "--train.eval_every", str(factor * train.eval_every // 2),  # twice as many points as the committed runs
        "--train.checkpoint_every", str(factor * train.iterations),
    ]  # fmt: skip
    run_preset_variants("long", variants, [0], overrides, parallel)
    finished = sorted(path.parent for path in (OUT / "long").glob("*/metrics.json"))  # every variant run so far
    curves = validation_curves([load_run(directory) for directory in finished])
    curves.to_csv(OUT / "long_runs.csv", index=False)
    print(f"wrote {OUT / 'long_runs.csv'}")


def width_runs(width: int, variants: list[str], seeds: list[int], parallel: int) -> None:
    """The variants at decoder width ``width`` (the cpu preset's is 64): final scores of every run of
    that width into ``width_runs.csv``, read by the report (the claims at that width beside the main
    verdicts, basnet_lib.reproduction.width_sensitivity; is the AM's deficit the narrow width or the
    method?)."""
    from basnet_lib.engine.run_files import load_run
    from basnet_lib.reproduction.tables import runs_frame

    # The preset's checkpoints and --resume auto: an interrupted study continues where it stopped
    # (finished runs are reused, unfinished ones resume exactly) when the same command runs again.
    overrides = ["--model.width", str(width), "--resume", "auto"]
    run_preset_variants(f"width{width}", variants, seeds, overrides, parallel)
    finished = sorted(path.parent for path in (OUT / f"width{width}").glob("*/metrics.json"))
    frame = runs_frame([load_run(directory) for directory in finished])
    frame.insert(2, "width", width)
    frame.to_csv(OUT / "width_runs.csv", index=False)
    print(f"wrote {OUT / 'width_runs.csv'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--candidates", nargs="+", choices=sorted(CANDIDATES), default=["preset"])
    parser.add_argument("--variants", nargs="+", default=["baseline", "full"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--iterations", type=int, default=600)
    parser.add_argument("--eval-every", type=int, default=100)
    parser.add_argument("--eval-images", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--parallel", type=int, default=1)
    parser.add_argument("--collect-only", action="store_true")
    parser.add_argument("--long", type=int, default=0, help="run the cpu preset with this many times its steps")
    parser.add_argument("--width", type=int, default=0, help="run the cpu preset's --variants at this decoder width")
    args = parser.parse_args()
    (OUT / "logs").mkdir(parents=True, exist_ok=True)
    if args.long or args.width:
        if args.long:
            long_runs(args.variants, args.long, args.parallel)
        if args.width:
            width_runs(args.width, args.variants, args.seeds, args.parallel)
        return
    if not args.collect_only:
        jobs = [(c, v, s) for c in args.candidates for v in args.variants for s in args.seeds]
        run_all(jobs, args)
    print(f"wrote {plot(collect())}")


if __name__ == "__main__":
    main()
