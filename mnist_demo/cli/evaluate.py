"""``mnist-demo evaluate``: test accuracy, per class, and the confusion matrix."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from mnist_demo.cli.common import add_data_options, add_device_option
from mnist_demo.config import DATASETS, dataset_spec, shipped_weights_path
from mnist_demo.data import load_split
from mnist_demo.device import resolve_device
from mnist_demo.recognition.checkpoint import load_checkpoint
from mnist_demo.training.evaluate import evaluate


def add_parser(commands) -> None:
    parser = commands.add_parser("evaluate", help="test accuracy, per class, confusion matrix")
    parser.add_argument("--weights", type=Path, help="weights file (default: the shipped one)")
    parser.add_argument("--dataset", choices=sorted(DATASETS), help="default: the weights' own")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    add_device_option(parser)
    add_data_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    weights = args.weights or shipped_weights_path(args.dataset or "mnist")
    checkpoint = load_checkpoint(weights)
    dataset = dataset_spec(args.dataset).name if args.dataset else checkpoint.dataset
    if dataset != checkpoint.dataset:
        raise ValueError(f"{weights} was trained on {checkpoint.dataset}, not {dataset}")
    split = load_split(dataset, train=False, root=args.data_dir, download=not args.no_download)
    model = checkpoint.model.to(resolve_device(args.device))
    result = evaluate(model, split).as_dict(checkpoint.class_names)
    result["weights"] = str(weights)
    result["dataset"] = dataset
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"{weights} on the {dataset} test set ({result['n']} images)")
    print(f"accuracy {result['accuracy']:.2%}  loss {result['loss']:.4f}")
    for name, accuracy in result["per_class_accuracy"].items():
        print(f"  {name:>12}: {accuracy:.2%}")
    print("confusion matrix (rows: true class, columns: predicted):")
    for row in result["confusion_matrix"]:
        print("  " + " ".join(f"{count:5d}" for count in row))
    return 0
