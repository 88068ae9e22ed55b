"""The ``mnist-demo`` command line: train, evaluate, predict, explain, bench, calibrate, class.

One module per command, each with ``add_parser(commands)`` and ``run(args)``. Only the commands
that need Gradio (``bench api``, ``bench browser``) import it, inside ``run``, so every other
command starts without it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from mnist_demo.cli import bench, calibrate, classroom, evaluate, explain, predict, train
from mnist_demo.data import DatasetMissingError
from mnist_demo.device import resolve_device
from mnist_demo.recognition.checkpoint import CheckpointError
from mnist_demo.training.loop import TrainingDiverged

COMMANDS = (train, evaluate, predict, explain, bench, calibrate, classroom)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mnist-demo", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(words)
    args.argv = words  # What the sidecars record as the command.
    # Errors a user can cause (missing data, bad weights, a bad image) get one line, no traceback.
    try:
        if getattr(args, "device", None):
            resolve_device(args.device)  # A missing GPU: one line, before any work starts.
        return args.run(args)
    except (DatasetMissingError, CheckpointError, TrainingDiverged, ValueError, OSError) as error:
        print(f"mnist-demo {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"mnist-demo {args.command}: interrupted", file=sys.stderr)
        return 130
