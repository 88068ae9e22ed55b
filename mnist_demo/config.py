"""Constants and paths shared by training, inference and the UI. No I/O happens here."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from mnist_demo.settings import DATA, WEIGHTS

# Where datasets live: the --data-dir option wins, then $MNIST_DEMO_DATA, then ./data.
DATA_ENV = DATA.name  # For messages that tell the user which variable to set.

# Shipped weights sit at the repository's top level, beside the package.
PACKAGE_DIR = Path(__file__).resolve().parent
DEFAULT_WEIGHTS_DIR = PACKAGE_DIR.parent / "weights"

IMAGE_SIZE = 28


@dataclass(frozen=True)
class DatasetSpec:
    """What the code needs to know about one dataset.

    ``mean`` and ``std`` are the training split's pixel statistics (pixels in [0, 1]); the one
    normalisation used by training and by prediction is built from them.
    """

    name: str
    title: str
    torchvision_class: str
    mean: float
    std: float
    class_names: tuple[str, ...]
    weights_file: str
    # MNIST digits were fitted into a 20x20 box and centred by centre of mass in 28x28
    # (LeCun et al.); Fashion-MNIST items were scaled to fill the 28x28 frame.
    fit_box: int
    centre_by_mass: bool


MNIST = DatasetSpec(
    name="mnist",
    title="MNIST digits",
    torchvision_class="MNIST",
    mean=0.1307,
    std=0.3081,
    class_names=tuple(str(digit) for digit in range(10)),
    weights_file="mnist_cnn.pth",
    fit_box=20,
    centre_by_mass=True,
)

FASHION_MNIST = DatasetSpec(
    name="fashion",
    title="Fashion-MNIST clothing",
    torchvision_class="FashionMNIST",
    mean=0.2860,
    std=0.3530,
    class_names=(
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ),
    weights_file="fashion_cnn.pth",
    fit_box=28,
    centre_by_mass=False,
)

DATASETS: dict[str, DatasetSpec] = {spec.name: spec for spec in (MNIST, FASHION_MNIST)}


def dataset_spec(name: str) -> DatasetSpec:
    """Look a dataset up by name ("mnist" or "fashion"), with a clear error for anything else."""
    key = name.lower().replace("-", "").replace("_", "")
    aliases = {"mnist": "mnist", "fashion": "fashion", "fashionmnist": "fashion"}
    if key not in aliases:
        choices = ", ".join(DATASETS)
        raise ValueError(f"unknown dataset {name!r}; choose one of: {choices}")
    return DATASETS[aliases[key]]


def data_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The dataset root: an explicit path, else $MNIST_DEMO_DATA, else ./data."""
    if explicit:
        return Path(explicit)
    return Path(DATA.read())


def weights_dir() -> Path:
    """Where the shipped weights are read from ($MNIST_DEMO_WEIGHTS overrides the default)."""
    override = WEIGHTS.read()
    return Path(override) if override else DEFAULT_WEIGHTS_DIR


def shipped_weights_path(dataset: str) -> Path:
    return weights_dir() / dataset_spec(dataset).weights_file
