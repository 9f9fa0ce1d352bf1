"""``basnet`` command line. Subcommands: ``info``, ``params`` (later issues add more)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from basnet_lib.model import BACKBONES


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="basnet",
        description="BASNet (Qiang et al.) reproduction: boundary-assistant symmetrical network "
        "for semantic segmentation.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    info = commands.add_parser("info", help="versions, devices and threads of this installation")
    info.add_argument("--json", action="store_true", help="print JSON instead of aligned text")
    info.set_defaults(handler=_info)

    params = commands.add_parser("params", help="parameter count per variant and component")
    params.add_argument("--backbones", nargs="+", choices=BACKBONES, default=["resnet50", "resnet101"])
    params.add_argument("--width", type=int, default=256, help="decoder width C (SPEC A3)")
    params.add_argument("--out", type=Path, help="folder to write params.csv and params.md into")
    params.set_defaults(handler=_params)

    args = parser.parse_args(argv)
    return args.handler(args)


def _info(args: argparse.Namespace) -> int:
    from basnet_lib.summary import system_info

    info = system_info()
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        for key, value in info.items():
            print(f"{key:>22}: {value}")
    return 0


def _params(args: argparse.Namespace) -> int:
    from basnet_lib.summary import parameter_table

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


if __name__ == "__main__":
    sys.exit(main())
