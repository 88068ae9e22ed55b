"""``mnist-demo calibrate``: choose the verdict's thresholds on a validation set, store them."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from mnist_demo.cli.common import command_line
from mnist_demo.honesty.calibrate import calibrate
from mnist_demo.honesty.report import held_out_report
from mnist_demo.recognition.checkpoint import load_checkpoint, update_sidecar
from mnist_demo.recognition.inference import Predictor


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
    checkpoint = load_checkpoint(args.weights)
    train_config = checkpoint.metadata.get("train_config") or {}
    verdict = calibrate(checkpoint.model, checkpoint.dataset, args.count, train_config)
    verdict["command"] = command_line(args)
    update_sidecar(args.weights, verdict=verdict)
    print(json.dumps(verdict, indent=2))
    if args.report:
        print(json.dumps(held_out_report(Predictor.from_checkpoint(args.weights)), indent=2))
    return 0
