"""Downloads: a class pool as torchvision's ImageFolder layout plus a CSV, and a run's files.

The pool zip holds ``<label>/<id>.png`` (28x28, white ink on black, as MNIST) and
``drawings.csv``. Load it with ``torchvision.datasets.ImageFolder``, whose class names are the
folder names, so a digit's label is ``int(dataset.classes[target])`` (a pool missing a digit has
no folder for it), or train on it with ``mnist-demo train --extra-data DIR``.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from dataclasses import asdict
from pathlib import Path

import numpy as np
from PIL import Image
from safetensors.torch import save_file

from mnist_demo.classroom.card import model_card, reproduce_command, save_curves
from mnist_demo.classroom.records import NoSuchRun
from mnist_demo.classroom.store import ClassStore
from mnist_demo.recognition.checkpoint import save_checkpoint
from mnist_demo.recognition.model import ModelConfig, SmallCNN

CSV_COLUMNS = ("id", "label", "predicted", "confidence", "nickname", "created")
# A spreadsheet runs a cell that starts with one of these as a formula (OWASP "CSV injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def png_28(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.round(pixels * 255).astype(np.uint8), "L").save(buffer, "PNG")
    return buffer.getvalue()


def safe_cell(text: str) -> str:
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def pool_zip(store: ClassStore, code: str) -> bytes:
    """The class's drawings as a zip: ``<label>/<id>.png`` for each, and ``drawings.csv``."""
    drawings = store.drawings(code)
    table = io.StringIO()
    writer = csv.writer(table)
    writer.writerow(CSV_COLUMNS)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for drawing in drawings:
            archive.writestr(f"{drawing.label}/{drawing.id}.png", png_28(drawing.pixels))
            writer.writerow([
                drawing.id, drawing.label,
                "" if drawing.predicted is None else drawing.predicted,
                "" if drawing.confidence is None else f"{drawing.confidence:.4f}",
                safe_cell(drawing.nickname), drawing.created.isoformat(timespec="seconds"),
            ])  # fmt: skip
        archive.writestr("drawings.csv", table.getvalue())
    return buffer.getvalue()


def run_model(store: ClassStore, run_id: str) -> SmallCNN:
    """The run's SmallCNN, its shape from its settings, its weights from the store."""
    run = store.run(run_id)
    if run is None:
        raise NoSuchRun()
    model = SmallCNN(ModelConfig(batch_norm=bool(run.settings.get("batch_norm", False))))
    model.load_state_dict(store.run_state_dict(run_id))
    return model.eval()


def run_files(store: ClassStore, run_id: str, folder: Path) -> list[Path]:
    """Write ``<id>.pth`` (+ its ``.json`` sidecar), ``<id>.safetensors``, ``<id>.md`` (the
    model card) and, where the run has curves, ``<id>.png`` into ``folder``; their paths."""
    run = store.run(run_id)
    if run is None:
        raise NoSuchRun()
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model = run_model(store, run_id)
    settings = {k: v for k, v in run.settings.items() if k != "metrics"}
    dataset = str(settings.get("dataset", "mnist"))
    metrics = {"test_accuracy": run.test_accuracy, "pool_accuracy": run.pool_accuracy}
    command = reproduce_command(settings, f"{run.id}.pth")
    pth = save_checkpoint(folder / f"{run.id}.pth", model, dataset, metrics=metrics,
                          command=command, train_config=settings)  # fmt: skip
    tensors = {name: value.contiguous() for name, value in model.state_dict().items()}
    metadata = {
        "format": "mnist-demo/1",
        "model": json.dumps(asdict(model.config)),
        "dataset": dataset,
        "kind": run.kind,
        "settings": json.dumps(settings, default=str),
        "metrics": json.dumps(metrics),
        "command": command,
        "created": run.created.isoformat(timespec="seconds"),
    }
    tensors_path = folder / f"{run.id}.safetensors"
    save_file(tensors, str(tensors_path), metadata=metadata)
    curves = save_curves(run, folder / f"{run.id}.png")
    card = folder / f"{run.id}.md"
    card.write_text(model_card(run, store.title(run.code), curves))
    written = [pth, pth.with_suffix(".json"), tensors_path, card]
    return [*written, curves] if curves else written
