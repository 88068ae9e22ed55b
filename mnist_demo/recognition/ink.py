"""Any drawing -> its ink map: a uint8 (H, W) array, 0 where there is no ink, 255 where it is full.

Accepted forms: a Gradio Sketchpad value ``{"background", "layers", "composite"}``, numpy arrays
(H x W, H x W x 1/2/3/4; bool, integer or float), PIL images of any mode, and image file paths.
Ink is found whatever the convention: a layer's alpha channel, black on white, white on black
(MNIST's own convention, or a dark canvas), grey on grey, coloured brushes, transparent backgrounds.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

# A 50-megapixel photo still loads; anything larger is a mistake, not a drawing.
MAX_PIXELS = 50_000_000
MAX_SIDE = 20_000
# A digit pad has one drawing layer; each extra layer would be decoded at full size for nothing.
MAX_LAYERS = 1
SKETCHPAD_KEYS = frozenset({"background", "layers", "composite"})
ACCEPTED = "a Sketchpad value dict, a numpy array, a PIL image or an image file path"


def to_ink(image: Any) -> np.ndarray | None:
    """The ink map of any accepted drawing, or None when it holds no image at all."""
    if isinstance(image, dict):
        return sketchpad_ink(image)
    return pixels_ink(to_pixels(image))


def sketchpad_ink(value: dict) -> np.ndarray | None:
    """Ink of a Sketchpad value: the layers' alpha, else the composite, else the background.

    The layers' alpha holds exactly the strokes whatever the theme or brush colour (see
    docs/gradio.md); the composite and background matter only for an uploaded picture.
    A cleared canvas is ``{"background": None, "layers": [], "composite": None}``: no image.
    """
    unknown = set(value) - SKETCHPAD_KEYS
    if unknown:
        raise ValueError(
            f"a dict must be a Sketchpad value with keys {sorted(SKETCHPAD_KEYS)}; "
            f"got unexpected keys {sorted(unknown, key=repr)}"  # Keys of any type.
        )
    layers = value.get("layers")
    layers = [] if layers is None else layers
    if not isinstance(layers, (list, tuple)):
        raise ValueError(f"Sketchpad 'layers' must be a list, not {type(layers).__name__}")
    drawn = sum(layer is not None for layer in layers)
    if drawn > MAX_LAYERS:  # Counted before any layer is read.
        raise ValueError(f"a drawing has at most {MAX_LAYERS} layer; this one has {drawn}")
    strokes = layers_ink([to_pixels(layer) for layer in layers if layer is not None])
    # A coarse look is enough to choose: the composite holds the strokes too.
    if strokes is not None and strokes[::4, ::4].any():
        return strokes
    for key in ("composite", "background"):
        if value.get(key) is not None:
            return pixels_ink(to_pixels(value[key]))
    return strokes


def layers_ink(layers: list[np.ndarray]) -> np.ndarray | None:
    """The strongest ink over all layers.

    A Sketchpad stroke layer holds its ink in the alpha channel. A layer with no transparency at
    all (no alpha channel, or alpha 255 everywhere, as in a black-on-white PNG a gradio_client
    user sends as a layer) is read as an ordinary image: its alpha would make it all ink.
    """
    if not layers:
        return None
    inks = [layer_ink(layer) for layer in layers]
    if len({ink.shape for ink in inks}) > 1:
        raise ValueError(f"Sketchpad layers differ in size: {[ink.shape for ink in inks]}")
    return inks[0] if len(inks) == 1 else np.maximum.reduce(inks)


def layer_ink(layer: np.ndarray) -> np.ndarray:
    alpha = layer[..., -1] if layer.shape[2] in (2, 4) else None
    if alpha is None or alpha.min() == 255:
        return pixels_ink(layer)
    return alpha


def to_pixels(image: Any) -> np.ndarray:
    """Any single image -> uint8 (H, W, C) with C in 1..4 (grey, grey+alpha, RGB, RGBA)."""
    if isinstance(image, (str, os.PathLike)):
        return open_image_file(Path(image))
    if isinstance(image, Image.Image):
        return pil_pixels(image)
    if isinstance(image, np.ndarray):
        return array_pixels(image)
    raise ValueError(f"cannot read a drawing from {type(image).__name__}; expected {ACCEPTED}")


def check_size(height: int, width: int) -> None:
    if height < 1 or width < 1:
        raise ValueError(f"the image is empty ({height}x{width} pixels)")
    if max(height, width) > MAX_SIDE or height * width > MAX_PIXELS:
        raise ValueError(
            f"the image is {height}x{width} pixels, too large for a drawing "
            f"(at most {MAX_SIDE} px a side and {MAX_PIXELS:,} pixels)"
        )


def open_image_file(path: Path) -> np.ndarray:
    """Read an image file; every error names the file."""
    try:
        with Image.open(path) as image:
            # The header gives the size: refuse a giant before decoding any pixel.
            check_size(image.height, image.width)
            return pil_pixels(image)
    except FileNotFoundError:
        raise ValueError(f"{path}: no such image file") from None
    except (UnidentifiedImageError, Image.DecompressionBombError):
        raise ValueError(f"{path}: not an image file that Pillow can read") from None
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from None
    except OSError as error:  # Truncated data, a folder, no permission...
        raise ValueError(f"{path}: cannot read the image ({error})") from None


def pil_pixels(image: Image.Image) -> np.ndarray:
    check_size(image.height, image.width)
    mode = image.mode
    if mode.startswith("I") or mode == "F":
        # 16-bit, 32-bit and float images go through the numpy path, which knows their scales.
        values = np.asarray(image)
        if mode.startswith("I"):
            # 16- and 32-bit integer modes hold 16-bit samples, or 8-bit ones when nothing is
            # above 255 (what Pillow's convert("I;16") makes of an 8-bit image: read as 16-bit
            # samples it was all black, "nothing drawn").
            values = (
                values / 65535
                if values.size and values.max() > 255
                else values.astype(np.int32, copy=False)
            )
        return array_pixels(values)
    has_alpha = mode in ("RGBA", "RGBa", "LA", "La", "PA") or "transparency" in image.info
    if mode in ("1", "L", "LA", "La"):
        target = "LA" if has_alpha else "L"
    else:
        target = "RGBA" if has_alpha else "RGB"
    pixels = np.asarray(image if mode == target else image.convert(target))
    return pixels.reshape(*pixels.shape[:2], -1)


def array_pixels(array: np.ndarray) -> np.ndarray:
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (2, 3, 4)):
        raise ValueError(
            f"an image array must be H x W, H x W x 3 (RGB) or H x W x 4 (RGBA); "
            f"got shape {array.shape}"
        )
    check_size(*array.shape[:2])
    pixels = array_to_uint8(array)
    return pixels[..., None] if pixels.ndim == 2 else pixels


def array_to_uint8(array: np.ndarray) -> np.ndarray:
    if array.dtype == np.uint8:
        return array
    if array.dtype == np.bool_:
        return array.astype(np.uint8) * 255
    kind = array.dtype.kind
    if kind == "u" and array.dtype.itemsize == 2:
        return (array // 257).astype(np.uint8)  # 16-bit samples (PNG, TIFF).
    if kind not in "iuf":
        raise ValueError(f"an image array must hold numbers, not {array.dtype}")
    if kind == "f" and not np.isfinite(array).all():
        raise ValueError("the image array contains NaN or infinite values")
    low, high = array.min(), array.max()
    if low < 0 or high > 255:
        raise ValueError(
            f"image values must lie in [0, 1] (floats) or [0, 255]; got [{low}, {high}]. "
            "Pass raw pixels, not normalised model inputs."
        )
    # Floats in [0, 1] are fractions; anything brighter is on the 0..255 scale.
    scale = 255.0 if kind == "f" and high <= 1 else 1.0
    return np.rint(array * scale).astype(np.uint8)


def pixels_ink(pixels: np.ndarray) -> np.ndarray:
    """One image's ink: its alpha if the background is transparent, else contrast with the paper."""
    if pixels.shape[2] in (2, 4):
        alpha = pixels[..., -1:]
        # A transparent border means a transparent background: the opaque part is the drawing,
        # whatever its colour (white strokes would vanish if composited over white).
        if background_colour(alpha)[0] < 128:
            return alpha[..., 0]
        pixels = over_white(pixels)
    return contrast_ink(pixels)


def over_white(pixels: np.ndarray) -> np.ndarray:
    """Composite an image with alpha over white and drop the alpha channel."""
    colour, alpha = pixels[..., :-1], pixels[..., -1:]
    if alpha.min() == 255:
        return colour
    alpha = alpha.astype(np.uint16)
    return ((colour * alpha + 255 * (255 - alpha) + 127) // 255).astype(np.uint8)


def background_colour(pixels: np.ndarray) -> np.ndarray:
    """The median colour of the image's border: the paper or canvas the digit sits on."""
    border = np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])
    return np.median(border, axis=0).round().astype(np.uint8)


def contrast_ink(pixels: np.ndarray) -> np.ndarray:
    """Ink as the largest per-channel distance from the background colour.

    This reads black on white, white on black, grey on grey and coloured brushes alike (a yellow
    stroke on white is as strong as a black one in the blue channel).
    """
    background = background_colour(pixels)
    distance = None
    for channel, level in enumerate(background):
        values = pixels[..., channel]
        # |values - level| in uint8 without overflow: the larger minus the smaller.
        channel_distance = np.maximum(values, level) - np.minimum(values, level)
        distance = channel_distance if distance is None else np.maximum(distance, channel_distance)
    return distance
