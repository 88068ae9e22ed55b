"""``mnist-demo calibrate``: choose the verdict's thresholds on a validation set, store them."""

from __future__ import annotations

import argparse
from pathlib import Path

from mnist_demo.calibrate import calibrate_command
from mnist_demo.cli.common import command_line


def add_parser(commands) -> None:
    parser = commands.add_parser(
        "calibrate", help="choose the verdict's thresholds on a validation set, store them"
    )
    parser.add_argument("--weights", type=Path, required=True, help="weights; sidecar updated")
    parser.add_argument("--count", type=int, default=2000, help="validation samples per set")
    parser.add_argument(
        "--report", action="store_true", help="then measure it on the held-out sets"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    return calibrate_command(args, command_line(args))
