"""``basnet`` command line: ``info``, ``params``, ``synthcity``, ``synthcity-samples``, ``data-verify``,
``data-stats``, ``train``, ``evaluate``, ``reproduce``, ``status``, ``predict``, ``export``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from basnet_lib.engine.commands import (
    add_evaluate_arguments,
    add_train_arguments,
    checked_run_config,
    evaluate_command,
    train_command,
)
from basnet_lib.engine.failures import report_failure, report_interrupt
from basnet_lib.model import BACKBONES
from basnet_lib.reproduction.reproduce_command import add_reproduce_arguments, reproduce_command
from basnet_lib.reproduction.slurm_status import add_status_arguments

PROG = "basnet"


def main(argv: list[str] | None = None) -> int:
    """Run one command; a failure prints ``basnet: error: <message>`` (the traceback with ``--debug``)
    and returns 2 for a bad option value, 1 for anything else; a command stopped by Ctrl-C or a
    signal prints one line and returns 130, or 128 + the signal (basnet_lib.engine.failures)."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="BASNet (Qiang et al.) reproduction: boundary-assistant symmetrical network "
        "for semantic segmentation.",
    )
    parser.add_argument("--debug", action="store_true", help="show the traceback of a failure")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_installation_commands(commands)
    _add_data_commands(commands)
    _add_run_commands(commands)
    _add_deploy_commands(commands)
    for command in commands.choices.values():
        # Also after the command name; SUPPRESS keeps a --debug given before it.
        command.add_argument(
            "--debug", action="store_true", default=argparse.SUPPRESS, help="show the traceback of a failure"
        )
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except KeyboardInterrupt as interrupt:
        if args.debug:
            raise
        return report_interrupt(PROG, interrupt)
    except Exception as error:
        if args.debug:
            raise
        return report_failure(PROG, error)


def _add_installation_commands(commands: argparse._SubParsersAction) -> None:
    info = commands.add_parser("info", help="versions, devices and threads of this installation")
    info.add_argument("--json", action="store_true", help="print JSON instead of aligned text")
    info.set_defaults(handler=_info)

    params = commands.add_parser("params", help="parameter count per variant and component")
    params.add_argument("--backbones", nargs="+", choices=BACKBONES, default=["resnet50", "resnet101"])
    params.add_argument("--width", type=int, default=256, help="decoder width C (docs/decisions.md 'Architecture')")
    params.add_argument("--out", type=Path, help="folder to write params.csv and params.md into")
    params.set_defaults(handler=_params)


def _add_data_commands(commands: argparse._SubParsersAction) -> None:
    synthcity = commands.add_parser("synthcity", help="generate a SynthCity dataset (docs/decisions.md 'SynthCity')")
    synthcity.add_argument(
        "--out", type=Path, required=True, help="folder to write the Cityscapes layout into"
    )
    synthcity.add_argument("--train", type=int, default=400, help="training images")
    synthcity.add_argument("--val", type=int, default=100, help="validation images")
    synthcity.add_argument("--test", type=int, default=0, help="test images (no labels)")
    synthcity.add_argument(
        "--size", type=_size, default=(256, 512), metavar="HxW", help="image size, e.g. 256x512"
    )
    synthcity.add_argument("--seed", type=int, default=0)
    synthcity.add_argument("--workers", type=int, help="processes (default: all cores)")
    synthcity.add_argument("--overwrite", action="store_true", help="replace a dataset already in --out")
    synthcity.set_defaults(handler=_synthcity)

    samples = commands.add_parser("synthcity-samples", help="picture of image, labels, edge target, Canny")
    samples.add_argument("--root", type=Path, help="dataset root (default: the cached default SynthCity set)")
    samples.add_argument("--out", type=Path, default=Path("results/synthcity_samples.png"))
    samples.add_argument("--split", choices=("train", "val"), default="val")
    samples.add_argument("--count", type=int, default=4, help="rows (samples) in the picture")
    samples.set_defaults(handler=_synthcity_samples)

    verify = commands.add_parser("data-verify", help="check every file of a Cityscapes-layout dataset")
    verify.add_argument("--root", type=Path, required=True)
    verify.add_argument("--splits", nargs="+", choices=("train", "val", "test"), default=["train", "val"])
    verify.set_defaults(handler=_data_verify)

    stats = commands.add_parser("data-stats", help="class pixel frequencies per split (CSV and bar plot)")
    stats.add_argument("--root", type=Path, help="dataset root (default: the cached default SynthCity set)")
    stats.add_argument("--splits", nargs="+", choices=("train", "val"), default=["train", "val"])
    stats.add_argument(
        "--out", type=Path, default=Path("results"), help="folder for class_frequencies.csv/.png"
    )
    stats.set_defaults(handler=_data_stats)


def _add_run_commands(commands: argparse._SubParsersAction) -> None:
    train = commands.add_parser(
        "train",
        help="train one run and evaluate it on val (also: torchrun -m basnet_lib.train)",
        description="Train one run (a preset, a variant, a seed, any field overridden) and evaluate it.",
    )
    add_train_arguments(train)
    train.set_defaults(handler=_train)

    evaluate = commands.add_parser("evaluate", help="evaluate a run's checkpoint; export test predictions")
    add_evaluate_arguments(evaluate)
    evaluate.set_defaults(handler=evaluate_command)

    reproduce = commands.add_parser(
        "reproduce", help="main job: SynthCity if missing, notebooks 01-05 with papermill, results/REPORT.md"
    )
    add_reproduce_arguments(reproduce)
    reproduce.set_defaults(handler=reproduce_command)
    # Its handler is set by add_status_arguments: ``status_command``.
    add_status_arguments(commands.add_parser("status", help="each run of a grid submitted to Slurm: its state"))


def _add_deploy_commands(commands: argparse._SubParsersAction) -> None:
    from basnet_lib.deploy.predict_images import add_predict_arguments, predict_command

    predict = commands.add_parser(
        "predict",
        help="a run's model on your images: trainIds, colour, boundary and overlay PNGs",
        description="Predict PNG/JPEG images of any size with a trained run; four PNGs per image, "
        "at the image's size (docs/usage.md 'Predicting your own images').",
    )
    add_predict_arguments(predict)
    predict.set_defaults(handler=predict_command)
    export = commands.add_parser(
        "export",
        help="a run's model as ONNX (onnxruntime and others), checked against PyTorch",
        description="Export a run's inference model to ONNX (inputs image and gradient_map, H and W "
        "multiples of 8; README 'ONNX'), then run it with onnxruntime on a SynthCity scene and "
        "print its largest logit difference from PyTorch.",
    )
    export.add_argument("run_dir", type=Path, help="a run directory (config.json + checkpoint.pt)")
    export.add_argument("--onnx", type=Path, required=True, help="the .onnx file to write")
    export.add_argument("--checkpoint", type=Path, help="default: RUN_DIR/checkpoint.pt")
    export.add_argument("--overwrite", action="store_true", help="replace an existing --onnx file")
    export.add_argument(
        "--check-size", type=_size, default=(256, 512), metavar="HxW", help="size of the check image"
    )
    export.set_defaults(handler=_export)


def _train(args: argparse.Namespace) -> int:
    # Every option value checked before anything is read or written (config checks: --seed -1,
    # --train.batch_size 1, ...); a bad one is a usage error.
    checked_run_config(args)
    return train_command(args)


def _export(args: argparse.Namespace) -> int:
    from basnet_lib.deploy.onnx_export import MIN_ARGMAX_AGREEMENT, check_onnx, export_onnx, synthcity_images
    from basnet_lib.engine.run_files import load_trained_model

    if (args.onnx.exists() or args.onnx.is_symlink()) and not args.overwrite:  # before loading the model
        raise FileExistsError(f"{args.onnx} exists; pass --overwrite to replace it")
    _, model = load_trained_model(args.run_dir, checkpoint=args.checkpoint)
    path = export_onnx(model, args.onnx, overwrite=args.overwrite)
    height, width = args.check_size
    check = check_onnx(model, path, synthcity_images(1, height=height, width=width))
    differences = ", ".join(f"{name} {value:.3g}" for name, value in check.max_abs_difference.items())
    print(f"wrote {path}")
    print(
        f"onnxruntime vs PyTorch on a {height}x{width} SynthCity scene: max abs logit difference "
        f"{differences}; argmax agreement {100 * check.argmax_agreement:.3f}% of pixels"
    )
    return 0 if check.argmax_agreement >= MIN_ARGMAX_AGREEMENT else 1


def _info(args: argparse.Namespace) -> int:
    from basnet_lib.engine.runtime import system_info

    info = system_info()
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        for key, value in info.items():
            print(f"{key:>22}: {value}")
    return 0


def _params(args: argparse.Namespace) -> int:
    from basnet_lib.reproduction.architecture import parameter_table

    table = parameter_table(backbones=tuple(args.backbones), width=args.width)
    markdown = table.to_markdown(index=False, floatfmt=".3f")
    print("Parameters (millions) per component; vs_deeplabv3 = total / torchvision deeplabv3_resnet*")
    print(markdown)
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        table.to_csv(args.out / "params.csv", index=False)
        (args.out / "params.md").write_text(markdown + "\n")
        print(f"wrote {args.out / 'params.csv'} and {args.out / 'params.md'}")
    return 0


def _size(text: str) -> tuple[int, int]:
    """``HxW`` → (H, W)."""
    try:
        height, width = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected HxW such as 256x512, got {text!r}") from None
    return height, width


def _synthcity(args: argparse.Namespace) -> int:
    from basnet_lib.data.synthcity import generate_synthcity

    height, width = args.size
    out = generate_synthcity(
        args.out,
        train=args.train,
        val=args.val,
        test=args.test,
        height=height,
        width=width,
        seed=args.seed,
        workers=args.workers,
        overwrite=args.overwrite,
    )
    print(f"wrote SynthCity {height}x{width} (train {args.train}, val {args.val}, test {args.test}) to {out}")
    return 0


def _default_root(root: Path | None) -> Path:
    from basnet_lib.data.build import dataset_root
    from basnet_lib.data.config import DataConfig

    return root if root is not None else dataset_root(DataConfig())


def _synthcity_samples(args: argparse.Namespace) -> int:
    from basnet_lib.plots.dataset import draw_samples_figure

    out = draw_samples_figure(_default_root(args.root), args.out, split=args.split, count=args.count)
    print(f"wrote {out}")
    return 0


def _data_verify(args: argparse.Namespace) -> int:
    from basnet_lib.data.verify import verify_dataset

    counts = verify_dataset(args.root, splits=tuple(args.splits))
    print(f"{args.root}: all files good; samples per split: {counts}")
    return 0


def _data_stats(args: argparse.Namespace) -> int:
    import matplotlib.pyplot as plt

    from basnet_lib.data.stats import class_frequencies
    from basnet_lib.plots.dataset import plot_class_frequencies

    root = _default_root(args.root)
    frequencies = class_frequencies(root, splits=tuple(args.splits))
    args.out.mkdir(parents=True, exist_ok=True)
    frequencies.to_csv(args.out / "class_frequencies.csv", index=False)
    figure = plot_class_frequencies(frequencies, title=f"Class pixel frequencies: {root.name}")
    figure.savefig(args.out / "class_frequencies.png", dpi=100)
    plt.close(figure)
    print(frequencies.pivot(index="class", columns="split", values="fraction").round(4).to_string())
    print(f"wrote {args.out / 'class_frequencies.csv'} and {args.out / 'class_frequencies.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
