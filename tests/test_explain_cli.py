"""``mnist-demo explain``: one drawing's teaching views written as files, run as a user would."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mnist_demo.config import shipped_weights_path
from mnist_demo.recognition.checkpoint import load_checkpoint
from mnist_demo.recognition.inference import Predictor
from mnist_demo.teaching.explain import explain_to_files

from .conftest import REPO_ROOT
from .helpers import digit_pixels

PICTURES = [
    "input.png",
    "filters.png",
    "conv1.png",
    "pool1.png",
    "conv2.png",
    "pool2.png",
    "saliency.png",
    "probabilities.png",
]
FILES = [*PICTURES, "layers.txt"]


def mnist_demo(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mnist_demo", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO_ROOT,
    )


def drawn_digit(split, index: int, path: Path) -> Path:
    """An MNIST test digit drawn black on white on a 280 px canvas, saved as a PNG."""
    digit = Image.fromarray(digit_pixels(split, index)).resize((200, 200), Image.BICUBIC)
    canvas = Image.new("L", (280, 280), 255)
    canvas.paste(Image.fromarray(255 - np.asarray(digit)), (50, 30))
    canvas.save(path)
    return path


@pytest.mark.slow
def test_explain_writes_every_view_of_a_drawn_digit(mnist_test, tmp_path):
    image = drawn_digit(mnist_test, 0, tmp_path / "seven.png")  # The first test digit is a 7.
    out = tmp_path / "views"
    result = mnist_demo("explain", str(image), "--out", str(out))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == len(FILES)
    assert [Path(line.split(":")[0]).name for line in lines] == FILES
    sizes = {}
    for name in PICTURES:
        with Image.open(out / name) as picture:
            picture.verify()  # A complete, valid PNG.
        with Image.open(out / name) as picture:
            assert picture.format == "PNG"
            sizes[name] = picture.size
    assert sizes["input.png"] == (224, 224)
    assert sizes["saliency.png"] == (224, 224)
    assert all(min(size) >= 90 and max(size) <= 2000 for size in sizes.values()), sizes
    table = (out / "layers.txt").read_text()
    assert "206,922" in table and "16 x 28 x 28" in table and "1568" in table


@pytest.mark.parametrize("kind", ["blank", "not an image", "bad weights"])
def test_explain_reports_unusable_input_in_one_line(kind, mnist_test, tmp_path):
    image = tmp_path / "drawing.png"
    extra = []
    if kind == "blank":
        Image.new("RGB", (280, 280), "white").save(image)
    elif kind == "not an image":
        image.write_text("this is a shopping list, not a drawing\n")
    else:
        drawn_digit(mnist_test, 0, image)
        weights = tmp_path / "broken.pth"
        weights.write_bytes(b"not a state_dict")
        extra = ["--weights", str(weights)]
    out = tmp_path / "views"
    result = mnist_demo("explain", str(image), "--out", str(out), *extra)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mnist-demo explain: error: "), result.stderr
    assert not out.exists() or not any(out.iterdir())


def test_explain_to_files_takes_a_checkpoint_a_predictor_or_a_model(mnist_test, tmp_path):
    checkpoint = load_checkpoint(shipped_weights_path("mnist"))
    image = digit_pixels(mnist_test, 0)
    sources = {
        "checkpoint": checkpoint,
        "predictor": Predictor(checkpoint.model),
        "model": checkpoint.model,
    }
    for name, source in sources.items():
        paths = explain_to_files(image, source, tmp_path / name, target=3)
        assert [path.name for path in paths] == FILES
        assert all(path.stat().st_size > 0 for path in paths)
    first = np.asarray(Image.open(tmp_path / "checkpoint" / "saliency.png"))
    np.testing.assert_array_equal(
        first, np.asarray(Image.open(tmp_path / "model" / "saliency.png"))
    )
    with pytest.raises(ValueError, match="target"):
        explain_to_files(image, checkpoint, tmp_path / "bad", target=10)
