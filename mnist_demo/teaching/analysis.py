"""Teaching views of a trained SmallCNN: its layers, filters, feature maps and evidence.

Pure functions of a model and its input (numpy pictures out, no UI): the Gradio tab and the
``mnist-demo explain`` command both show what these return. None of them changes the model: a
model in training mode is read through an eval-mode copy, and hooks are removed before returning.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from mnist_demo.pictures import INPUT_SCALE, enlarge
from mnist_demo.recognition.model import SmallCNN
from mnist_demo.recognition.probabilities import (
    check_input,
    on_model_device,
    readable,
)

# Readable layer names ("conv1", "fc2") by layer type; the index counts layers of that type.
SHORT_NAMES = {"Conv2d": "conv", "BatchNorm2d": "bn", "MaxPool2d": "pool", "Linear": "fc"}
# Colour ramps as evenly spaced RGB anchors: dark-to-bright (after matplotlib's "inferno") for
# activations, and blue-white-red (after ColorBrewer's RdBu) for signed weights, white at 0.
DARK_TO_BRIGHT = ((0, 0, 4), (40, 11, 84), (101, 21, 110), (159, 42, 99), (212, 72, 66),
                  (245, 125, 21), (250, 193, 39), (252, 255, 164))  # fmt: skip
BLUE_WHITE_RED = ((33, 102, 172), (103, 169, 207), (209, 229, 240), (247, 247, 247),
                  (253, 219, 199), (239, 138, 98), (178, 24, 43))  # fmt: skip
HEAT = ((160, 0, 0), (255, 70, 0), (255, 200, 0), (255, 255, 190))
GAP_GREY = 128
# Occlusion squares for saliency: a quarter of a stroke's length on the 28x28 input.
OCCLUSION_PATCH = 4


@dataclass(frozen=True)
class LayerRow:
    """One leaf layer: its readable name, type, output shape per image and parameter count."""

    name: str
    kind: str
    output_shape: tuple[int, ...]
    parameters: int
    path: str = ""  # The module's attribute path in the model, such as "features.0.0".


def layer_table(model: SmallCNN) -> list[LayerRow]:
    """Every leaf layer in forward order, measured with forward hooks on one blank image."""
    net = readable(model)
    leaves = {module: path for path, module in net.named_modules() if not any(module.children())}
    seen: list[tuple[nn.Module, tuple[int, ...]]] = []
    handles = [
        module.register_forward_hook(
            lambda module, inputs, output: seen.append((module, tuple(output.shape[1:])))
        )
        for module in leaves
    ]
    config = net.config
    blank = torch.zeros(1, config.in_channels, config.image_size, config.image_size)
    try:
        with torch.inference_mode():
            net(blank)
    finally:
        for handle in handles:
            handle.remove()
    totals = Counter(type(module).__name__ for module, _ in seen)
    counts: Counter[str] = Counter()
    rows = []
    for module, shape in seen:
        kind = type(module).__name__
        counts[kind] += 1
        short = SHORT_NAMES.get(kind, kind.lower())
        name = short if totals[kind] == 1 and kind not in SHORT_NAMES else f"{short}{counts[kind]}"
        parameters = sum(parameter.numel() for parameter in module.parameters())
        rows.append(LayerRow(name, kind, shape, parameters, leaves[module]))
    return rows


def format_layer_table(rows: list[LayerRow]) -> str:
    """The table as aligned plain text with a total line, for a terminal or a .txt file."""
    lines = [f"{'layer':<10}{'type':<13}{'output shape':<16}{'parameters':>12}"]
    for row in rows:
        shape = " x ".join(map(str, row.output_shape))
        lines.append(f"{row.name:<10}{row.kind:<13}{shape:<16}{row.parameters:>12,}")
    lines.append(f"{'total':<39}{sum(row.parameters for row in rows):>12,}")
    return "\n".join(lines) + "\n"


def first_conv(model: nn.Module) -> nn.Conv2d:
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            return module
    raise ValueError("the model has no convolution layer")


def first_layer_filters(model: SmallCNN) -> np.ndarray:
    """The first convolution's weights, (16, 3, 3) float32 (summed over input channels: one)."""
    weight = first_conv(model).weight.detach()  # (16, in_channels, 3, 3)
    return weight.sum(dim=1).to("cpu", torch.float32).numpy().copy()


def feature_maps(model: SmallCNN, tensor: torch.Tensor) -> dict[str, np.ndarray]:
    """Each conv block's maps for one input: "conv1", "pool1", "conv2", "pool2" in that order.

    The blocks pool before their ReLU (an exact, faster equivalent of the lesson's conv, ReLU,
    pool), so "convN" is ReLU applied to the block's values just before pooling: the map the
    lesson shows after its conv and ReLU. "poolN" is the block's output, as the model computes it.
    """
    check_input(tensor)
    net = readable(model)
    maps: dict[str, np.ndarray] = {}
    with torch.inference_mode():
        x = on_model_device(net, tensor)
        for number, block in enumerate(net.features, start=1):
            for layer in block:
                if isinstance(layer, nn.MaxPool2d):
                    maps[f"conv{number}"] = torch.relu(x)[0].cpu().numpy()  # (C, H, W)
                x = layer(x)
            maps[f"pool{number}"] = x[0].cpu().numpy()  # (C, H / 2, W / 2)
    return maps


def ramp(values: np.ndarray, anchors: tuple[tuple[int, int, int], ...]) -> np.ndarray:
    """Values in [0, 1] -> RGB uint8 by linear interpolation between evenly spaced anchors."""
    positions = np.linspace(0, 1, len(anchors))
    colours = np.asarray(anchors, dtype=np.float64)
    channels = [np.interp(values, positions, colours[:, c]) for c in range(3)]
    return np.rint(np.stack(channels, axis=-1)).astype(np.uint8)


def normalise_each(maps: np.ndarray, signed: bool) -> np.ndarray:
    """Each map scaled on its own: to [-1, 1] by its largest magnitude, else min..max to [0, 1]."""
    maps = maps.astype(np.float64)
    if signed:
        largest = np.abs(maps).max(axis=(1, 2), keepdims=True)
        return np.divide(maps, largest, out=np.zeros_like(maps), where=largest > 0)
    low = maps.min(axis=(1, 2), keepdims=True)
    spread = maps.max(axis=(1, 2), keepdims=True) - low
    return np.divide(maps - low, spread, out=np.zeros_like(maps), where=spread > 0)


def tile(
    maps: np.ndarray, columns: int = 8, scale: int = 4, signed: bool = False, gap: int = 1
) -> np.ndarray:
    """(N, H, W) maps -> one RGB uint8 grid, each map coloured on its own scale.

    ``signed`` colours weights blue (negative), white (0) and red (positive); otherwise a map
    goes from dark (its smallest value) to bright (its largest). A constant map is dark (or
    white when signed). Maps are ``gap`` grey pixels apart.
    """
    maps = np.asarray(maps)
    if maps.ndim != 3 or 0 in maps.shape:
        raise ValueError(f"tile needs a non-empty (N, H, W) array, got shape {maps.shape}")
    if columns < 1 or scale < 1 or gap < 0:
        raise ValueError("columns and scale must be at least 1 and gap at least 0")
    if not np.isfinite(maps).all():
        raise ValueError("the maps contain NaN or infinite values")
    count, height, width = maps.shape
    scaled = normalise_each(maps, signed)
    coloured = ramp((scaled + 1) / 2, BLUE_WHITE_RED) if signed else ramp(scaled, DARK_TO_BRIGHT)
    columns = min(columns, count)
    rows = math.ceil(count / columns)
    cell_height, cell_width = height * scale + gap, width * scale + gap
    grid = np.full((rows * cell_height - gap, columns * cell_width - gap, 3), GAP_GREY, np.uint8)
    for index, image in enumerate(coloured):
        top, left = (index // columns) * cell_height, (index % columns) * cell_width
        grid[top : top + height * scale, left : left + width * scale] = enlarge(image, scale)
    return grid


def saliency(
    model: SmallCNN,
    tensor: torch.Tensor,
    target: int,
    *,
    patch: int = OCCLUSION_PATCH,
    paper: float | None = None,
) -> np.ndarray:
    """Where the drawing holds evidence for class ``target``: (28, 28) float32 in [0, 1].

    Occlusion (Zeiler and Fergus, 2014): cover each ``patch`` x ``patch`` square with blank
    paper and measure how much the target's log-probability drops; a pixel's value is the mean
    drop over the squares covering it. Chosen over the alternatives after looking at all three
    on MNIST test digits:

    * It is class-contrastive where it matters to a learner. A log-probability falls when the
      target's logit falls *relative to the others*, so evidence for 4 on a "4" sits on the open
      top-left corner that tells it from a 9, and evidence for 9 on the same drawing sits
      elsewhere. Gradient x input (also integrated along a path from the blank canvas) gave
      nearly the same few bright stroke-end pixels for every class, and plain gradients are
      noisier still.
    * It stays on the ink, at the size of a stroke piece: covering blank paper with blank paper
      changes nothing, so away from the strokes the map is exactly 0. Grad-CAM on the last conv
      block is 7x7, one blur over the whole digit.
    * It is one sentence to explain ("hide this bit: how much less like a 4 is it?") and exact:
      no gradients, any target class, the model untouched. Only squares touching ink are run,
      a few hundred 28x28 images in one batch (tens of milliseconds on a CPU).

    Squares whose covering makes the class *more* likely are clipped to 0; the result is scaled
    so its strongest pixel is 1, or all zeros when nothing argues for the class. ``paper`` is
    the model-input value of blank paper, by default the input's smallest (preprocessing leaves
    blank margins).
    """
    check_input(tensor)
    net = readable(model)
    classes = net.config.num_classes
    if not 0 <= target < classes:
        raise ValueError(f"target must be a class index from 0 to {classes - 1}, got {target}")
    side = tensor.shape[-1]
    if not 1 <= patch <= min(tensor.shape[-2:]):
        raise ValueError(f"patch must be from 1 to {side} pixels, got {patch}")
    drawing = tensor.detach().to("cpu", torch.float32)
    blank = float(drawing.min()) if paper is None else paper
    starts = occluded_squares(drawing[0].amax(dim=0) > blank, patch)  # (K, 2) row, column
    drops = np.zeros((drawing.shape[-2] - patch + 1, drawing.shape[-1] - patch + 1))
    if len(starts):
        batch = drawing.repeat(len(starts), 1, 1, 1)  # (K, C, H, W)
        for index, (row, column) in enumerate(starts):
            batch[index, :, row : row + patch, column : column + patch] = blank
        with torch.inference_mode():
            reference = torch.log_softmax(net(on_model_device(net, drawing)), dim=1)[0, target]
            covered = torch.log_softmax(net(on_model_device(net, batch)), dim=1)[:, target]
        drops[starts[:, 0], starts[:, 1]] = (reference - covered).double().cpu().numpy()
    evidence = spread_over_squares(drops, patch).clip(min=0).astype(np.float32)
    strongest = float(evidence.max())
    if not math.isfinite(strongest) or strongest <= 0:
        return np.zeros_like(evidence)
    return evidence / strongest


def occluded_squares(ink: torch.Tensor, patch: int) -> np.ndarray:
    """Top-left corners of every patch x patch square holding some ink: (K, 2) int."""
    counts = torch.nn.functional.avg_pool2d(ink[None, None].float(), patch, stride=1)[0, 0]
    return np.argwhere(counts.numpy() > 0)


def spread_over_squares(values: np.ndarray, patch: int) -> np.ndarray:
    """Each pixel's mean of the values of the squares covering it (per-corner values in)."""
    height, width = values.shape[0] + patch - 1, values.shape[1] + patch - 1
    total = np.zeros((height, width))
    for row in range(patch):
        for column in range(patch):
            total[row : row + values.shape[0], column : column + values.shape[1]] += values
    cover_rows = np.convolve(np.ones(values.shape[0]), np.ones(patch))
    cover_columns = np.convolve(np.ones(values.shape[1]), np.ones(patch))
    return total / np.outer(cover_rows, cover_columns)


def overlay(picture: np.ndarray, heat: np.ndarray, scale: int = INPUT_SCALE) -> np.ndarray:
    """A heat map in [0, 1] over the dimmed grey picture: RGB uint8, ``scale`` times larger."""
    picture, heat = np.asarray(picture), np.asarray(heat, dtype=np.float64)
    if picture.ndim != 2 or picture.shape != heat.shape:
        raise ValueError(
            f"picture {picture.shape} and heat {heat.shape} must be the same 2-D shape"
        )
    if scale < 1:
        raise ValueError(f"scale must be at least 1, got {scale}")
    heat = np.clip(np.nan_to_num(heat), 0, 1)
    # The picture is dimmed to grey so that the warm colours stand out on ink and paper alike.
    grey = 20 + picture.astype(np.float64) * (140 / 255)
    alpha = heat[..., None]
    blended = grey[..., None] * (1 - alpha) + ramp(heat, HEAT) * alpha
    return enlarge(np.rint(blended).astype(np.uint8), scale)
