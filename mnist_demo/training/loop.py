"""The one training loop, as a generator of progress events, for the CLI and the UI alike.

A run is three parts, on whichever device trains (the CPU, a CUDA GPU or mps):

* the batch source, :class:`Batches`: both splits copied to the device once, an epoch's order
  drawn on the device by a device generator, a batch an index slice of it, augmented and mixed
  with outliers and coarse scans there (no DataLoader, no per-batch copy from the host);
* the step, :class:`mnist_demo.training.stepper.Stepper`: plain, or captured in a CUDA graph on
  CUDA; it keeps the loss sums on the device;
* this loop: epochs, the schedule, the stop request, the test evaluation after each epoch (and,
  when asked, a few inside it), and the events (:mod:`mnist_demo.training.progress`) the CLI's
  progress bar and the Retrain tab's charts read.

:class:`TrainingRun` owns a run: its model, its events and its stop request. A caller stops it
between steps with :meth:`TrainingRun.stop` or by closing the generator; either way
``run.model`` is usable: on the CPU, in eval mode.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from threading import Event

import torch

from mnist_demo.config import dataset_spec
from mnist_demo.data import Augmentation, Split, augment_batch, load_split
from mnist_demo.device import resolve_device
from mnist_demo.recognition.model import ModelConfig, SmallCNN
from mnist_demo.training.evaluate import evaluate
from mnist_demo.training.exposure import Exposure
from mnist_demo.training.options import TrainConfig
from mnist_demo.training.progress import EpochEvent, Events, Meter, StepEvent, TrainingDiverged
from mnist_demo.training.stepper import (
    Stepper,
    build_optimizer,
    build_scheduler,
    use_bf16,
    wants_graph,
)

__all__ = ["EpochEvent", "StepEvent", "TrainConfig", "TrainingDiverged", "TrainingRun", "train"]

# A dataset folder; None leaves the choice to mnist_demo.config.data_dir.
DataRoot = str | os.PathLike[str] | None
# A test score inside an epoch reads an evenly spaced sample of the test set, every 5th of its
# 10,000 images: a fifth of the cost of the whole set (about 0.1 s against 0.5 s on one CPU
# thread), and within a point of its accuracy (measured in quick runs: 0.0-0.9 points below;
# the first 2,000 images, the harder ones, read 1-5 points below). An epoch's end reads them all.
INSIDE_TEST_IMAGES = 2000


@dataclass
class TrainingRun:
    """One run of :class:`TrainConfig` and the one owner of what it makes.

    Iterate it for progress events. ``model`` is the network it trains: a new SmallCNN unless
    set before iterating (to start from saved weights); ``history`` holds the events so far.
    ``tests_per_epoch`` above 1 also evaluates the test set that many times minus one inside each
    epoch (see :func:`train`). ``extra_data`` (normalised images and labels, such as a class's
    drawings: :func:`mnist_demo.data.load_image_folder`) joins the training set.
    """

    config: TrainConfig
    data_root: DataRoot = None
    model: SmallCNN | None = None
    tests_per_epoch: int = 1
    extra_data: Split | None = None
    history: list[StepEvent | EpochEvent] = field(default_factory=list)
    # The loop checks it before every step; set it with stop() from any thread.
    stop_request: Event = field(default_factory=Event, repr=False)

    def stop(self) -> None:
        """Ask the loop to end before its next step (safe from another thread)."""
        self.stop_request.set()

    @property
    def completed(self) -> bool:
        epochs = [event for event in self.history if isinstance(event, EpochEvent)]
        return len(epochs) == self.config.epochs

    @property
    def stopped(self) -> bool:
        """Whether :meth:`stop` ended the run before its last epoch."""
        return self.stop_request.is_set() and not self.completed

    def __iter__(self) -> Events:
        self.model = starting_model(self.config, self.model)
        events = train(
            self.config,
            self.model,
            self.data_root,
            self.stop_request,
            self.tests_per_epoch,
            self.extra_data,
        )
        for event in events:
            self.history.append(event)
            yield event


def starting_model(config: TrainConfig, model: SmallCNN | None = None) -> SmallCNN:
    """Seed torch's global generator, which a new network's weights and dropout draw from, and
    return ``model``, or a new SmallCNN for ``config`` when it is None."""
    torch.manual_seed(config.seed)
    if model is not None:
        return model
    spec = dataset_spec(config.dataset)
    return SmallCNN(ModelConfig(batch_norm=config.batch_norm, num_classes=len(spec.class_names)))


@dataclass
class Batches:
    """The batch source: both splits resident on the training device, shuffled there."""

    train: Split
    test: Split
    batch_size: int
    generator: torch.Generator  # Shuffles, augmentation and mixing (dropout uses torch's own).
    augmentation: Augmentation | None
    exposure: Exposure | None

    @classmethod
    def for_config(
        cls,
        config: TrainConfig,
        data_root: DataRoot,
        device: torch.device,
        extra: Split | None = None,
    ):
        spec = dataset_spec(config.dataset)
        train_split = load_split(spec.name, True, data_root).subset(config.subset)
        if extra is not None:
            train_split = train_split.joined(extra)
        test_split = load_split(spec.name, False, data_root).subset(config.test_subset)
        exposure = Exposure.for_config(config)
        return cls(
            on_device(train_split, device),
            on_device(test_split, device),
            config.batch_size,
            torch.Generator(device=device).manual_seed(config.seed),
            Augmentation() if config.augment else None,
            exposure.to(device) if exposure is not None else None,
        )

    @property
    def steps_per_epoch(self) -> int:
        return math.ceil(len(self.train) / self.batch_size)

    def epoch(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """One epoch of shuffled (N, 1, 28, 28) images and (N,) labels, augmented and mixed."""
        split, generator = self.train, self.generator
        device = split.images.device
        order = torch.randperm(len(split), generator=generator, device=device)
        for start in range(0, len(split), self.batch_size):
            indices = order[start : start + self.batch_size]
            images, labels = split.images[indices], split.labels[indices]
            if self.augmentation:
                images = augment_batch(images, split.spec, generator, self.augmentation)
            if self.exposure is not None:
                images, _ = self.exposure.mix(images, labels, generator)
            if device.type == "cpu":
                images = images.contiguous(memory_format=torch.channels_last)
            yield images, labels


def on_device(split: Split, device: torch.device) -> Split:
    return Split(split.images.to(device), split.labels.to(device), split.spec)


def spaced_sample(split: Split, size: int) -> Split:
    """About ``size`` images of ``split``, evenly spaced through it (all of a smaller split)."""
    step = len(split) // size
    if step <= 1:
        return split
    return Split(split.images[::step], split.labels[::step], split.spec)


def train(
    config: TrainConfig,
    model: SmallCNN,
    data_root: DataRoot = None,
    stop: Event | None = None,
    tests_per_epoch: int = 1,
    extra: Split | None = None,
) -> Events:
    """Train ``model`` in place on ``config.device`` and yield progress events. ``stop`` (set
    from any thread) ends the loop before its next step. Whether finished, stopped or closed,
    the model ends on the CPU in eval mode, ready for prediction and saving.

    ``tests_per_epoch`` above 1 also scores the test set (a sample of it: INSIDE_TEST_IMAGES) at
    evenly spaced steps inside each epoch, and puts the score on that step's StepEvent. An
    evaluation draws no random numbers and puts the model back in training mode, so the
    training's numbers stay the same. ``extra`` joins the training set (after ``subset``).

    Dropout draws from torch's global generator: seed it first, as :func:`starting_model` does
    (and :class:`TrainingRun` with it); the same seed on the same device gives the same numbers.
    """
    device = resolve_device(config.device)
    graph = wants_graph(config, device)
    if config.threads:
        torch.set_num_threads(config.threads)
    if device.type == "cuda":
        # cuDNN's fastest kernels may sum in any order; the same seed must give the same run.
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
    batches = Batches.for_config(config, data_root, device, extra)
    model.to(device)
    if device.type == "cpu":
        # channels_last makes CPU max-pooling and convolutions much faster (pytorch#51393).
        model.to(memory_format=torch.channels_last)
    optimizer = build_optimizer(model, config, graph)
    scheduler, per_batch = build_scheduler(optimizer, config, batches.steps_per_epoch)
    inside_test = spaced_sample(batches.test, INSIDE_TEST_IMAGES)
    bf16 = use_bf16(config, device)
    stepper = Stepper(model, optimizer, config.batch_size, bf16, graph, batches.exposure)
    meter = Meter(
        config.epochs,
        batches.steps_per_epoch,
        config.log_every,
        config.learning_rate,
        tests_per_epoch,
    )
    try:
        for epoch in range(1, config.epochs + 1):
            model.train()
            meter.new_window()
            for images, labels in batches.epoch():
                if stop is not None and stop.is_set():
                    return
                stepper.step(images, labels)
                if per_batch:
                    scheduler.step()
                if meter.count(len(labels)):
                    event = meter.step_event(epoch, *stepper.window())
                    if meter.test_due:
                        test = evaluate(model, inside_test)  # Back in training mode after.
                        event = replace(event, test_loss=test.loss, test_accuracy=test.accuracy)
                    yield event
                    meter.new_window()
            if scheduler is not None and not per_batch:
                scheduler.step()
            epoch_sums = stepper.epoch()
            test = evaluate(model, batches.test)
            yield meter.epoch_event(epoch, *epoch_sums, len(batches.train), test)
    finally:
        # Whether finished, stopped or closed, the caller gets a model ready for inference.
        model.eval()
        model.to("cpu")
