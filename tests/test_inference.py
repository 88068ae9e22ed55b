import json
import subprocess
import sys
import threading

import numpy as np
import pytest
import torch
from PIL import Image

from mnist_demo.cli import main
from mnist_demo.config import FASHION_MNIST, MNIST, shipped_weights_path
from mnist_demo.recognition import inference
from mnist_demo.recognition.checkpoint import load_checkpoint, update_sidecar
from mnist_demo.recognition.inference import Prediction, Predictor, predict_files, shipped_predictor
from mnist_demo.recognition.model import ModelConfig, SmallCNN
from mnist_demo.recognition.verdict import Thresholds
from mnist_demo.samples.drawings import CONVENTIONS, make_drawing
from mnist_demo.samples.templates import template_drawing
from mnist_demo.settings import WEIGHTS

CLEARED = {"background": None, "layers": [], "composite": None}


@pytest.fixture(scope="module")
def predictor() -> Predictor:
    return Predictor.from_checkpoint(shipped_weights_path("mnist"))


def other_model(seed: int = 1) -> SmallCNN:
    """An untrained model: its answers differ from the shipped one's on every drawing."""
    torch.manual_seed(seed)
    return SmallCNN().eval()


def test_importing_the_package_loads_nothing():
    code = (
        "import sys, mnist_demo; from mnist_demo import predict; "
        "print(any(name.split('.')[0] in ('torch', 'numpy', 'PIL') for name in sys.modules))"
    )
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert output.stdout.strip() == "False"


def test_package_predict_gives_all_ten_digits_summing_to_one():
    from mnist_demo import predict

    probabilities = predict(template_drawing("3", 280))
    assert list(probabilities) == [str(digit) for digit in range(10)]
    assert sum(probabilities.values()) == pytest.approx(1, abs=1e-9)
    assert max(probabilities, key=probabilities.get) == "3"


@pytest.mark.parametrize("size", [280, 800])
def test_template_digits_are_recognised_in_every_convention(predictor, size):
    for index in range(30):
        digit, convention = str(index % 10), CONVENTIONS[index % len(CONVENTIONS)]
        prediction = predictor.predict_full(template_drawing(digit, size, convention))
        assert prediction.top == digit, (digit, convention)


def test_blank_drawing_gives_no_prediction(predictor):
    assert predictor.predict(CLEARED) == {}
    prediction = predictor.predict_full(np.full((280, 280, 3), 255, np.uint8))
    assert prediction == Prediction({}, None, blank=True, reason="nothing drawn")
    assert prediction.top is None


def test_prediction_comes_with_the_picture_the_model_saw(predictor):
    prediction = predictor.predict_full(template_drawing("8", 400))
    assert prediction.picture.shape == (28, 28) and prediction.picture.dtype == np.uint8
    assert not prediction.blank and prediction.top == "8"


def test_predictions_are_deterministic_in_eval_mode(predictor):
    drawing = template_drawing("5", 280)
    assert predictor.predict(drawing) == predictor.predict(drawing)


def test_shipped_predictor_is_loaded_once_even_under_a_rush(monkeypatch):
    monkeypatch.setattr(inference, "_shipped", {})
    loads = []
    real_load = inference.load_shipped

    def counting_load(name: str) -> Predictor:
        loads.append(name)
        return real_load(name)

    monkeypatch.setattr(inference, "load_shipped", counting_load)
    results = []
    threads = [
        threading.Thread(target=lambda: results.append(shipped_predictor("mnist")))
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert loads == ["mnist"]
    assert all(result is results[0] for result in results)


def test_serving_in_memory_models_reads_the_shipped_sidecar_once_per_version(tmp_path, monkeypatch):
    folder = tmp_path / "weights"
    sidecar = folder / "mnist_cnn.json"
    folder.mkdir()
    sidecar.write_text(json.dumps({"verdict": {"sure": 0.8, "unsure": 0.5}}))
    monkeypatch.setenv(WEIGHTS.name, str(folder))
    monkeypatch.setattr(inference, "_thresholds", {}, raising=False)  # A fresh process.
    reads = []
    real_read = inference.read_metadata

    def counting_read(path):
        reads.append(path)
        return real_read(path)

    monkeypatch.setattr(inference, "read_metadata", counting_read)
    model = other_model()
    # What the Retrain tab does on every progress update of a run.
    served = [Predictor.from_model(model).thresholds for _ in range(50)]
    assert served == [Thresholds(0.8, 0.5)] * 50 and len(reads) == 1

    update_sidecar(folder / "mnist_cnn.pth", verdict={"sure": 0.7, "unsure": 0.4})
    assert Predictor.from_model(model).thresholds == Thresholds(0.7, 0.4) and len(reads) == 2

    monkeypatch.delenv(WEIGHTS.name)  # Back to the shipped folder: its own sidecar is read.
    shipped = Thresholds.from_metadata(
        json.loads(shipped_weights_path("mnist").with_suffix(".json").read_text())
    )
    assert Predictor.from_model(model).thresholds == shipped and len(reads) == 3


def test_fashion_weights_speak_fashion():
    predictor = shipped_predictor("fashion")
    probabilities = predictor.predict(template_drawing("0", 280))
    assert tuple(probabilities) == FASHION_MNIST.class_names
    assert sum(probabilities.values()) == pytest.approx(1, abs=1e-9)


def test_swap_serves_the_new_model_and_its_class_names(predictor):
    drawing = template_drawing("2", 280)
    serving = Predictor.from_checkpoint(shipped_weights_path("mnist"))
    serving.swap(other_model())
    assert serving.predict(drawing) == Predictor.from_model(other_model()).predict(drawing)
    serving.swap(load_checkpoint(shipped_weights_path("fashion")))
    assert serving.class_names == FASHION_MNIST.class_names
    serving.swap(load_checkpoint(shipped_weights_path("mnist")))
    assert serving.predict(drawing) == predictor.predict(drawing)


def test_swapped_model_is_a_copy_so_later_training_does_not_leak(predictor):
    model = other_model()
    serving = Predictor.from_model(model)
    drawing = template_drawing("6", 280)
    before = serving.predict(drawing)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(1.0)  # What an optimiser step does to the caller's model.
    model.train()
    assert serving.predict(drawing) == before


def test_class_names_must_match_the_model_outputs():
    with pytest.raises(ValueError, match="10 outputs but 3 class names"):
        Predictor(SmallCNN(ModelConfig()), "mnist", ["a", "b", "c"])


def test_predictions_during_swaps_see_the_old_or_the_new_model_never_a_mix(predictor):
    drawings = [template_drawing(str(digit), 280) for digit in range(10)]
    old_model = load_checkpoint(shipped_weights_path("mnist")).model
    new_model = other_model()
    expected = [
        {tuple(Predictor.from_model(model).predict(d).values()) for model in (old_model, new_model)}
        for d in drawings
    ]
    serving = Predictor.from_model(old_model)
    failures, stop = [], threading.Event()

    def keep_predicting(offset: int) -> None:
        count = 0
        while not stop.is_set() or count < 50:
            index = (offset + count) % len(drawings)
            try:
                values = tuple(serving.predict(drawings[index]).values())
                if not any(np.allclose(values, option, atol=1e-6) for option in expected[index]):
                    failures.append(f"drawing {index}: {values}")
            except Exception as error:  # Any failure under concurrency is a bug.
                failures.append(repr(error))
            count += 1

    threads = [threading.Thread(target=keep_predicting, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for swap in range(40):
        serving.swap(new_model if swap % 2 == 0 else old_model)
    stop.set()
    for thread in threads:
        thread.join()
    assert failures == []


def test_predict_files_reports_each_file_without_stopping(tmp_path, predictor):
    good, blank, bad = tmp_path / "seven.png", tmp_path / "blank.png", tmp_path / "bad.png"
    Image.fromarray(template_drawing("7", 300, "black_on_white")).save(good)
    Image.new("L", (280, 280), 255).save(blank)
    bad.write_bytes(b"not a png")
    results = list(predict_files([good, bad, blank], predictor))
    assert [r.path for r in results] == [good, bad, blank]
    assert results[0].prediction.top == "7"
    assert results[1].prediction is None and "not an image file" in results[1].error
    assert results[2].prediction.blank


def test_cli_prints_top_class_per_file_and_exits_2_on_a_bad_file(tmp_path, capsys):
    good, bad = tmp_path / "four.png", tmp_path / "missing.png"
    Image.fromarray(template_drawing("4", 300, "white_on_black")).save(good)
    assert main(["predict", str(good), str(bad)]) == 2
    output = capsys.readouterr()
    assert output.out.startswith(f"{good}: 4 (") and "9: " in output.out
    assert output.err.strip() == f"mnist-demo predict: error: {bad}: no such image file"
    assert main(["predict", "--json", str(good)]) == 0
    line = json.loads(capsys.readouterr().out)
    assert line["top"] == "4" and sum(line["probabilities"].values()) == pytest.approx(1)


def layer_value(alpha: np.ndarray) -> dict:
    layer = np.zeros((*alpha.shape, 4), np.uint8)
    layer[..., 3] = alpha
    return {"background": None, "layers": [layer], "composite": None}


def thicken(alpha: np.ndarray, grow: int) -> np.ndarray:
    """Dilate by ``grow`` pixels each way: a square brush that much wider (separable max)."""
    for axis in (0, 1):
        padded = np.pad(alpha, [(grow, grow) if a == axis else (0, 0) for a in (0, 1)])
        windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * grow + 1, axis=axis)
        alpha = windows.max(axis=-1)
    return alpha


def rescale(alpha: np.ndarray, factor: float) -> np.ndarray:
    small = Image.fromarray(alpha).resize(
        (round(alpha.shape[1] * factor), round(alpha.shape[0] * factor)), Image.Resampling.NEAREST
    )
    canvas = Image.new("L", (alpha.shape[1], alpha.shape[0]), 0)
    canvas.paste(small, ((alpha.shape[1] - small.width) // 3, (alpha.shape[0] - small.height) // 3))
    return np.asarray(canvas)


def shift(alpha: np.ndarray, rows: int, columns: int) -> np.ndarray:
    """Move the drawing down and left, as far as the canvas allows (never wrapping around)."""
    ink_rows, ink_columns = np.nonzero(alpha)
    rows = min(rows, alpha.shape[0] - 1 - ink_rows.max())
    columns = min(columns, ink_columns.min())
    moved = np.zeros_like(alpha)
    moved[rows:, : alpha.shape[1] - columns] = alpha[: alpha.shape[0] - rows, columns:]
    return moved


@pytest.mark.slow
def test_small_shifts_scale_changes_and_thicker_strokes_keep_the_label(predictor, mnist_test):
    pixels = (mnist_test.images[:, 0] * MNIST.std + MNIST.mean).clamp(0, 1).numpy()
    kept, total = 0, 0
    for index in range(0, 3000, 20):
        drawing = make_drawing(pixels[index], int(mnist_test.labels[index]), index, "sketchpad")
        label = predictor.predict_full(drawing.image).top
        if label != str(drawing.label):
            continue  # Invariance is about the drawings the model reads right.
        alpha = drawing.image["layers"][0][..., 3]
        variants = [shift(alpha, 12, 17), rescale(alpha, 0.8), rescale(alpha, 0.6),
                    thicken(alpha, max(1, drawing.stroke_width // 4))]  # fmt: skip
        kept += sum(predictor.predict_full(layer_value(v)).top == label for v in variants)
        total += len(variants)
    assert total >= 500
    assert kept / total >= 0.98


def opaque_layer(digit: str, seed: int = 0) -> np.ndarray:
    """A black-on-white RGBA picture with alpha 255 everywhere, as a user's own PNG would be."""
    rgb = template_drawing(digit, 280, "black_on_white", seed)
    return np.dstack([rgb, np.full(rgb.shape[:2], 255, np.uint8)])


@pytest.mark.parametrize("form", ["array", "file"])
def test_an_opaque_layer_in_a_sketchpad_value_is_read_as_an_ordinary_image(
    predictor, tmp_path, form
):
    for digit in "0123456789":
        layer = opaque_layer(digit)
        if form == "file":
            layer = tmp_path / f"{digit}.png"
            Image.fromarray(opaque_layer(digit)).save(layer)
        value = {"background": None, "layers": [layer], "composite": None}
        as_layer = predictor.predict_full(value)
        assert as_layer.top == digit
        assert np.array_equal(as_layer.picture, predictor.predict_full(opaque_layer(digit)).picture)
