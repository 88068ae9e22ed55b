"""A drawing's way to the model, step by step, for teaching: the pictures and one sentence each.

Built from :mod:`mnist_demo.recognition.preprocess`'s own functions, so with every step on it ends
in exactly the tensor ``preprocess()`` gives; switches skip steps to show the naive path a learner
compares.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch
from PIL import Image

from mnist_demo.config import IMAGE_SIZE, MNIST, DatasetSpec
from mnist_demo.recognition import preprocess as pipeline
from mnist_demo.recognition.ink import to_ink


@dataclass(frozen=True)
class PreprocessStep:
    """One step of a drawing's way to the model: a picture (ink bright) and one sentence."""

    name: str
    picture: np.ndarray
    explanation: str


def preprocessing_steps(
    image: Any,
    spec: DatasetSpec = MNIST,
    *,
    crop: bool = True,
    fit: bool = True,
    centre: bool = True,
) -> tuple[list[PreprocessStep], torch.Tensor | None]:
    """The drawing's path to the model step by step, and the (1, 1, 28, 28) input it ends in.

    With every switch on this is exactly :func:`mnist_demo.recognition.preprocess.preprocess`, built
    from the same functions. Switching a step off shows the naive path: ``crop=False`` keeps the
    whole canvas, ``fit=False`` resizes straight to 28x28 (no margin, shape stretched),
    ``centre=False`` centres the digit's box instead of its centre of mass. Returns (steps, None)
    when there is nothing to classify. Raises ValueError for anything that is not an image.
    """
    ink = to_ink(image)
    if ink is None:
        return [], None
    box = pipeline.ink_box(ink)
    if box is None or pipeline.is_speck(box, ink.shape):
        why = "No ink found" if box is None else "Only a speck of ink"
        return [PreprocessStep("ink", ink, f"{why}: draw a digit for the model to read.")], None
    steps = [PreprocessStep("ink", ink, "Your drawing as ink: bright where you drew, any colours.")]
    region = ink
    if crop:
        region = pipeline.crop(ink, box)
        steps.append(
            PreprocessStep(
                "cropped", region, "Cut to the box around the ink: size and place vanish."
            )
        )
    patch = pipeline.fit(region, spec.fit_box) if fit else naive_picture(region) / np.float32(255)
    steps.append(resize_step(patch, spec, fit))
    if not patch.any():  # A hairline on a giant canvas can vanish when shrunk.
        return steps, None
    if fit:
        by_mass = centre and spec.centre_by_mass
        frame = pipeline.place(patch, spec if by_mass else replace(spec, centre_by_mass=False))
        how = "its centre of mass" if by_mass else "its box"
        name = "centred 28x28" if centre else "box-centred 28x28"
        picture = pipeline.to_picture(frame)
        steps.append(PreprocessStep(name, picture, f"Placed in 28x28 with {how} in the middle."))
    else:
        picture = pipeline.to_picture(patch)  # Already 28x28: there is nothing to place.
    explanation = (
        f"What the network receives: each pixel p as (p - {spec.mean}) / {spec.std}, "
        "the scale of the training images."
    )
    steps.append(PreprocessStep("normalised", picture, explanation))
    return steps, pipeline.to_tensor(picture, spec)


def resize_step(patch: np.ndarray, spec: DatasetSpec, fitted: bool) -> PreprocessStep:
    picture = pipeline.to_picture(patch)
    if not fitted:
        explanation = "Resized straight to 28x28: no margin, and the shape stretched to a square."
        return PreprocessStep("squashed 28x28", picture, explanation)
    side = spec.fit_box
    margin = ", leaving a margin" if side < IMAGE_SIZE else ""
    explanation = (
        f"Longer side scaled to {side} pixels keeping the shape{margin}, as in {spec.title}."
    )
    return PreprocessStep(f"fit {side}x{side}", picture, explanation)


def naive_picture(ink: np.ndarray) -> np.ndarray:
    """What the common demos feed the model: the whole ink map shrunk to 28x28 (for comparison)."""
    return np.array(Image.fromarray(ink).resize((28, 28), Image.Resampling.BICUBIC))
