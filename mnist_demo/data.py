"""Datasets as in-memory tensors: loaded once, normalised once, batched by index slices.

The lesson fed each sample through PIL and ``ToTensor`` inside a DataLoader; that per-sample work
costs more than the model itself on a CPU. Here a split is one (N, 1, 28, 28) float tensor and a
batch is ``images[indices]``.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from mnist_demo.config import DATA_ENV, IMAGE_SIZE, DatasetSpec, data_dir, dataset_spec

RAW_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


class DatasetMissingError(RuntimeError):
    """The dataset is not on disk and could not be downloaded; the message says what to do."""


@dataclass(frozen=True)
class Split:
    """One split in memory: normalised images (N, 1, 28, 28) float32 and labels (N,) int64."""

    images: torch.Tensor
    labels: torch.Tensor
    spec: DatasetSpec

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, size: int | None) -> Split:
        """The first ``size`` samples (MNIST's files are already shuffled), or all of them."""
        if size is None or size >= len(self):
            return self
        return Split(self.images[:size], self.labels[:size], self.spec)

    def joined(self, other: Split) -> Split:
        """This split followed by ``other`` (the same dataset's classes and scale)."""
        images = torch.cat([self.images, other.images.to(self.images.device)])
        return Split(
            images, torch.cat([self.labels, other.labels.to(self.labels.device)]), self.spec
        )


def normalize(pixels: torch.Tensor, spec: DatasetSpec) -> torch.Tensor:
    """Pixels in [0, 1] -> the model's input scale. The one normalisation for train and predict."""
    return (pixels - spec.mean) / spec.std


def denormalize(values: torch.Tensor, spec: DatasetSpec) -> torch.Tensor:
    """The inverse of :func:`normalize`: model-scale values -> pixels in [0, 1] (clamped, since
    float rounding can step just outside)."""
    return (values * spec.std + spec.mean).clamp(0, 1)


def missing_message(spec: DatasetSpec, root: Path, error: Exception | None) -> str:
    folder = root / spec.torchvision_class / "raw"
    files = ", ".join(RAW_FILES)
    why = f" (download failed: {error})" if error else ""
    return (
        f"{spec.title} not found in {folder.resolve()}{why}.\n"
        f"Put the four files {files} (or their .gz versions) there, or point --data-dir or "
        f"${DATA_ENV} at a folder that holds {spec.torchvision_class}/raw/."
    )


def raw_files_present(spec: DatasetSpec, root: Path) -> bool:
    folder = root / spec.torchvision_class / "raw"
    return all((folder / name).is_file() for name in RAW_FILES)


_cache: dict[tuple[str, bool, str], Split] = {}
_cache_lock = threading.Lock()


def load_split(
    dataset: str = "mnist",
    train: bool = True,
    root: str | os.PathLike[str] | None = None,
    download: bool = True,
) -> Split:
    """Load a split through torchvision once per process and keep it normalised in memory."""
    spec = dataset_spec(dataset)
    folder = data_dir(root)
    key = (spec.name, train, str(folder.resolve()))
    with _cache_lock:
        if key not in _cache:
            _cache[key] = read_split(spec, train, folder, download)
        return _cache[key]


def read_split(spec: DatasetSpec, train: bool, root: Path, download: bool) -> Split:
    import torchvision  # Imported here: only training and evaluation need it.

    dataset_class = getattr(torchvision.datasets, spec.torchvision_class)
    # torchvision skips the download when the files exist, so a read-only root stays untouched.
    should_download = download and not raw_files_present(spec, root)
    try:
        dataset = dataset_class(root=str(root), train=train, download=should_download)
    except Exception as error:  # URLError, RuntimeError("Dataset not found"), PermissionError...
        raise DatasetMissingError(
            missing_message(spec, root, error if should_download else None)
        ) from None
    pixels = dataset.data.unsqueeze(1).to(torch.float32).div_(255)
    return Split(normalize(pixels, spec).contiguous(), dataset.targets.to(torch.int64), spec)


def load_image_folder(folder: str | os.PathLike[str], dataset: str = "mnist") -> Split:
    """Drawings in torchvision's ImageFolder layout, ``<class index>/<any name>.png``, as a
    normalised split: 28x28 greyscale, white ink on black as MNIST (a class pool export is
    exactly this). A folder's name is the label itself ("0" ... "9"), not its rank among the
    folders, so a pool missing a digit keeps its labels right. Other files are ignored."""
    from PIL import Image, UnidentifiedImageError

    spec, root = dataset_spec(dataset), Path(folder)
    if not root.is_dir():
        raise ValueError(f"{root}: no such folder of drawings")
    names = {str(index): index for index in range(len(spec.class_names))}
    images, labels = [], []
    for sub in sorted(path for path in root.iterdir() if path.is_dir() and path.name in names):
        for path in sorted((file for file in sub.iterdir() if file.is_file()), key=by_number):
            try:
                with Image.open(path) as image:
                    pixels = np.asarray(image.convert("L"), dtype=np.float32) / 255
            except (UnidentifiedImageError, OSError):
                raise ValueError(f"{path}: not an image") from None
            if pixels.shape != (IMAGE_SIZE, IMAGE_SIZE):
                raise ValueError(f"{path}: a drawing must be {IMAGE_SIZE}x{IMAGE_SIZE} pixels")
            images.append(pixels)
            labels.append(names[sub.name])
    if not images:
        raise ValueError(f"{root}: no drawings found (expected folders 0-9 of 28x28 images)")
    pixels = torch.from_numpy(np.stack(images)).unsqueeze(1)  # (N, 1, 28, 28)
    return Split(normalize(pixels, spec).contiguous(), torch.tensor(labels), spec)


def by_number(path: Path) -> tuple:
    """Files named by number (a pool export's drawing ids) in numeric order, then the rest."""
    return (0, int(path.stem), "") if path.stem.isdigit() else (1, 0, path.name)


def batch_indices(
    size: int, batch_size: int, shuffle: bool, generator: torch.Generator | None = None
) -> Iterator[torch.Tensor]:
    order = torch.randperm(size, generator=generator) if shuffle else torch.arange(size)
    for start in range(0, size, batch_size):
        yield order[start : start + batch_size]


@dataclass(frozen=True)
class Augmentation:
    """Random changes that make MNIST look more like digits drawn with a mouse or a finger."""

    max_rotation_degrees: float = 12.0
    scale_range: tuple[float, float] = (0.85, 1.15)
    max_shift_pixels: float = 2.5
    thicken_probability: float = 0.25
    thin_probability: float = 0.15


def augment_batch(
    images: torch.Tensor, spec: DatasetSpec, generator: torch.Generator, aug: Augmentation
) -> torch.Tensor:
    """Rotate, scale, shift and thicken or thin strokes of a normalised batch, all on tensors."""
    n, _, height, width = images.shape
    background = normalize(torch.tensor(0.0), spec).item()
    # Work with the background at 0 so that grid_sample's zero padding is background.
    ink = images - background

    # The draws come from ``generator`` on the batch's own device, so a GPU never waits for them.
    def uniform(low: float, high: float) -> torch.Tensor:
        return torch.rand(n, generator=generator, device=images.device) * (high - low) + low

    angle = uniform(-aug.max_rotation_degrees, aug.max_rotation_degrees) * math.pi / 180
    scale = uniform(*aug.scale_range)
    shift_x = uniform(-aug.max_shift_pixels, aug.max_shift_pixels) * 2 / width
    shift_y = uniform(-aug.max_shift_pixels, aug.max_shift_pixels) * 2 / height
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack(
        [torch.stack([cos, -sin, shift_x], 1), torch.stack([sin, cos, shift_y], 1)], 1
    )
    grid = F.affine_grid(theta, list(ink.shape), align_corners=False)
    ink = F.grid_sample(ink, grid, mode="bilinear", padding_mode="zeros", align_corners=False)

    # Stroke width: a 3x3 grey dilation thickens, an erosion thins (drawn strokes vary a lot).
    # Both are computed for the whole batch and chosen per image with torch.where: no boolean
    # indexing, whose data-dependent shapes would make a GPU wait for the host.
    choice = torch.rand(n, generator=generator, device=images.device)
    thicken = choice < aug.thicken_probability
    thin = (choice >= aug.thicken_probability) & (
        choice < aug.thicken_probability + aug.thin_probability
    )
    dilated = F.max_pool2d(ink, 3, stride=1, padding=1)
    eroded = -F.max_pool2d(-ink, 3, stride=1, padding=1)
    # Erosion can erase a thin digit entirely; keep the original where too little remains.
    kept = eroded.flatten(1).amax(1) > 0.5 * ink.flatten(1).amax(1)
    per_image = (n, 1, 1, 1)
    ink = torch.where(thicken.view(per_image), dilated, ink)
    ink = torch.where((thin & kept).view(per_image), eroded, ink)
    return ink + background
