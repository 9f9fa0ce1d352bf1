"""Training and evaluation engine (docs/method.md §4): configs, presets, ``train``, ``evaluate``."""

from basnet_lib.engine.config import RunConfig, TrainConfig
from basnet_lib.engine.evaluate import evaluate, predict
from basnet_lib.engine.presets import PRESETS, preset
from basnet_lib.engine.run_files import RunResult, load_run
from basnet_lib.engine.trainer import train

__all__ = [
    "PRESETS",
    "RunConfig",
    "RunResult",
    "TrainConfig",
    "evaluate",
    "load_run",
    "predict",
    "preset",
    "train",
]
