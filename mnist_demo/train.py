"""The one training loop, as a generator of progress events, for the CLI and the UI alike.

The trainer knows nothing of the UI: it yields :class:`StepEvent` every few batches and
:class:`EpochEvent` after each epoch's test evaluation. A caller stops it between steps with
:meth:`TrainingRun.stop` or by closing the generator; either way ``run.model`` is usable.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F

from mnist_demo.config import dataset_spec
from mnist_demo.data import Augmentation, augment_batch, batch_indices, load_split
from mnist_demo.device import resolve_device
from mnist_demo.evaluate import evaluate
from mnist_demo.exposure import Exposure
from mnist_demo.model import ModelConfig, SmallCNN
from mnist_demo.options import TrainConfig

# Cross-entropy starts near ln(10) = 2.3 for ten classes. A mean loss a thousand times larger
# means the weights have blown up, even while the number is still finite.
DIVERGED_LOSS = 1e3


@dataclass(frozen=True)
class StepEvent:
    epoch: int  # 1-based.
    step: int  # Optimiser steps so far, over all epochs.
    total_steps: int
    train_loss: float  # Mean over the batches since the previous event.
    train_accuracy: float
    samples_per_second: float
    elapsed_seconds: float

    @property
    def progress(self) -> float:
        return self.step / self.total_steps


@dataclass(frozen=True)
class EpochEvent:
    epoch: int
    step: int
    total_steps: int
    train_loss: float  # Mean over the whole epoch.
    train_accuracy: float
    test_loss: float
    test_accuracy: float
    elapsed_seconds: float

    @property
    def progress(self) -> float:
        return self.step / self.total_steps


class TrainingDiverged(RuntimeError):
    """The loss blew up (NaN, infinite or huge); the run stops and its model must not be used."""


@dataclass
class TrainingRun:
    """One run of :class:`TrainConfig`. Iterate it for events; ``model`` is the trained network."""

    config: TrainConfig
    data_root: str | os.PathLike[str] | None = None
    model: SmallCNN | None = None
    history: list[StepEvent | EpochEvent] = field(default_factory=list)
    stopped: bool = False
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)

    def stop(self) -> None:
        """Ask the loop to end before its next step (safe from another thread)."""
        self._stop.set()

    @property
    def completed(self) -> bool:
        epochs = [event for event in self.history if isinstance(event, EpochEvent)]
        return len(epochs) == self.config.epochs

    def __iter__(self) -> Iterator[StepEvent | EpochEvent]:
        for event in train(self.config, self.data_root, self):
            self.history.append(event)
            yield event


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


def train(
    config: TrainConfig,
    data_root: str | os.PathLike[str] | None = None,
    run: TrainingRun | None = None,
) -> Iterator[StepEvent | EpochEvent]:
    """Train ``run.model`` (a fresh SmallCNN if None) and yield progress events."""
    run = run or TrainingRun(config, data_root)
    if resolve_device(config.device).type != "cpu":
        if config.outlier_exposure or config.coarse_scans:
            # The device engine has its own step, which does not mix in outliers yet.
            raise ValueError(
                "outlier exposure and coarse scans train on the CPU only for now: use --device cpu"
            )
        from mnist_demo.engine import train_on_device  # It builds on this module.

        yield from train_on_device(config, data_root, run)
        return
    if config.threads:
        torch.set_num_threads(config.threads)
    spec = dataset_spec(config.dataset)
    train_split = load_split(spec.name, train=True, root=data_root).subset(config.subset)
    test_split = load_split(spec.name, train=False, root=data_root).subset(config.test_subset)

    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    if run.model is None:
        run.model = SmallCNN(
            ModelConfig(batch_norm=config.batch_norm, num_classes=len(spec.class_names))
        )
    model = run.model
    # channels_last makes CPU max-pooling and convolutions much faster (pytorch#51393).
    model.to(memory_format=torch.channels_last)
    optimizer = build_optimizer(model, config)
    steps_per_epoch = math.ceil(len(train_split) / config.batch_size)
    scheduler, per_batch = build_scheduler(optimizer, config, steps_per_epoch)
    augmentation = Augmentation() if config.augment else None
    exposure = Exposure.for_config(config)
    bf16 = use_bf16(config)
    total_steps = config.epochs * steps_per_epoch
    step = 0
    started = time.perf_counter()
    try:
        for epoch in range(1, config.epochs + 1):
            model.train()
            epoch_loss = torch.zeros(())
            epoch_correct = torch.zeros((), dtype=torch.int64)
            window_loss, window_correct, window_samples = (
                torch.zeros(()),
                torch.zeros((), dtype=torch.int64),
                0,
            )
            window_started = time.perf_counter()
            for indices in batch_indices(len(train_split), config.batch_size, True, generator):
                if run._stop.is_set():
                    run.stopped = True
                    return
                images, labels = train_split.images[indices], train_split.labels[indices]
                if augmentation:
                    images = augment_batch(images, spec, generator, augmentation)
                if exposure:
                    images, _ = exposure.mix(images, generator)
                images = images.contiguous(memory_format=torch.channels_last)
                with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                    logits = model(images)
                if exposure:
                    logits, loss = exposure.split(logits.float(), labels)
                else:
                    loss = F.cross_entropy(logits.float(), labels)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                if per_batch:
                    scheduler.step()
                step += 1
                batch_loss = loss.detach() * len(labels)
                batch_correct = (logits.detach().argmax(1) == labels).sum()
                epoch_loss += batch_loss
                epoch_correct += batch_correct
                window_loss += batch_loss
                window_correct += batch_correct
                window_samples += len(labels)
                if step % config.log_every == 0 or step % steps_per_epoch == 0:
                    mean_loss = window_loss.item() / window_samples
                    if not math.isfinite(mean_loss) or mean_loss > DIVERGED_LOSS:
                        raise TrainingDiverged(
                            f"the loss reached {mean_loss:.3g} at step {step}: the learning rate "
                            f"({config.learning_rate:g}) is probably too high"
                        )
                    now = time.perf_counter()
                    yield StepEvent(
                        epoch=epoch,
                        step=step,
                        total_steps=total_steps,
                        train_loss=mean_loss,
                        train_accuracy=window_correct.item() / window_samples,
                        samples_per_second=window_samples / max(now - window_started, 1e-9),
                        elapsed_seconds=now - started,
                    )
                    window_loss.zero_(), window_correct.zero_()
                    window_samples, window_started = 0, time.perf_counter()
            if scheduler is not None and not per_batch:
                scheduler.step()
            result = evaluate(model, test_split)
            yield EpochEvent(
                epoch=epoch,
                step=step,
                total_steps=total_steps,
                train_loss=epoch_loss.item() / len(train_split),
                train_accuracy=epoch_correct.item() / len(train_split),
                test_loss=result.loss,
                test_accuracy=result.accuracy,
                elapsed_seconds=time.perf_counter() - started,
            )
    finally:
        # Whether finished, stopped or closed, the caller gets a model ready for inference.
        model.eval()


def config_dict(config: TrainConfig) -> dict:
    return asdict(config)
