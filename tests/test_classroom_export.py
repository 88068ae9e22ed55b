"""Exports: the class pool loads back through torchvision's ImageFolder with the right labels,
and a run's files load into SmallCNN (.pth), through safetensors, and say how to remake it."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from dataclasses import asdict

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors import safe_open
from safetensors.torch import load_file
from torchvision.datasets import ImageFolder

from mnist_demo.classroom.export import pool_zip, run_files
from mnist_demo.classroom.store import ClassStore, NoSuchClass, NoSuchRun
from mnist_demo.cli import build_parser
from mnist_demo.cli.train import train_config_from_args
from mnist_demo.data import denormalize
from mnist_demo.recognition.checkpoint import load_checkpoint
from mnist_demo.recognition.model import SmallCNN
from mnist_demo.training.options import PRESETS, TrainConfig


@pytest.fixture
def store(tmp_path):
    store = ClassStore(f"sqlite:///{tmp_path / 'classes.db'}")
    yield store
    store.close()


def tiny_png() -> bytes:
    buffer = io.BytesIO()
    Image.new("L", (20, 20), 255).save(buffer, "PNG")
    return buffer.getvalue()


def test_the_pool_zip_loads_back_as_an_image_folder_with_the_right_labels(
    store, mnist_test, tmp_path
):
    code = store.create_class("export").code
    other = store.create_class().code
    submitted = {}
    # Twelve real test digits, labels 0-9 but no 4 (a pool missing a digit has no folder).
    indices = [i for i in range(40) if int(mnist_test.labels[i]) != 4][:12]
    for n, index in enumerate(indices):
        pixels = denormalize(mnist_test.images[index, 0], mnist_test.spec).numpy()
        label = int(mnist_test.labels[index])
        nickname = "=HYPERLINK(1)" if n == 0 else f"s{n % 3}"
        drawing_id = store.submit_drawing(
            code, pixels=pixels, thumbnail_png=tiny_png(), label=label, predicted=label,
            confidence=0.9, nickname=nickname, session=str(n),
        )  # fmt: skip
        submitted[drawing_id] = (label, pixels)
    store.submit_drawing(other, pixels=np.zeros((28, 28)), thumbnail_png=tiny_png(), label=4,
                         predicted=None, confidence=None)  # fmt: skip
    with zipfile.ZipFile(io.BytesIO(pool_zip(store, code))) as archive:
        archive.extractall(tmp_path / "pool")
        rows = list(csv.DictReader(io.StringIO(archive.read("drawings.csv").decode())))
    dataset = ImageFolder(str(tmp_path / "pool"), loader=lambda path: Image.open(path).copy())
    assert len(dataset) == len(submitted) and "4" not in dataset.classes
    for path, target in dataset.samples:
        drawing_id = int(path.rsplit("/", 1)[1].removesuffix(".png"))
        label, pixels = submitted[drawing_id]
        assert int(dataset.classes[target]) == label
        image = np.asarray(Image.open(path))
        assert image.shape == (28, 28) and image.dtype == np.uint8
        assert np.array_equal(image, np.round(pixels * 255).astype(np.uint8))
    assert [int(row["id"]) for row in rows] == sorted(submitted)
    assert all(int(row["label"]) == submitted[int(row["id"])][0] for row in rows)
    assert rows[0]["nickname"] == "'=HYPERLINK(1)"  # Not run as a formula by a spreadsheet.
    with pytest.raises(NoSuchClass):
        pool_zip(store, "NoSuchClassCode0")


def test_a_runs_files_load_and_its_card_gives_the_command_that_remakes_its_settings(
    store, tmp_path
):
    code = store.create_class("Year 7").code
    config = TrainConfig(**PRESETS["quick"].values, augment=True, seed=3)
    settings = {**asdict(config), "metrics": {"test_accuracy": 0.973}}
    curves = {
        "loss": [{"epoch": 0.5, "value": 0.6, "series": "train"},
                 {"epoch": 1.0, "value": 0.1, "series": "test"}],
        "accuracy": [{"epoch": 0.5, "value": 0.8, "series": "train"},
                     {"epoch": 1.0, "value": 0.973, "series": "test"}],
    }  # fmt: skip
    model = SmallCNN()
    run = store.add_run(
        code, nickname="ann", session="s", kind="retrain", settings=settings, curves=curves,
        test_accuracy=0.973, state_dict=model.state_dict(),
    )  # fmt: skip
    store.set_pool_accuracy(run.id, 0.8125)
    paths = run_files(store, run.id, tmp_path / "run")
    names = sorted(path.name for path in paths)
    assert names == sorted(f"{run.id}{suffix}" for suffix in (".json", ".md", ".png", ".pth",
                                                             ".safetensors"))  # fmt: skip
    expected = model.state_dict()
    loaded = SmallCNN()
    loaded.load_state_dict(torch.load(tmp_path / "run" / f"{run.id}.pth", weights_only=True))
    assert all(torch.equal(loaded.state_dict()[k], v) for k, v in expected.items())
    assert load_checkpoint(tmp_path / "run" / f"{run.id}.pth").dataset == "mnist"
    tensors_path = tmp_path / "run" / f"{run.id}.safetensors"
    tensors = load_file(str(tensors_path))
    assert all(torch.equal(tensors[k], v) for k, v in expected.items())
    with safe_open(str(tensors_path), "pt") as opened:
        metadata = opened.metadata()
    assert json.loads(metadata["settings"])["subset"] == 15000
    assert json.loads(metadata["metrics"]) == {"test_accuracy": 0.973, "pool_accuracy": 0.8125}
    card = (tmp_path / "run" / f"{run.id}.md").read_text()
    assert "97.30%" in card and "81.25%" in card and "15,000 images" in card
    assert f"![Loss and accuracy curves]({run.id}.png)" in card
    command = next(line for line in card.splitlines() if line.startswith("mnist-demo train"))
    args = build_parser().parse_args(command.split()[1:])
    assert asdict(train_config_from_args(args)) == asdict(config)
    with pytest.raises(NoSuchRun):
        run_files(store, "NoSuchRunId0", tmp_path / "none")
