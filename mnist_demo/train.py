"""The one training loop, as a generator of progress events, for the CLI and the UI alike.

The trainer knows nothing of the UI: it yields :class:`StepEvent` every few batches and
:class:`EpochEvent` after each epoch's test evaluation (see :mod:`mnist_demo.progress`).
:class:`TrainingRun` owns a run: its model, its events and its stop request. A caller stops it
between steps with :meth:`TrainingRun.stop` or by closing the generator; either way
``run.model`` is usable.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from threading import Event

import torch
import torch.nn.functional as F

from mnist_demo.config import dataset_spec
from mnist_demo.data import Augmentation, Split, augment_batch, batch_indices, load_split
from mnist_demo.device import resolve_device
from mnist_demo.evaluate import evaluate
from mnist_demo.exposure import Exposure
from mnist_demo.model import ModelConfig, SmallCNN
from mnist_demo.options import TrainConfig
from mnist_demo.progress import EpochEvent, Events, Meter, StepEvent, Sums, TrainingDiverged

__all__ = ["EpochEvent", "StepEvent", "TrainConfig", "TrainingDiverged", "TrainingRun", "train"]

# A dataset folder; None leaves the choice to mnist_demo.config.data_dir.
DataRoot = str | os.PathLike[str] | None


@dataclass
class TrainingRun:
    """One run of :class:`TrainConfig` and the one owner of what it makes.

    Iterate it for progress events. ``model`` is the network it trains: a new SmallCNN unless
    set before iterating (to start from saved weights); ``history`` holds the events so far.
    """

    config: TrainConfig
    data_root: DataRoot = None
    model: SmallCNN | None = None
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
        return self.events()

    def events(self, loop: Callable[..., Events] | None = None) -> Events:
        """The run's events from ``loop``: :func:`train` unless another loop with its signature
        is given (the engine's tests run :func:`mnist_demo.engine.train_on_device` this way)."""
        self.model = starting_model(self.config, self.model)
        for event in (loop or train)(self.config, self.model, self.data_root, self.stop_request):
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


def native_bf16() -> bool:
    """Whether this CPU computes bfloat16 natively; emulated bf16 would be slower than float32."""
    get_capabilities = getattr(torch.cpu, "get_capabilities", None)
    if get_capabilities is None:
        return False
    capabilities = get_capabilities()
    return bool(capabilities.get("avx512_bf16") or capabilities.get("amx_bf16"))


def use_bf16(config: TrainConfig) -> bool:
    return native_bf16() if config.bf16 is None else config.bf16


def build_optimizer(model: SmallCNN, config: TrainConfig) -> torch.optim.Optimizer:
    # The fused kernels update all parameters in one call instead of a Python loop per tensor.
    if config.optimizer == "sgd":
        return torch.optim.SGD(
            model.parameters(), lr=config.learning_rate, momentum=config.momentum, fused=True
        )
    return torch.optim.Adam(model.parameters(), lr=config.learning_rate, fused=True)


def build_scheduler(optimizer: torch.optim.Optimizer, config: TrainConfig, steps_per_epoch: int):
    """Returns (scheduler, steps_per_batch): OneCycle moves every batch, StepLR every epoch."""
    if config.schedule == "steplr":
        scheduler = torch.optim.lr_scheduler.StepLR(optimizer, config.step_size, config.gamma)
        return scheduler, False
    if config.schedule == "onecycle":
        scheduler = torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=config.learning_rate, total_steps=config.epochs * steps_per_epoch
        )
        return scheduler, True
    return None, False


@dataclass
class Loop:
    """What the CPU loop makes once per run: the data, the optimiser and its schedule."""

    model: SmallCNN
    train_split: Split
    test_split: Split
    batch_size: int
    generator: torch.Generator  # Shuffles, augmentation and mixing (dropout uses torch's own).
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler | None
    per_batch: bool  # Whether the schedule moves every batch (else every epoch).
    augmentation: Augmentation | None
    exposure: Exposure | None
    bf16: bool

    @property
    def steps_per_epoch(self) -> int:
        return math.ceil(len(self.train_split) / self.batch_size)

    def batches(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """One epoch of shuffled (N, 1, 28, 28) images and (N,) labels, augmented and mixed."""
        split, generator = self.train_split, self.generator
        for indices in batch_indices(len(split), self.batch_size, True, generator):
            images, labels = split.images[indices], split.labels[indices]
            if self.augmentation:
                images = augment_batch(images, split.spec, generator, self.augmentation)
            if self.exposure:
                images, _ = self.exposure.mix(images, labels, generator)
            yield images.contiguous(memory_format=torch.channels_last), labels

    def step(self, images: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Forward, loss, backward, update; returns the labelled samples' logits and the loss."""
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bf16):
            logits = self.model(images)  # (N, 10), outliers mixed in after the N samples
        if self.exposure:
            logits, loss = self.exposure.split(logits.float(), labels)
        else:
            loss = F.cross_entropy(logits.float(), labels)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        if self.per_batch:
            self.scheduler.step()
        return logits.detach(), loss.detach()

    def end_epoch(self) -> None:
        if self.scheduler is not None and not self.per_batch:
            self.scheduler.step()


def set_up(config: TrainConfig, model: SmallCNN, data_root: DataRoot) -> Loop:
    """Load the data and build the optimiser and its schedule for ``model``."""
    if config.threads:
        torch.set_num_threads(config.threads)
    spec = dataset_spec(config.dataset)
    train_split = load_split(spec.name, train=True, root=data_root).subset(config.subset)
    test_split = load_split(spec.name, train=False, root=data_root).subset(config.test_subset)
    generator = torch.Generator().manual_seed(config.seed)
    # channels_last makes CPU max-pooling and convolutions much faster (pytorch#51393).
    model.to(memory_format=torch.channels_last)
    optimizer = build_optimizer(model, config)
    steps_per_epoch = math.ceil(len(train_split) / config.batch_size)
    scheduler, per_batch = build_scheduler(optimizer, config, steps_per_epoch)
    augmentation = Augmentation() if config.augment else None
    exposure = Exposure.for_config(config)
    return Loop(
        model,
        train_split,
        test_split,
        config.batch_size,
        generator,
        optimizer,
        scheduler,
        per_batch,
        augmentation,
        exposure,
        use_bf16(config),
    )


def train(
    config: TrainConfig, model: SmallCNN, data_root: DataRoot = None, stop: Event | None = None
) -> Events:
    """Train ``model`` in place and yield progress events; it ends in eval mode however the loop
    ends. ``stop`` (set from any thread) ends the loop before its next step.

    Dropout draws from torch's global generator: seed it first, as :func:`starting_model` does
    (and :class:`TrainingRun` with it), for a run that repeats.
    """
    if resolve_device(config.device).type != "cpu":
        from mnist_demo.engine import train_on_device  # It builds on this module.

        yield from train_on_device(config, model, data_root, stop)
        return
    loop = set_up(config, model, data_root)
    meter = Meter(config.epochs, loop.steps_per_epoch, config.log_every, config.learning_rate)
    try:
        for epoch in range(1, config.epochs + 1):
            model.train()
            sums = Sums()
            meter.new_window()
            for images, labels in loop.batches():
                if stop is not None and stop.is_set():
                    return
                logits, loss = loop.step(images, labels)
                sums.add(logits, loss, labels)
                if meter.count(len(labels)):
                    yield meter.step_event(epoch, *sums.window())
                    sums.new_window()
                    meter.new_window()
            loop.end_epoch()
            test = evaluate(model, loop.test_split)
            yield meter.epoch_event(epoch, *sums.epoch(), len(loop.train_split), test)
    finally:
        # Whether finished, stopped or closed, the caller gets a model ready for inference.
        model.eval()
