"""The model payload the page runs: read off the nn.Module, refused when it cannot be run,
compact, and the drawing the page sends back read safely."""

from __future__ import annotations

import base64
import io
import json

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from mnist_demo.config import MNIST
from mnist_demo.recognition.inference import shipped_predictor
from mnist_demo.recognition.model import ModelConfig, SmallCNN
from mnist_demo.recognition.page_model import PageExportError, decode, page_layers, page_model
from mnist_demo.serving.session import Session
from mnist_demo.ui.canvas import PNG_PREFIX, drawing_from_ink
from mnist_demo.ui.tabs.draw import page_model_json


def run_layers(layers: list[dict], x: torch.Tensor) -> torch.Tensor:
    """A plain torch reading of the layer list, as cnn.js reads it."""
    for layer in layers:
        op = layer["op"]
        if op in ("conv2d", "linear"):
            weight = torch.from_numpy(decode(layer["weight"]))
            bias = torch.from_numpy(decode(layer["bias"]))
        if op == "conv2d":
            shape = (layer["out"], layer["in"], layer["kernel"], layer["kernel"])
            x = nn.functional.conv2d(x, weight.view(shape), bias, padding=layer["padding"])
        elif op == "linear":
            x = x @ weight.view(layer["out"], layer["in"]).T + bias
        elif op == "relu":
            x = x.clamp_min(0)
        elif op == "maxpool2d":
            x = nn.functional.max_pool2d(x, 2)
        elif op == "flatten":
            x = x.flatten(1)
    return x


def test_the_layer_list_computes_what_the_module_computes_batch_norm_included():
    torch.manual_seed(0)
    model = SmallCNN(ModelConfig(batch_norm=True))
    for norm in (m for m in model.modules() if isinstance(m, nn.BatchNorm2d)):
        norm.running_mean.uniform_(-0.5, 0.5)
        norm.running_var.uniform_(0.5, 2.0)
        norm.weight.data.uniform_(0.5, 1.5)
    model.eval()
    layers = page_layers(model)
    assert [layer["op"] for layer in layers] == [
        "conv2d", "maxpool2d", "relu", "conv2d", "maxpool2d", "relu",
        "flatten", "linear", "relu", "linear",
    ]  # fmt: skip
    x = torch.randn(3, 1, 28, 28)
    with torch.inference_mode():
        expected = model(x)
    assert torch.allclose(run_layers(layers, x), expected, atol=0.02)


def test_a_layer_the_page_cannot_run_is_refused():
    model = SmallCNN()
    model.classifier[1] = nn.Sequential(nn.Linear(1568, 128), nn.GELU())
    with pytest.raises(PageExportError, match="GELU"):
        page_layers(model)


def test_a_forward_that_is_not_the_layers_in_order_is_refused():
    class Skipping(SmallCNN):
        def forward(self, x):
            return self.classifier(self.features(x) * 2)

    with pytest.raises(PageExportError, match="not its layers in order"):
        page_layers(Skipping())


def test_the_payload_is_under_a_megabyte_and_carries_what_the_page_needs():
    predictor = shipped_predictor("mnist")
    text = page_model_json(Session())
    assert len(text) < 1_000_000
    payload = json.loads(text)
    assert payload["class_names"] == list(predictor.class_names)
    assert payload["preprocess"]["mean"] == MNIST.mean and payload["preprocess"]["fit_box"] == 20
    # The verdict's thresholds and words, so that the page words its hint as the server does.
    extras = payload["extras"]
    assert {"sure": extras["sure"], "unsure": extras["unsure"]} == predictor.thresholds.to_dict()
    assert extras["words"] == ["digit", "unsure", "not a digit"] and extras["description"]
    again = page_model(predictor.model, predictor.spec, predictor.class_names)
    assert again["id"] == payload["id"]
    fashion = json.loads(page_model_json(Session(dataset="fashion")))
    assert fashion["id"] != payload["id"] and fashion["dataset"] == "fashion"


def png_url(array: np.ndarray) -> str:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return PNG_PREFIX + base64.b64encode(buffer.getvalue()).decode()


def test_the_pads_drawing_is_read_as_a_sketchpad_layer():
    layer = np.zeros((280, 280, 4), np.uint8)
    layer[60:220, 130:150, 3] = 255
    drawing = drawing_from_ink(png_url(layer))
    assert np.array_equal(drawing["layers"][0], layer)
    assert shipped_predictor().predict(drawing)
    assert drawing_from_ink("") is None


@pytest.mark.parametrize(
    "text",
    [
        "data:image/jpeg;base64,AAAA",
        PNG_PREFIX + "not base64!",
        PNG_PREFIX + base64.b64encode(b"GIF89a....").decode(),
        PNG_PREFIX + "A" * 1_000_000,
    ],
)
def test_anything_else_from_the_page_gets_a_clear_message(text):
    with pytest.raises(ValueError, match="drawing"):
        drawing_from_ink(text)
