"""Validation learning curves of finished runs, and how far a run is from its recipe's plateau.

Runs that evaluate on val during training (``TrainConfig.eval_every``) hold the curve in the
``val_*`` columns of ``history.csv``; the last point is the final evaluation on the whole val set.
The plateau comes from long runs of the same recipe (4× the steps, ``studies/cpu_recipe.py
--long``), whose curves are kept in ``{results_root}/studies/cpu_recipe/long_runs.csv``.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from basnet_lib.engine.run_checks import check_history
from basnet_lib.engine.run_files import HISTORY_FILE, RunResult

LONG_RUNS_CSV = Path("studies") / "cpu_recipe" / "long_runs.csv"
WIDTH_RUNS_CSV = Path("studies") / "cpu_recipe" / "width_runs.csv"
CURVE_COLUMNS = ("val_mIoU", "val_F_3px", "val_F_5px", "val_F_9px", "val_boundary_ods_f")
# What the report reads from the recipe study's CSVs: (text columns, number columns).
LONG_RUNS_COLUMNS = (
    ("backbone", "variant"),
    ("seed", "run_iterations", "iteration", "val_mIoU", "val_F_3px"),
)
WIDTH_RUNS_COLUMNS = (("backbone", "variant"), ("seed", "width", "mIoU", "F_3px"))


def validation_curves(results: list[RunResult]) -> pd.DataFrame:
    """One row per (run, evaluation): backbone, variant, seed, iteration, iterations of the run,
    val images, and the curve columns in %. Every run's ``history.csv`` must end with its final
    evaluation (:func:`~basnet_lib.engine.run_checks.check_history`): a run missing from the figure
    would be a silent gap, so an unreadable history is an error naming it."""
    frames = []
    for result in results:
        history = pd.DataFrame(check_history(result.run_dir / HISTORY_FILE, result.config))
        evaluated = history[history["val_mIoU"].notna()].copy()
        for column in CURVE_COLUMNS:
            evaluated[column] = 100 * evaluated[column] if column in evaluated else float("nan")
        evaluated = evaluated[["iteration", "val_images", *CURVE_COLUMNS]]
        evaluated.insert(0, "run_iterations", result.config.train.iterations)
        evaluated.insert(0, "seed", result.config.train.seed)
        evaluated.insert(0, "variant", result.config.model.variant)
        evaluated.insert(0, "backbone", result.config.model.backbone)
        frames.append(evaluated)
    columns = ["backbone", "variant", "seed", "run_iterations", "iteration", "val_images", *CURVE_COLUMNS]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)


def final_points(curves: pd.DataFrame) -> pd.DataFrame:
    """The last evaluation of every run (the whole val set)."""
    last = curves[curves["iteration"] == curves["run_iterations"]]
    return last.reset_index(drop=True)


def plateau_gap(committed: pd.DataFrame, long_runs: pd.DataFrame) -> pd.DataFrame:
    """Per (backbone, variant): the committed runs' final val mIoU and boundary F (mean over seeds)
    beside what the long runs of the same recipe reach, and the difference (points)."""
    ours, long = final_points(committed), final_points(long_runs)
    rows = []
    for (backbone, variant), group in ours.groupby(["backbone", "variant"], sort=False):
        reference = long[(long["backbone"] == backbone) & (long["variant"] == variant)]
        if reference.empty:
            continue
        row = {
            "backbone": backbone,
            "variant": variant,
            "steps": int(group["run_iterations"].iloc[0]),
            "seeds": len(group),
            "long steps": int(reference["run_iterations"].iloc[0]),
            "long seeds": len(reference),
        }
        for column, label in (("val_mIoU", "mIoU"), ("val_F_3px", "F_3px")):
            row[f"{label}"] = group[column].mean()
            row[f"{label} long"] = reference[column].mean()
            row[f"{label} gap"] = reference[column].mean() - group[column].mean()
        rows.append(row)
    return pd.DataFrame(rows)


def read_long_runs(results_root: str | Path) -> pd.DataFrame | None:
    """The long runs' curves written by the recipe study, or ``None`` if it was not run."""
    path = Path(results_root) / LONG_RUNS_CSV
    return read_study_csv(path, LONG_RUNS_COLUMNS) if path.is_file() else None


def width_comparison(runs: pd.DataFrame, width_runs: pd.DataFrame) -> pd.DataFrame:
    """The full model at a wider decoder beside the committed full and baseline runs of the same
    seeds (mIoU and boundary F 3 px, %): does widening close the AM's deficit to the baseline?"""
    rows = []
    for _, wide in width_runs[width_runs["variant"] == "full"].iterrows():
        same_seed = runs[(runs["seed"] == wide["seed"]) & (runs["backbone"] == wide["backbone"])]
        by_variant = same_seed.set_index("variant")
        if not {"baseline", "full"} <= set(by_variant.index):
            continue
        row = {"seed": int(wide["seed"]), "width": int(wide["width"])}
        for metric in ("mIoU", "F_3px"):
            row[f"baseline {metric}"] = by_variant.at["baseline", metric]
            row[f"full {metric}"] = by_variant.at["full", metric]
            row[f"full wide {metric}"] = wide[metric]
            row[f"full − baseline {metric}"] = by_variant.at["full", metric] - by_variant.at["baseline", metric]
            row[f"full wide − baseline {metric}"] = wide[metric] - by_variant.at["baseline", metric]
        rows.append(row)
    return pd.DataFrame(rows)


def width_summary(comparison: pd.DataFrame) -> str:
    """One paragraph derived from :func:`width_comparison`: how much of the full model's mIoU
    deficit to the baseline the wider decoder removes, on the same seeds."""
    if comparison.empty:
        return "No wide-decoder run shares a seed with the committed baseline and full runs."
    narrow = comparison["full − baseline mIoU"].mean()
    wide = comparison["full wide − baseline mIoU"].mean()
    width, seeds = int(comparison["width"].iloc[0]), len(comparison)
    facts = (
        f"On the same {seeds} seed(s), full − baseline mIoU is {narrow:+.2f} points at the cpu "
        f"preset's width and {wide:+.2f} at width {width}."
    )
    if narrow >= 0:
        return facts + " There is no deficit to explain at this width."
    if wide >= 0:
        finding = f" At width {width} the full model is no longer below the baseline: the narrow width explains the deficit"
    else:
        closed = (wide - narrow) / -narrow
        finding = f" Widening the decoder removes {100 * max(closed, 0):.0f}% of the deficit: " + (
            "the narrow width explains most of it" if closed >= 0.5 else "the narrow width does not explain it"
        )
    caveat = "." if seeds >= 3 else (
        f", as far as {seeds} seed(s) can tell: there is no interval, so this is an indication, not a verdict."
    )
    # The study widens SSB, BDB and AM together, so the full model's gain can come from the others.
    return facts + finding + caveat + (
        " The whole decoder widens (SSB, BDB and AM alike), so this does not isolate the AM: the claim"
        " \"AM raises mIoU\" at the wider decoder (the sensitivity table beside the claims) says whether"
        " the AM itself still lowers mIoU there."
    )


def read_width_runs(results_root: str | Path) -> pd.DataFrame | None:
    """The wide-decoder runs of the recipe study, or ``None`` if it was not run."""
    path = Path(results_root) / WIDTH_RUNS_CSV
    return read_study_csv(path, WIDTH_RUNS_COLUMNS) if path.is_file() else None


def read_study_csv(path: Path, columns: tuple[tuple[str, ...], tuple[str, ...]]) -> pd.DataFrame:
    """A CSV of the recipe study with its ``(text, number)`` columns, every number finite; else a
    ValueError naming ``path``."""
    try:
        frame = pd.read_csv(path)
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise ValueError(f"{path}: not a readable CSV ({str(error).strip().splitlines()[0]})") from None
    text, numbers = columns
    missing = [name for name in (*text, *numbers) if name not in frame]
    if missing:
        raise ValueError(f"{path}: lacks the columns {missing} (has {list(frame.columns)[:8]})")
    if frame.empty:
        raise ValueError(f"{path}: holds no rows")
    values = frame[list(numbers)].apply(pd.to_numeric, errors="coerce")
    bad = [name for name in numbers if not values[name].map(math.isfinite).all()]
    if bad:
        raise ValueError(f"{path}: column {bad[0]!r} holds a value that is not a finite number")
    return frame
