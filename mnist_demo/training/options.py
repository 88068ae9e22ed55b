"""The one table of training options: :class:`TrainConfig`, each field with its default, the
values it may take, its help, and where it appears (a ``train`` flag, a lesson link's name, a
Retrain control); and the named presets, for the command line and the Retrain tab alike.

As minGPT's one config object feeds its command line, this table feeds ``mnist-demo train``'s
argparse (:mod:`mnist_demo.cli.train`), the lesson links (:mod:`mnist_demo.serving.presets`) and the
Retrain tab's controls (:mod:`mnist_demo.ui.tabs.retrain`): a new option is one row here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from mnist_demo.config import DATASETS, dataset_spec
from mnist_demo.device import DEVICE_CHOICES, check_choice

# Both MNIST and Fashion-MNIST have 60,000 training images (and 10,000 test images).
TRAIN_IMAGES = 60_000
OPTIMIZERS = ("adam", "sgd")
SCHEDULES = ("none", "steplr", "onecycle")


@dataclass(frozen=True)
class Option:
    """One training option: what values are valid, and how each surface offers it.

    ``choices``, ``at_least``, ``at_most`` and ``above`` decide what :class:`TrainConfig`
    accepts. A link and a Retrain control may offer less: ``offered`` (a dropdown's values) or
    ``span`` (a slider's or number box's ends; a high end of None is the host's epoch limit).
    """

    help: str
    kind: type = str
    choices: tuple = ()
    at_least: float | None = None
    at_most: float | None = None
    above: float | None = None
    flag: str | None = None  # The train command's flag; None: not on the command line.
    switch: bool | None = None  # For an on/off flag: the value it sets.
    words: Mapping[str, Any] | None = None  # A flag's words for values (--precision bf16).
    link: str | None = None  # The lesson link's query name; None: not settable by link.
    label: str | None = None  # The Retrain control's label; None: no control.
    info: str | None = None  # A line under the Retrain control.
    offered: tuple = ()
    span: tuple[int, int | None] | None = None
    step: int | None = None  # A slider's step; a span without one is a number box.

    def check(self, name: str, value: Any) -> None:
        """Raise ValueError, naming the option, for a value TrainConfig must refuse."""
        if value is None:
            return
        if self.choices and value not in self.choices:
            raise ValueError(f"{name} must be one of {self.choices}")
        if self.at_least is not None and not value >= self.at_least:
            raise ValueError(f"{name} must be at least {self.at_least}")
        if self.at_most is not None and not value <= self.at_most:
            raise ValueError(f"{name} must be at most {self.at_most}")
        if self.above is not None and not value > self.above:
            above = "positive" if self.above == 0 else f"above {self.above}"
            raise ValueError(f"{name} must be {above}")


def option(default: Any, help: str, **details: Any) -> Any:
    """A TrainConfig field whose metadata is its row of the options table."""
    if default is not None and "kind" not in details:
        details["kind"] = type(default)
    return field(default=default, metadata={"option": Option(help, **details)})


@dataclass
class TrainConfig:
    """Everything that decides a training run. The defaults are the lesson's."""

    dataset: str = option(
        "mnist", "dataset", choices=tuple(DATASETS), flag="--dataset", link="dataset",
        label="Dataset",
    )  # fmt: skip
    epochs: int = option(
        5, "passes over the training set", at_least=1, flag="--epochs", link="epochs",
        label="Epochs", span=(1, None), step=1,
    )  # fmt: skip
    batch_size: int = option(
        128, "images per optimiser step", at_least=1, flag="--batch-size", link="batch",
        label="Batch size", offered=(32, 64, 128, 256, 512),
    )  # fmt: skip
    learning_rate: float = option(
        1e-3, "(peak) learning rate", above=0, flag="--learning-rate", link="lr",
        label="Learning rate", offered=(0.0001, 0.0003, 0.001, 0.003, 0.01, 0.03, 0.1),
    )  # fmt: skip
    optimizer: str = option(
        "adam", "optimiser", choices=OPTIMIZERS, flag="--optimizer", link="optimizer",
        label="Optimizer",
    )  # fmt: skip
    momentum: float = option(0.9, "SGD momentum", flag="--momentum")
    batch_norm: bool = option(
        False, "BatchNorm after each conv", flag="--batch-norm", switch=True, link="bn",
        label="BatchNorm after each convolution",
    )  # fmt: skip
    schedule: str = option(
        "none", "LR schedule", choices=SCHEDULES, flag="--schedule", link="schedule",
        label="Learning-rate schedule",
    )  # fmt: skip
    step_size: int = option(2, "StepLR: epochs between decays", flag="--step-size")
    gamma: float = option(0.5, "StepLR: decay factor", flag="--gamma")
    subset: int | None = option(
        None, "train on the first N training images", kind=int, at_least=1, flag="--subset",
        link="subset", label="Training images", span=(1000, TRAIN_IMAGES), step=1000,
    )  # fmt: skip
    test_subset: int | None = option(
        None, "evaluate on the first N test images", kind=int, at_least=1
    )
    augment: bool = option(
        False, "random rotate/scale/shift/stroke", flag="--augment", switch=True,
        link="augment", label="Augment (rotate, scale, shift, stroke width)",
    )  # fmt: skip
    # Teach it to say "not a digit" and to read coarse scans: see mnist_demo/training/exposure.py.
    outlier_exposure: bool = option(
        False, "teach it to say 'not a digit': train on synthetic non-digits pushed to uniform",
        flag="--outlier-exposure", switch=True, link="not_a_digit",
        label='Teach it to say "not a digit" (also train on letters and scribbles)',
        info="Train once with and once without, then draw the same letters to compare.",
    )  # fmt: skip
    coarse_scans: bool = option(
        False, "also train on digits scanned at 8-16 px", flag="--coarse-scans", switch=True
    )
    drawn_strokes: bool = option(
        False, "also train on digits redrawn with a round brush, as the pad draws them",
        flag="--drawn-strokes", switch=True,
    )  # fmt: skip
    number_pieces: bool = option(
        False, "also train on parts cut from composed numbers: halves and pairs as non-digits",
        flag="--number-pieces", switch=True,
    )  # fmt: skip
    # torch.manual_seed takes any 64-bit number; the form, the link and the API take the
    # same 0..2**31-1 (2**80 once reached the trainer and failed there).
    seed: int = option(
        0, "random seed (same seed, same run)", at_least=0, at_most=2**31 - 1, flag="--seed",
        link="seed", label="Seed (same seed, same run)", span=(0, 2**31 - 1),
    )  # fmt: skip
    threads: int | None = option(
        None, "torch CPU threads (default: torch's)", kind=int, at_least=1, flag="--threads"
    )  # None leaves torch's thread setting alone.
    # bfloat16 autocast for the forward pass (weights and optimiser stay float32). None: on where
    # the CPU computes bf16 natively (AVX512-BF16 or AMX), where it is ~1.5x faster per step.
    bf16: bool | None = option(
        None, "forward-pass precision; auto uses bf16 where the CPU has it natively",
        kind=bool, flag="--precision", words={"auto": None, "bf16": True, "fp32": False},
    )  # fmt: skip
    log_every: int = option(20, "batches between progress events", at_least=1)
    # Where to train: a GPU runs mnist_demo.training.stepper, the data resident on it;
    # cuda_graph=None there means capture the step in a CUDA graph on CUDA. The command line's
    # --device is the one every command shares (mnist_demo.cli.common), whose default is "auto".
    device: str = option("cpu", "where to train", choices=DEVICE_CHOICES)
    cuda_graph: bool | None = option(
        None, "on CUDA, run every step eagerly", kind=bool, flag="--no-cuda-graph", switch=False
    )

    def __post_init__(self) -> None:
        self.dataset = dataset_spec(self.dataset).name
        self.optimizer = self.optimizer.lower()
        self.schedule = self.schedule.lower()
        self.device = check_choice(self.device)
        for name, row in OPTIONS.items():
            row.check(name, getattr(self, name))

    @property
    def images_per_epoch(self) -> int:
        """How many training images one epoch goes through."""
        return min(self.subset or TRAIN_IMAGES, TRAIN_IMAGES)


OPTIONS: dict[str, Option] = {item.name: item.metadata["option"] for item in fields(TrainConfig)}
DEFAULTS: dict[str, Any] = {item.name: item.default for item in fields(TrainConfig)}

# The Retrain tab's controls, in the order its Start button (and so the /train API) takes them.
CONTROLS = (
    "dataset",
    "epochs",
    "learning_rate",
    "batch_size",
    "optimizer",
    "batch_norm",
    "schedule",
    "subset",
    "augment",
    "seed",
    "outlier_exposure",
)


@dataclass(frozen=True)
class NamedPreset:
    """Named starting settings: ``mnist-demo train --preset NAME``, and where it has a button
    label, ``?preset=NAME`` in a lesson link and a button on the Retrain tab."""

    values: dict[str, Any]
    button: str | None = None


# The architecture always stays the lesson's SmallCNN. "fast" trades the lesson's constant
# learning rate for a one-cycle schedule (warm up to a higher peak, then anneal), which reaches
# 99% test accuracy in fewer epochs, and a larger batch: fewer, cheaper-per-image steps (on a GPU,
# fewer kernel launches). "quick" is for a class: over 97% test accuracy in 7-8 s on one
# thread of the 2-core CI machine (5 s on two), so thirty students train in turn in minutes.
PRESETS: dict[str, NamedPreset] = {
    "quick": NamedPreset(
        {
            "epochs": 1,
            "subset": 15000,
            "batch_size": 64,
            "learning_rate": 0.003,
            "optimizer": "adam",
            "schedule": "onecycle",
        },
        button="Quick (about 7 s)",
    ),
    # The lesson exactly: 5 epochs of Adam at 1e-3, batch 128, all 60,000 images (about 36 s).
    "lesson": NamedPreset(
        {
            "epochs": 5,
            "subset": TRAIN_IMAGES,
            "batch_size": 128,
            "learning_rate": 0.001,
            "optimizer": "adam",
            "schedule": "none",
        },
        button="The lesson (5 epochs)",
    ),
    "fast": NamedPreset(
        {"epochs": 3, "batch_size": 256, "learning_rate": 4e-3, "schedule": "onecycle"}
    ),
}
# The presets a lesson link and the Retrain tab's buttons offer.
BUTTON_PRESETS = tuple(name for name, preset in PRESETS.items() if preset.button)


def config_from_values(values: Mapping[str, Any]) -> TrainConfig:
    """A TrainConfig from loose values, as a form or an API call sends them (a slider's 4.0, a
    checkbox's "false"): each converted to its option's kind; a missing one is the default."""
    return TrainConfig(**{name: loose_value(name, value) for name, value in values.items()})


def loose_value(name: str, value: Any) -> Any:
    option, default = OPTIONS[name], DEFAULTS[name]
    # For an option whose default is None ("all", "torch's"), 0 means that default too.
    if value is None or value == "" or (default is None and not value):
        return default
    if option.kind is bool:
        return strict_bool(value, name)
    return option.kind(value)


def strict_bool(value: Any, name: str) -> bool:
    """A checkbox value: True/False, or "true"/"false" from an API call ("false" is not True)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise ValueError(f"{name} must be true or false, not {value!r}")
