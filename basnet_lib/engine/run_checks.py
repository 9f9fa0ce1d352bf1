"""What a finished run directory must hold, checked where it is read back (docs/decisions.md,
"Runs read back"): a file that does not parse, or lacks what its readers need, is an error naming
it, never a gap in a table or a figure.

- ``metrics.json``: every score the tables, claims and figures read (:func:`check_metrics`),
  finite and between 0 and 1, and the run it names is the run of ``config.json``.
- ``history.csv``: readable, ending with the final evaluation's row (:func:`check_history`).
- ``checkpoint.pt``: a whole archive of a BASNet checkpoint of this run's model after its last
  iteration (:func:`check_checkpoint_archive`). This check maps the tensors without reading them
  (0.1 s for a ResNet-101 checkpoint of 520 MB, whatever the disk); the weights themselves are read
  where a model is built or a run resumed from them: every record against its checksum
  (:func:`check_checkpoint_data`, which ``torch.load`` does not do), then their fit to the model and
  their finiteness (:func:`basnet_lib.engine.run_files.load_trained_model`).
"""

from __future__ import annotations

import math
import zipfile
from pathlib import Path

from basnet_lib.data.labels import CLASS_NAMES
from basnet_lib.engine.checkpoint import CHECKPOINT_FORMAT, CheckpointError, CheckpointRefused
from basnet_lib.engine.config import RunConfig, upgraded_run_dict
from basnet_lib.engine.config_io import config_to_dict
from basnet_lib.engine.history import read_history
from basnet_lib.metrics import BOUNDARY_IOU_BANDS, GSCNN_THRESHOLDS
from basnet_lib.model.tensor_files import RefusedFileError, load_tensor_file
from basnet_lib.model.variants import variant_row

THRESHOLD_KEYS = tuple(f"{threshold:g}" for threshold in GSCNN_THRESHOLDS)
BAND_KEYS = tuple(str(band) for band in BOUNDARY_IOU_BANDS)
# metrics.json's boundary-map sections and the scores of each that the report reads.
MAP_SCORES = {"boundary_map": ("ODS_F", "ODS_threshold", "AP", "constant_map_F"), "canny_map": ("F",)}


def check_metrics(metrics: object, path: Path, run: RunConfig) -> dict:
    """``metrics`` (``path``'s content) when it holds what the tables need for ``run``; else a
    ValueError naming ``path`` and what is wrong (the first problems found)."""
    problems = metrics_problems(metrics, run)
    if problems:
        more = f" (and {len(problems) - 2} more)" if len(problems) > 2 else ""
        raise ValueError(f"{path}: {'; '.join(problems[:2])}{more}")
    return metrics  # type: ignore[return-value]


def metrics_problems(metrics: object, run: RunConfig) -> list[str]:
    """What ``metrics.json``'s content lacks for ``run`` ([]: nothing)."""
    if not isinstance(metrics, dict):
        return [f"expected a JSON object of scores, found {type(metrics).__name__}"]
    problems = _identity_problems(metrics, run)
    problems += _scores(metrics, "mIoU")
    problems += _score_table(metrics, "per_class_iou", CLASS_NAMES, missing_allowed=True)
    for name in ("boundary_F", "boundary_F_present"):
        problems += _score_table(metrics, name, THRESHOLD_KEYS)
    for name in ("per_class_boundary_F", "per_class_boundary_F_present"):
        problems += _score_table(metrics, name, THRESHOLD_KEYS, nested=CLASS_NAMES)
    problems += _score_table(metrics, "boundary_empty_pairs", CLASS_NAMES)
    if "boundary_IoU" in metrics:  # absent from runs evaluated before it existed (late_boundary_iou.py)
        problems += _score_table(metrics, "boundary_IoU", BAND_KEYS, missing_allowed=True)
    has_map = variant_row(run.model.variant).boundary_branch
    for name, keys in MAP_SCORES.items():
        if metrics.get(name, "") is None and has_map:
            problems.append(f"{name!r} is null, but a {run.model.variant} model has a boundary output")
        elif metrics.get(name, "") is not None:
            problems += _score_table(metrics, name, keys)
    return problems


def _identity_problems(metrics: dict, run: RunConfig) -> list[str]:
    """The run ``metrics.json`` names (variant, backbone, seed, iterations) is ``run``."""
    expected = {
        "variant": run.model.variant,
        "backbone": run.model.backbone,
        "seed": run.train.seed,
        "iterations": run.train.iterations,
    }
    return [
        f"{key!r} is {_short(metrics.get(key, '<absent>'))}, but config.json says {value!r}"
        for key, value in expected.items()
        if metrics.get(key) != value or isinstance(metrics.get(key), bool)
    ]


def _scores(values: dict, key: str, *, label: str = "", missing_allowed: bool = False) -> list[str]:
    """``values[key]`` is a finite number between 0 and 1 (or null where ``missing_allowed``)."""
    label = label or repr(key)
    if key not in values:
        return [f"lacks {label}"]
    value = values[key]
    if value is None and missing_allowed:
        return []
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if not number or not math.isfinite(value) or not 0 <= value <= 1:
        return [f"{label} is {_short(value)}, expected a number between 0 and 1"]
    return []


def _score_table(
    values: dict,
    key: str,
    names: tuple[str, ...],
    *,
    label: str = "",
    nested: tuple[str, ...] = (),
    missing_allowed: bool = False,
) -> list[str]:
    """``values[key]`` maps every name of ``names`` to a score (or, with ``nested``, to a table of
    per-class scores, null for a class that never occurs)."""
    label = label or repr(key)
    if key not in values:
        return [f"lacks {label}"]
    table = values[key]
    if not isinstance(table, dict):
        return [f"{label} is {_short(table)}, expected an object"]
    if nested:
        return [
            problem
            for name in names
            for problem in _score_table(table, name, nested, label=f"{label}[{name!r}]", missing_allowed=True)
        ]
    return [
        problem
        for name in names
        for problem in _scores(table, name, label=f"{label}[{name!r}]", missing_allowed=missing_allowed)
    ]


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:57]}..."


def check_history(path: Path, run: RunConfig) -> list[dict[str, float]]:
    """``history.csv``'s rows when they end with the final evaluation (the curves' last point);
    else a ValueError naming ``path``."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file (a finished run keeps its training history)")
    rows = read_history(path, up_to_iteration=run.train.iterations)
    if not rows or rows[-1]["iteration"] != run.train.iterations or "val_mIoU" not in rows[-1]:
        last = f"ends at iteration {rows[-1]['iteration']}" if rows else "has no rows"
        raise ValueError(
            f"{path}: not a finished run's history: it {last}, expected a last row at iteration "
            f"{run.train.iterations} with the final evaluation (val_mIoU)"
        )
    return rows


def check_checkpoint_archive(path: Path, run: RunConfig) -> None:
    """``path`` is a whole BASNet checkpoint of ``run``'s model after its last iteration: its
    archive's directory and its pickle are read, its tensors mapped (not read), so that a
    truncated or foreign file is found in milliseconds. Raises :class:`CheckpointError` naming it."""
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint (a finished run keeps its last one)")
    try:
        state = load_tensor_file(path, kind="checkpoint", mmap=True)
    except RefusedFileError as error:  # a pickle that asks for code: refused, nothing ran
        raise CheckpointRefused(str(error)) from None
    except ValueError as error:  # truncated, corrupt, or not a zip archive
        raise CheckpointError(str(error)) from None
    found = state.get("format") if isinstance(state, dict) else type(state).__name__
    if found != CHECKPOINT_FORMAT or not isinstance(state.get("model"), dict):
        raise CheckpointError(f"{path}: not a BASNet training checkpoint (format {found!r})")
    if state.get("iteration") != run.train.iterations:
        raise CheckpointError(
            f"{path}: holds iteration {state.get('iteration')!r}, not the finished run's last "
            f"({run.train.iterations})"
        )
    saved = state.get("config")
    saved_model = upgraded_run_dict(saved).get("model") if isinstance(saved, dict) else None
    if saved_model != config_to_dict(run.model):
        raise CheckpointError(f"{path}: holds another model than config.json's ({saved_model!r})")


def check_checkpoint_data(path: Path) -> None:
    """Every record of the checkpoint's zip archive against its CRC-32: ``torch.load`` reads them
    without checking, so a flipped bit in a weight would load silently. Reads the whole file once
    (0.3 s for 520 MB from the page cache). Raises :class:`CheckpointError` naming the file."""
    try:
        with zipfile.ZipFile(path) as archive:
            records = [info for info in archive.infolist() if info.file_size]
            if records and all(info.CRC == 0 for info in records):
                return  # saved without checksums (torch.serialization's compute_crc32 off)
            damaged = archive.testzip()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError) as error:
        raise CheckpointError(
            f"{path}: not a readable checkpoint (truncated or corrupt?): {type(error).__name__}: {error}"
        ) from None
    if damaged is not None:
        raise CheckpointError(f"{path}: its record {damaged} does not match its checksum: the file is damaged")
