"""The ``mnist-demo`` command line: train, evaluate, predict, explain and benchmark."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

from mnist_demo.config import DATA_ENV, DATASETS
from mnist_demo.device import DEVICE_CHOICES
from mnist_demo.recipes import RECIPES


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


def add_train_parser(commands) -> None:
    parser = commands.add_parser("train", help="train a SmallCNN and save its weights")
    parser.add_argument("--dataset", default="mnist", choices=sorted(DATASETS), help="dataset")
    parser.add_argument(
        "--preset",
        choices=sorted(RECIPES),
        help="a named recipe for epochs, batch size, learning rate and schedule (flags win); "
        + "; ".join(f"{name}: {recipe}" for name, recipe in RECIPES.items()),
    )
    # The next four default to None so that --preset can fill them; TrainConfig holds the
    # lesson's values for whatever neither names.
    parser.add_argument("--epochs", type=int, help="passes over the training set (lesson: 5)")
    parser.add_argument("--batch-size", type=int, help="images per optimiser step (lesson: 128)")
    parser.add_argument("--learning-rate", type=float, help="(peak) learning rate (lesson: 1e-3)")
    parser.add_argument("--optimizer", default="adam", choices=["adam", "sgd"], help="optimiser")
    parser.add_argument("--momentum", type=float, default=0.9, help="SGD momentum")
    parser.add_argument("--batch-norm", action="store_true", help="BatchNorm after each conv")
    parser.add_argument(
        "--schedule", choices=["none", "steplr", "onecycle"], help="LR schedule (lesson: none)"
    )
    parser.add_argument("--step-size", type=int, default=2, help="StepLR: epochs between decays")
    parser.add_argument("--gamma", type=float, default=0.5, help="StepLR: decay factor")
    parser.add_argument("--subset", type=int, help="train on the first N training images")
    parser.add_argument("--augment", action="store_true", help="random rotate/scale/shift/stroke")
    parser.add_argument(
        "--outlier-exposure",
        action="store_true",
        help="teach it to say 'not a digit': train on synthetic non-digits pushed to uniform",
    )
    parser.add_argument(
        "--coarse-scans", action="store_true", help="also train on digits scanned at 8-16 px"
    )
    parser.add_argument("--init-weights", type=Path, help="start from these weights (fine-tune)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (same seed, same run)")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    parser.add_argument(
        "--precision",
        default="auto",
        choices=["auto", "bf16", "fp32"],
        help="forward-pass precision; auto uses bf16 where the CPU has it natively",
    )
    parser.add_argument("--out", type=Path, help="save the weights here (+ a .json sidecar)")
    parser.add_argument("--plot", type=Path, help="save the loss/accuracy curves as a PNG")
    parser.add_argument("--dry-run", action="store_true", help="a few batches only, to smoke-test")
    add_device_option(parser)
    parser.add_argument(
        "--no-cuda-graph", action="store_true", help="on CUDA, run every step eagerly"
    )
    add_data_options(parser)
    parser.set_defaults(handler=run_train)


def add_evaluate_parser(commands) -> None:
    parser = commands.add_parser("evaluate", help="test accuracy, per class, confusion matrix")
    parser.add_argument("--weights", type=Path, help="weights file (default: the shipped one)")
    parser.add_argument("--dataset", choices=sorted(DATASETS), help="default: the weights' own")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    add_device_option(parser)
    add_data_options(parser)
    parser.set_defaults(handler=run_evaluate)


def add_predict_parser(commands) -> None:
    parser = commands.add_parser("predict", help="classify image files")
    parser.add_argument("images", nargs="+", type=Path, help="image files (PNG, JPEG, ...)")
    parser.add_argument("--weights", type=Path, help="weights file (default: the shipped one)")
    parser.add_argument("--dataset", default="mnist", choices=sorted(DATASETS), help="dataset")
    parser.add_argument("--json", action="store_true", help="print one JSON object per line")
    parser.set_defaults(handler=run_predict)


def add_explain_parser(commands) -> None:
    parser = commands.add_parser("explain", help="save the teaching views of one drawing as files")
    parser.add_argument("image", type=Path, help="image file of a drawing (PNG, JPEG, ...)")
    parser.add_argument("--out", type=Path, required=True, help="folder to write the files into")
    parser.add_argument("--weights", type=Path, help="weights file (default: the shipped one)")
    parser.add_argument("--dataset", default="mnist", choices=sorted(DATASETS), help="dataset")
    parser.add_argument("--target", type=int, help="class index for the saliency (default: top)")
    add_device_option(parser)
    parser.set_defaults(handler=run_explain)


def add_bench_parser(commands) -> None:
    parser = commands.add_parser("bench", help="benchmarks measured side by side in one run")
    targets = parser.add_subparsers(dest="target", required=True)
    train = targets.add_parser(
        "train", help="our engine vs the lesson's DataLoader; the lesson's run and --preset fast"
    )
    train.add_argument("--threads", type=int, help="torch CPU threads for both (default: all)")
    train.add_argument("--json", action="store_true", help="print one JSON object")
    train.add_argument(
        "--no-recipes",
        action="store_true",
        help="only the one-epoch comparison, not the whole lesson and fast runs to 99%%",
    )
    add_device_option(train)
    add_data_options(train)
    train.set_defaults(handler=run_bench_train)
    predict = targets.add_parser("predict", help="predict() latency on 280px and 800px canvases")
    predict.add_argument("--repeats", type=int, default=300, help="timed calls per size")
    predict.add_argument(
        "--while-training",
        action="store_true",
        help="time the same calls again while a training run uses all cores but one (needs MNIST)",
    )
    predict.add_argument("--json", action="store_true", help="print one JSON object")
    add_data_options(predict)
    predict.set_defaults(handler=run_bench_predict)
    api = targets.add_parser("api", help="/predict through gradio_client vs a trivial function")
    api.add_argument("--repeats", type=int, default=100, help="timed calls per endpoint")
    api.add_argument("--json", action="store_true", help="print one JSON object")
    api.set_defaults(handler=run_bench_api)
    browser = targets.add_parser(
        "browser", help="Chromium drawing: the in-page pad vs the old Sketchpad, side by side"
    )
    browser.add_argument("--repeats", type=int, default=2, help="times each of the ten digits")
    browser.add_argument("--chromium", help="the Chromium executable (default: chromium)")
    browser.add_argument("--json", action="store_true", help="print one JSON object")
    browser.set_defaults(handler=run_bench_browser)


def add_calibrate_parser(commands) -> None:
    parser = commands.add_parser(
        "calibrate", help="choose the verdict's thresholds on a validation set, store them"
    )
    parser.add_argument("--weights", type=Path, required=True, help="weights; sidecar updated")
    parser.add_argument("--count", type=int, default=2000, help="validation samples per set")
    parser.add_argument(
        "--report", action="store_true", help="then measure it on the held-out sets (MNIST)"
    )
    parser.set_defaults(handler=run_calibrate)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mnist-demo", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    add_train_parser(commands)
    add_evaluate_parser(commands)
    add_predict_parser(commands)
    add_explain_parser(commands)
    add_bench_parser(commands)
    add_calibrate_parser(commands)
    return parser


def run_train(args: argparse.Namespace) -> int:
    from mnist_demo.commands import train_command

    return train_command(args, command_line())


def run_evaluate(args: argparse.Namespace) -> int:
    from mnist_demo.commands import evaluate_command

    return evaluate_command(args)


def run_predict(args: argparse.Namespace) -> int:
    from mnist_demo.predict_cli import predict_command

    return predict_command(args)


def run_calibrate(args: argparse.Namespace) -> int:
    from mnist_demo.calibrate import calibrate_command

    return calibrate_command(args, command_line())


def run_explain(args: argparse.Namespace) -> int:
    from mnist_demo.explain import explain_command

    return explain_command(args)


def run_bench_train(args: argparse.Namespace) -> int:
    from mnist_demo.bench_train import bench_train

    result = bench_train(
        args.data_dir, threads=args.threads, device=args.device, recipes=not args.no_recipes
    )
    print(json.dumps(result) if args.json else format_mapping(result))
    return 0


def run_bench_predict(args: argparse.Namespace) -> int:
    from mnist_demo.bench import bench_predict

    result = bench_predict(
        repeats=args.repeats, while_training=args.while_training, root=args.data_dir
    )
    print(json.dumps(result) if args.json else format_mapping(result))
    return 0


def run_bench_api(args: argparse.Namespace) -> int:
    from mnist_demo.ui.bench_api import bench_api

    result = bench_api(repeats=args.repeats)
    print(json.dumps(result) if args.json else format_mapping(result))
    return 0


def run_bench_browser(args: argparse.Namespace) -> int:
    from mnist_demo.ui.bench_browser import bench_browser

    result = bench_browser(repeats=args.repeats, chromium=args.chromium)
    print(json.dumps(result) if args.json else format_mapping(result))
    return 0


def format_mapping(values: dict) -> str:
    return "\n".join(f"{key:>26}: {value}" for key, value in values.items())


def command_line() -> str:
    return shlex.join(["mnist-demo", *sys.argv[1:]])


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # Errors a user can cause (missing data, bad weights, a bad image) get one line, no traceback.
    from mnist_demo.checkpoint import CheckpointError
    from mnist_demo.data import DatasetMissingError
    from mnist_demo.train import TrainingDiverged

    try:
        if getattr(args, "device", None):
            from mnist_demo.device import resolve_device

            resolve_device(args.device)  # A missing GPU: one line, before any work starts.
        return args.handler(args)
    except (DatasetMissingError, CheckpointError, TrainingDiverged, ValueError, OSError) as error:
        print(f"mnist-demo {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"mnist-demo {args.command}: interrupted", file=sys.stderr)
        return 130
