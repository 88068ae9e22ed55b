"""What ``mnist-demo predict IMAGE...`` does: classify files and print one result per file."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from mnist_demo.config import DATASETS
from mnist_demo.recognition.inference import FileResult, Predictor, predict_files, shipped_predictor


def add_parser(commands) -> None:
    parser = commands.add_parser("predict", help="classify image files")
    parser.add_argument("images", nargs="+", type=Path, help="image files (PNG, JPEG, ...)")
    parser.add_argument("--weights", type=Path, help="weights file (default: the shipped one)")
    parser.add_argument("--dataset", default="mnist", choices=sorted(DATASETS), help="dataset")
    parser.add_argument("--json", action="store_true", help="print one JSON object per line")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Print each file's top class and probabilities; exit code 2 if any file was unusable.

    With ``--weights`` the file's own dataset decides the class names, not ``--dataset``.
    """
    if args.weights:
        predictor = Predictor.from_checkpoint(args.weights)
    else:
        predictor = shipped_predictor(args.dataset)
    failed = False
    for result in predict_files(args.images, predictor):
        if result.error:
            failed = True
            # One line per bad file, and the other files still get their answer.
            print(f"mnist-demo predict: error: {result.error}", file=sys.stderr)
        if args.json:
            print(json.dumps(result_dict(result)))
        elif not result.error:
            print(format_result(result))
    return 2 if failed else 0


def result_dict(result: FileResult) -> dict:
    if result.prediction is None:
        return {"path": str(result.path), "error": result.error}
    prediction = result.prediction
    return {
        "path": str(result.path),
        "top": prediction.top,
        "verdict": prediction.verdict,
        "probabilities": prediction.probabilities,
        "blank": prediction.blank,
        "reason": prediction.reason,
    }


def format_result(result: FileResult) -> str:
    """``digit.png: 7 (99.1%, digit)`` and the probabilities, or ``blank.png: no digit (why)``."""
    prediction = result.prediction
    if prediction is None or prediction.blank:
        reason = prediction.reason if prediction else result.error
        return f"{result.path}: no digit ({reason})"
    top = prediction.top
    probabilities = "  ".join(f"{name}: {p:.4f}" for name, p in prediction.probabilities.items())
    confidence = prediction.probabilities[top]
    return f"{result.path}: {top} ({confidence:.1%}, {prediction.verdict})\n  {probabilities}"
