"""Training with the data resident on the device: the engine behind ``--device cuda`` (and mps).

On a GPU the lesson's model is so small that an epoch's time goes into launching kernels and
waiting for the host, not into arithmetic. So this engine:

* copies both splits to the device once; a batch is an index slice of a permutation made on the
  device by a device generator (no DataLoader, no per-batch copy from the host);
* keeps the loss and correct-count sums on the device, and reads them (the only host
  synchronisation) when a progress event is due, every ``log_every`` batches;
* uses the fused Adam or SGD kernels (one launch updates every parameter);
* on CUDA, captures the fixed-shape step (forward, backward, optimiser step, the sums) in a CUDA
  graph after a few eager warm-up steps on a side stream, as PyTorch's CUDA-graph docs prescribe,
  and replays it for every full batch. The epoch's last, smaller batch runs eagerly on the same
  weights and optimiser state; augmentation runs before the step, writing its static input.
  So do outlier exposure and coarse scans (:mod:`mnist_demo.exposure`): their pools are copied to
  the device once and mixed in with fixed shapes, so nothing waits for the host.

It yields the same :class:`StepEvent` and :class:`EpochEvent` as :func:`mnist_demo.train.train`
at the same steps, so the CLI's progress bar and the Retrain tab's charts need nothing new. With
capture off it runs on the CPU too, where the tests hold it to the CPU loop's numbers.
"""

from __future__ import annotations

import math
from threading import Event

import torch
import torch.nn.functional as F

from mnist_demo.config import dataset_spec
from mnist_demo.data import Augmentation, Split, augment_batch, load_split
from mnist_demo.device import resolve_device
from mnist_demo.evaluate import evaluate
from mnist_demo.exposure import Exposure
from mnist_demo.model import SmallCNN
from mnist_demo.progress import Events, Meter
from mnist_demo.train import DataRoot, TrainConfig, use_bf16

# Eager steps before capture: they build the optimiser state and let cuDNN and cuBLAS settle
# (PyTorch's "whole network capture" example warms up with three).
WARMUP_STEPS = 3


def on_device(split: Split, device: torch.device) -> Split:
    return Split(split.images.to(device), split.labels.to(device), split.spec)


def wants_graph(config: TrainConfig, device: torch.device) -> bool:
    """CUDA-graph capture: on by default on CUDA, impossible elsewhere."""
    if config.cuda_graph is None:
        return device.type == "cuda"
    if config.cuda_graph and device.type != "cuda":
        raise ValueError(f"CUDA-graph capture needs a CUDA device, not {device.type}")
    return config.cuda_graph


def build_optimizer(model: SmallCNN, config: TrainConfig, graph: bool) -> torch.optim.Optimizer:
    """Fused Adam or SGD. Under a graph the learning rate is a device tensor that schedules fill
    in place (a Python float would be frozen into the captured kernels), and Adam keeps its step
    count on the device (``capturable``)."""
    device = next(model.parameters()).device
    learning_rate = torch.tensor(config.learning_rate, device=device) if graph else None
    lr = config.learning_rate if learning_rate is None else learning_rate
    if config.optimizer == "sgd":
        return torch.optim.SGD(model.parameters(), lr=lr, momentum=config.momentum, fused=True)
    return torch.optim.Adam(model.parameters(), lr=lr, fused=True, capturable=graph)


def build_scheduler(optimizer: torch.optim.Optimizer, config: TrainConfig, steps_per_epoch: int):
    """As :func:`mnist_demo.train.build_scheduler`; under a graph OneCycle cycles the learning
    rate only: momentum (Adam's beta1) is read as a constant by the fused kernels, so a captured
    graph would keep its first value whatever the schedule said."""
    if config.schedule == "steplr":
        scheduler = torch.optim.lr_scheduler.StepLR(optimizer, config.step_size, config.gamma)
        return scheduler, False
    if config.schedule == "onecycle":
        cycle_momentum = not isinstance(optimizer.param_groups[0]["lr"], torch.Tensor)
        scheduler = torch.optim.lr_scheduler.OneCycleLR(
            optimizer,
            max_lr=config.learning_rate,
            total_steps=config.epochs * steps_per_epoch,
            cycle_momentum=cycle_momentum,
        )
        return scheduler, True
    return None, False


class Stepper:
    """One optimiser step per call: eager, or replayed from a CUDA graph once captured.

    ``sums`` holds (window loss, window correct, epoch loss, epoch correct) on the device; each
    step adds to it and nothing reads it back until an event is due.
    """

    def __init__(
        self,
        model: SmallCNN,
        optimizer,
        batch_size: int,
        bf16: bool,
        graph: bool,
        exposure: Exposure | None = None,
    ):
        self.model, self.optimizer, self.batch_size = model, optimizer, batch_size
        self.exposure = exposure  # Outliers come after the labelled samples in each batch.
        self.device = next(model.parameters()).device
        self.bf16 = bf16
        self.sums = torch.zeros(4, device=self.device)
        self.warmup_left = WARMUP_STEPS if graph else None
        self.graph: torch.cuda.CUDAGraph | None = None
        self.static_images: torch.Tensor | None = None
        self.static_labels: torch.Tensor | None = None

    def step(self, images: torch.Tensor, labels: torch.Tensor) -> None:
        # (N, 1, 28, 28) images and (N,) labels, already on the device.
        if self.graph is not None and len(labels) == self.batch_size:
            self.static_images.copy_(images)
            self.static_labels.copy_(labels)
            self.graph.replay()
        elif self.warmup_left is None or len(labels) != self.batch_size:
            self.eager(images, labels)
        elif self.warmup_left > 0:
            self.warmup_left -= 1
            self.eager_on_side_stream(images, labels)
        else:
            self.capture(images, labels)
            self.graph.replay()  # Capturing records the step without running it.

    def forward_backward_update(self, images: torch.Tensor, labels: torch.Tensor) -> None:
        # Autocast's cast cache must be off while capturing (PyTorch's CUDA-graph notes).
        with torch.autocast(
            self.device.type, dtype=torch.bfloat16, enabled=self.bf16, cache_enabled=False
        ):
            logits = self.model(images).float()  # (N, 10), or (N + outliers, 10)
        if self.exposure is not None:
            logits, loss = self.exposure.split(logits, labels)
        else:
            loss = F.cross_entropy(logits, labels)
        loss.backward()
        self.optimizer.step()
        batch_loss = loss.detach() * len(labels)
        correct = (logits.detach().argmax(1) == labels).sum().float()
        self.sums += torch.stack([batch_loss, correct, batch_loss, correct])

    def eager(self, images: torch.Tensor, labels: torch.Tensor) -> None:
        # Once a graph exists its backward owns the .grad tensors: zero them in place so that
        # this eager step and the replays share them.
        self.optimizer.zero_grad(set_to_none=self.graph is None)
        self.forward_backward_update(images, labels)

    def eager_on_side_stream(self, images: torch.Tensor, labels: torch.Tensor) -> None:
        side = torch.cuda.Stream(self.device)
        side.wait_stream(torch.cuda.current_stream(self.device))
        with torch.cuda.stream(side):
            self.eager(images, labels)
        torch.cuda.current_stream(self.device).wait_stream(side)

    def capture(self, images: torch.Tensor, labels: torch.Tensor) -> None:
        self.static_images, self.static_labels = images.clone(), labels.clone()
        # Gradients set to None now are allocated from the graph's private pool during capture,
        # and every replay refills them in place: no zero_grad between replays.
        self.optimizer.zero_grad(set_to_none=True)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            self.forward_backward_update(self.static_images, self.static_labels)


def train_on_device(
    config: TrainConfig, model: SmallCNN, data_root: DataRoot = None, stop: Event | None = None
) -> Events:
    """Train ``model`` on ``config.device`` and yield progress events, as train() does.

    The same seed on the same device gives the same numbers (seed torch first, as
    :func:`mnist_demo.train.starting_model` does). Whether finished, stopped or closed, the
    model ends on the CPU in eval mode, ready for prediction and saving.
    """
    device = resolve_device(config.device)
    graph = wants_graph(config, device)
    if config.threads:
        torch.set_num_threads(config.threads)
    if device.type == "cuda":
        # cuDNN's fastest kernels may sum in any order; the same seed must give the same run.
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
    spec = dataset_spec(config.dataset)
    train_split = on_device(load_split(spec.name, True, data_root).subset(config.subset), device)
    test_split = on_device(
        load_split(spec.name, False, data_root).subset(config.test_subset), device
    )

    # Shuffles and augmentation; dropout draws from torch's generator, seeded on every device.
    generator = torch.Generator(device=device).manual_seed(config.seed)
    model.to(device)
    if device.type == "cpu":
        model.to(memory_format=torch.channels_last)  # As the CPU loop: pytorch#51393.
    optimizer = build_optimizer(model, config, graph)
    steps_per_epoch = math.ceil(len(train_split) / config.batch_size)
    scheduler, per_batch = build_scheduler(optimizer, config, steps_per_epoch)
    bf16 = use_bf16(config) if device.type == "cpu" else bool(config.bf16)
    exposure = Exposure.for_config(config)
    exposure = exposure.to(device) if exposure is not None else None
    stepper = Stepper(model, optimizer, config.batch_size, bf16, graph, exposure)
    try:
        yield from epochs(
            config, stop, stepper, (train_split, test_split), generator, scheduler, per_batch
        )
    finally:
        model.eval()
        model.to("cpu")


def epochs(config, stop, stepper, splits, generator, scheduler, per_batch):
    train_split, test_split = splits
    augmentation = Augmentation() if config.augment else None
    steps_per_epoch = math.ceil(len(train_split) / config.batch_size)
    meter = Meter(config.epochs, steps_per_epoch, config.log_every, config.learning_rate)
    for epoch in range(1, config.epochs + 1):
        stepper.model.train()
        stepper.sums.zero_()
        meter.new_window()
        order = torch.randperm(len(train_split), generator=generator, device=stepper.device)
        for start in range(0, len(train_split), config.batch_size):
            if stop is not None and stop.is_set():
                return
            indices = order[start : start + config.batch_size]
            images, labels = train_split.images[indices], train_split.labels[indices]
            if augmentation:
                images = augment_batch(images, train_split.spec, generator, augmentation)
            if stepper.exposure is not None:
                images, _ = stepper.exposure.mix(images, labels, generator)
            if stepper.device.type == "cpu":
                images = images.contiguous(memory_format=torch.channels_last)
            stepper.step(images, labels)
            if per_batch:
                scheduler.step()
            if meter.count(len(labels)):
                window_loss, window_correct = stepper.sums[:2].tolist()  # The one sync.
                yield meter.step_event(epoch, window_loss, window_correct)
                stepper.sums[:2].zero_()
                meter.new_window()
        if scheduler is not None and not per_batch:
            scheduler.step()
        epoch_loss, epoch_correct = stepper.sums[2:].tolist()
        test = evaluate(stepper.model, test_split)
        yield meter.epoch_event(epoch, epoch_loss, epoch_correct, len(train_split), test)
