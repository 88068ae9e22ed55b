"""What ``mnist-demo predict IMAGE...`` does: classify files and print one result per file."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from mnist_demo.config import DATASETS
from mnist_demo.numbers.read import NumberReading, read_number
from mnist_demo.recognition.inference import FileResult, Predictor, predict_files, shipped_predictor


def add_parser(commands) -> None:
    parser = commands.add_parser("predict", help="classify image files")
    parser.add_argument("images", nargs="+", type=Path, help="image files (PNG, JPEG, ...)")
    parser.add_argument("--weights", type=Path, help="weights file (default: the shipped one)")
    parser.add_argument("--dataset", default="mnist", choices=sorted(DATASETS), help="dataset")
    parser.add_argument("--json", action="store_true", help="print one JSON object per line")
    parser.add_argument(
        "--number",
        action="store_true",
        help="read each image as a whole number, digit by digit (an MNIST model only)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Print each file's top class and probabilities; exit code 2 if any file was unusable.

    With ``--weights`` the file's own dataset decides the class names, not ``--dataset``.
    """
    if args.weights:
        predictor = Predictor.from_checkpoint(args.weights)
    else:
        predictor = shipped_predictor(args.dataset)
    if args.number:
        return run_numbers(args.images, predictor, args.json)
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


def run_numbers(paths: list[Path], predictor: Predictor, as_json: bool) -> int:
    """Read each file as a number; a bad file gets one error line, the others their answer."""
    if predictor.spec.name != "mnist":
        raise ValueError(
            f"--number reads digits: it needs an MNIST model, not {predictor.spec.name}"
        )
    failed = False
    for path in paths:
        try:
            reading = read_number(path, predictor)
        except ValueError as error:
            failed = True
            print(f"mnist-demo predict: error: {error}", file=sys.stderr)
            if as_json:
                print(json.dumps({"path": str(path), "error": str(error)}))
            continue
        if as_json:
            print(json.dumps({"path": str(path), **reading.to_dict()}))
        else:
            print(format_number(path, reading))
    return 2 if failed else 0


def format_number(path: Path, reading: NumberReading) -> str:
    """``number.png: 305 (number)`` and a line per digit, or ``blank.png: no number (why)``."""
    if reading.blank:
        return f"{path}: no number ({reading.reason})"
    said = reading.verdict + (f"; {reading.reason}" if reading.reason else "")
    lines = [f"{path}: {reading.number or '-'} ({said})"]
    for digit in reading.digits:
        confidence = digit.probabilities[digit.top] if digit.top else 0.0
        box = digit.box
        lines.append(
            f"  {digit.top} ({confidence:.1%}, {digit.verdict}) at rows {box.top}-{box.bottom}, "
            f"columns {box.left}-{box.right}"
        )
    return "\n".join(lines)
