"""A model as the JSON the page runs: a layer list generated from the nn.Module itself.

The browser runs the network with a ~100-line interpreter of five operations (static/cnn.js)
rather than ONNX Runtime Web: its WebAssembly alone is over 10 MB for a first visit, while the
whole SmallCNN is 207k parameters (about 1.2M multiply-adds, a millisecond or two in plain
JavaScript). The layer list is read off the module, never written by hand: a layer the
interpreter does not know makes :func:`page_layers` refuse (``PageExportError``), and the page
then stays on the server path. Before a list is accepted it is run back through torch
(``nn.Sequential`` of the same layers) and must give the module's own logits.

Weights travel as float16 (about 550 KB of base64 for the SmallCNN, under the 1 MB budget);
the preprocessing constants travel with them, so the page never keeps its own copy.
"""

from __future__ import annotations

import base64
import hashlib
import json
import weakref
from typing import Any

import numpy as np
import torch
from torch import nn

from mnist_demo.config import IMAGE_SIZE, DatasetSpec
from mnist_demo.recognition import preprocess

FORMAT = "mnist-demo-layers/1"
# A forward pass through the layer list must match the module's logits this closely (float32).
CHECK_TOLERANCE = 1e-4


class PageExportError(ValueError):
    """The model holds something the page's interpreter cannot run."""


def encode(tensor: torch.Tensor) -> str:
    """Little-endian float16 bytes, base64."""
    values = tensor.detach().to("cpu", torch.float32).contiguous().numpy().astype("<f2")
    return base64.b64encode(values.tobytes()).decode("ascii")


def leaves(module: nn.Module) -> list[nn.Module]:
    """The module's layers in order, looking through nn.Sequential containers."""
    if isinstance(module, nn.Sequential):
        return [leaf for child in module for leaf in leaves(child)]
    children = list(module.children())
    if not children:
        return [module]
    return [leaf for child in children for leaf in leaves(child)]


def folded(conv: nn.Conv2d, norm: nn.BatchNorm2d) -> tuple[torch.Tensor, torch.Tensor]:
    """A convolution with the (eval-mode) BatchNorm after it folded into its weight and bias."""
    scale = norm.weight / torch.sqrt(norm.running_var + norm.eps)
    bias = conv.bias if conv.bias is not None else torch.zeros_like(norm.running_mean)
    weight = conv.weight * scale.view(-1, 1, 1, 1)
    return weight, (bias - norm.running_mean) * scale + norm.bias


def conv_layer(conv: nn.Conv2d, weight: torch.Tensor, bias: torch.Tensor | None) -> dict:
    square = conv.kernel_size[0] == conv.kernel_size[1]
    plain = conv.stride == (1, 1) and conv.dilation == (1, 1) and conv.groups == 1
    padding = conv.padding if isinstance(conv.padding, tuple) else None
    if not (square and plain and padding and padding[0] == padding[1]):
        raise PageExportError(f"the page runs only square, stride-1 convolutions, not {conv}")
    if bias is None:
        bias = torch.zeros(conv.out_channels)
    return {
        "op": "conv2d",
        "in": conv.in_channels,
        "out": conv.out_channels,
        "kernel": conv.kernel_size[0],
        "padding": padding[0],
        "weight": encode(weight),
        "bias": encode(bias),
    }


def page_layers(model: nn.Module) -> list[dict]:
    """The layer list of ``model`` (in eval mode), or PageExportError naming what is unknown."""
    layers: list[dict] = []
    items = leaves(model)
    index = 0
    while index < len(items):
        layer = items[index]
        following = items[index + 1] if index + 1 < len(items) else None
        if isinstance(layer, nn.Conv2d):
            if isinstance(following, nn.BatchNorm2d):
                layers.append(conv_layer(layer, *folded(layer, following)))
                index += 1
            else:
                layers.append(conv_layer(layer, layer.weight, layer.bias))
        elif isinstance(layer, nn.MaxPool2d) and layer.kernel_size in (2, (2, 2)):
            if layer.stride not in (2, (2, 2)) or layer.padding not in (0, (0, 0)):
                raise PageExportError(f"the page runs only 2x2 max-pooling, not {layer}")
            layers.append({"op": "maxpool2d", "size": 2})
        elif isinstance(layer, nn.ReLU):
            layers.append({"op": "relu"})
        elif isinstance(layer, nn.Flatten):
            layers.append({"op": "flatten"})
        elif isinstance(layer, nn.Linear):
            bias = layer.bias if layer.bias is not None else torch.zeros(layer.out_features)
            layers.append(
                {
                    "op": "linear",
                    "in": layer.in_features,
                    "out": layer.out_features,
                    "weight": encode(layer.weight),
                    "bias": encode(bias),
                }
            )
        elif isinstance(layer, nn.Dropout):
            pass  # The identity at inference.
        else:
            raise PageExportError(f"the page cannot run a {type(layer).__name__} layer")
        index += 1
    check_layer_order(model, items)
    return layers


def check_layer_order(model: nn.Module, items: list[nn.Module]) -> None:
    """Refuse a module whose forward() is not its layers applied in registration order."""
    probe = torch.randn(4, 1, IMAGE_SIZE, IMAGE_SIZE, generator=torch.Generator().manual_seed(0))
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            expected = model(probe)
            sequential = nn.Sequential(*items)(probe)
    finally:
        model.train(was_training)
    if expected.shape != sequential.shape or not torch.allclose(
        expected, sequential, atol=CHECK_TOLERANCE, rtol=CHECK_TOLERANCE
    ):
        raise PageExportError("the model's forward() is not its layers in order")


def preprocessing_settings(spec: DatasetSpec) -> dict[str, Any]:
    """Everything the page's preprocess.js needs, taken from the Python definitions."""
    return {
        "image_size": IMAGE_SIZE,
        "fit_box": spec.fit_box,
        "centre_by_mass": spec.centre_by_mass,
        "mean": spec.mean,
        "std": spec.std,
        "noise_level": preprocess.NOISE_LEVEL,
        "box_fraction": preprocess.BOX_FRACTION,
        "speck_fraction": preprocess.SPECK_FRACTION,
        "speck_pixels": preprocess.SPECK_PIXELS,
        "mnist_centre": preprocess.MNIST_CENTRE,
        "lanczos_a": preprocess.LANCZOS_A,
    }


_cache: weakref.WeakKeyDictionary[nn.Module, dict] = weakref.WeakKeyDictionary()


def page_model(
    model: nn.Module,
    spec: DatasetSpec,
    class_names: tuple[str, ...],
    extras: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The whole payload for one model: layers, class names, preprocessing and ``extras``
    (thresholds and the like that the page mirrors). Layers are cached per model object: a
    served model is never changed in place (see inference.py)."""
    cached = _cache.get(model)
    if cached is None:
        layers = page_layers(model)
        digest = hashlib.sha256(json.dumps(layers).encode()).hexdigest()[:16]
        cached = {"layers": layers, "id": digest}
        _cache[model] = cached
    return {
        "format": FORMAT,
        "id": cached["id"],
        "dataset": spec.name,
        "class_names": list(class_names),
        "dtype": "float16",
        "preprocess": preprocessing_settings(spec),
        "layers": cached["layers"],
        "extras": dict(extras or {}),
    }


def decode(encoded: str) -> np.ndarray:
    """The inverse of :func:`encode` (float32), for tests and tools."""
    return np.frombuffer(base64.b64decode(encoded), dtype="<f2").astype(np.float32)
