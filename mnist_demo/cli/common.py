"""What several commands share: the data and device options, and how results are printed."""

from __future__ import annotations

import argparse
import json
import shlex

from mnist_demo.config import DATA_ENV
from mnist_demo.device import DEVICE_CHOICES


def add_data_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir",
        help=f"folder holding MNIST/ and FashionMNIST/ (default: ${DATA_ENV}, else ./data)",
    )
    parser.add_argument(
        "--no-download", action="store_true", help="never try to download a missing dataset"
    )


def add_device_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--device",
        default="auto",
        choices=DEVICE_CHOICES,
        help="where to compute; auto: CUDA, then Apple's MPS, then the CPU (as the lesson does)",
    )


def print_report(result: dict, as_json: bool) -> int:
    """One JSON object, or one aligned ``name: value`` line per entry."""
    if as_json:
        print(json.dumps(result))
    else:
        print("\n".join(f"{key:>26}: {value}" for key, value in result.items()))
    return 0


def command_line(args: argparse.Namespace) -> str:
    """The command as given to ``main``, for a weights file's sidecar (how it was made): the
    words ``main`` parsed, which are ``sys.argv`` only when it runs as the program."""
    return shlex.join(["mnist-demo", *args.argv])
