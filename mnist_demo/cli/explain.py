"""``mnist-demo explain IMAGE --out DIR``: the teaching views of one drawing, saved as files."""

from __future__ import annotations

import argparse
from pathlib import Path

from mnist_demo.cli.common import add_device_option
from mnist_demo.config import DATASETS
from mnist_demo.device import resolve_device
from mnist_demo.recognition.checkpoint import Checkpoint, load_checkpoint
from mnist_demo.recognition.inference import load_shipped_checkpoint
from mnist_demo.teaching.explain import DESCRIPTIONS, explain_to_files


def add_parser(commands) -> None:
    parser = commands.add_parser("explain", help="save the teaching views of one drawing as files")
    parser.add_argument("image", type=Path, help="image file of a drawing (PNG, JPEG, ...)")
    parser.add_argument("--out", type=Path, required=True, help="folder to write the files into")
    parser.add_argument("--weights", type=Path, help="weights file (default: the shipped one)")
    parser.add_argument("--dataset", default="mnist", choices=sorted(DATASETS), help="dataset")
    parser.add_argument("--target", type=int, help="class index for the saliency (default: top)")
    add_device_option(parser)
    parser.set_defaults(run=run)


def load_source(args: argparse.Namespace) -> Checkpoint:
    """The checkpoint named by --weights, else the shipped weights for --dataset."""
    return load_checkpoint(args.weights) if args.weights else load_shipped_checkpoint(args.dataset)


def run(args: argparse.Namespace) -> int:
    """Write the views and print one line per file (errors reach cli.main as ValueError)."""
    checkpoint = load_source(args)
    checkpoint.model.to(resolve_device(args.device))
    paths = explain_to_files(args.image, checkpoint, args.out, args.target)
    evidence = "the predicted class" if args.target is None else f"class {args.target}"
    for path in paths:
        description = DESCRIPTIONS.get(path.name, "")
        if path.name == "saliency.png":
            description += f" for {evidence}"
        print(f"{path}: {description}")
    return 0
