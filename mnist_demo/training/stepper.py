"""The training step: one optimiser step per call, plain or replayed from a CUDA graph.

On a GPU the lesson's model is so small that an epoch's time goes into launching kernels and
waiting for the host, not into arithmetic. So the step:

* uses the fused Adam or SGD kernels (one launch updates every parameter);
* keeps the loss and correct-count sums on the training device; the loop reads them (the only
  host synchronisation) when a progress event is due, every ``log_every`` batches;
* on CUDA, captures the fixed-shape step (forward, backward, optimiser step, the sums) in a CUDA
  graph after a few eager warm-up steps on a side stream, as PyTorch's CUDA-graph docs prescribe,
  and replays it for every full batch. The epoch's last, smaller batch runs eagerly on the same
  weights and optimiser state. Anywhere else every step is a plain eager one.

The loop that drives it is :func:`mnist_demo.training.loop.train`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from mnist_demo.recognition.model import SmallCNN
from mnist_demo.training.exposure import Exposure
from mnist_demo.training.options import TrainConfig

# Eager steps before capture: they build the optimiser state and let cuDNN and cuBLAS settle
# (PyTorch's "whole network capture" example warms up with three).
WARMUP_STEPS = 3


def wants_graph(config: TrainConfig, device: torch.device) -> bool:
    """CUDA-graph capture: on by default on CUDA, impossible elsewhere."""
    if config.cuda_graph is None:
        return device.type == "cuda"
    if config.cuda_graph and device.type != "cuda":
        raise ValueError(f"CUDA-graph capture needs a CUDA device, not {device.type}")
    return config.cuda_graph


def native_bf16() -> bool:
    """Whether this CPU computes bfloat16 natively; emulated bf16 would be slower than float32."""
    get_capabilities = getattr(torch.cpu, "get_capabilities", None)
    if get_capabilities is None:
        return False
    capabilities = get_capabilities()
    return bool(capabilities.get("avx512_bf16") or capabilities.get("amx_bf16"))


def use_bf16(config: TrainConfig, device: torch.device | None = None) -> bool:
    """bf16 autocast: as the config says; when it says nothing, on CPUs that compute it natively."""
    if config.bf16 is not None:
        return config.bf16
    return (device is None or device.type == "cpu") and native_bf16()


def build_optimizer(model: SmallCNN, config: TrainConfig, graph: bool) -> torch.optim.Optimizer:
    """Fused Adam or SGD. Under a graph the learning rate is a device tensor that schedules fill
    in place (a Python float would be frozen into the captured kernels), and Adam keeps its step
    count on the device (``capturable``)."""
    device = next(model.parameters()).device
    lr = torch.tensor(config.learning_rate, device=device) if graph else config.learning_rate
    if config.optimizer == "sgd":
        return torch.optim.SGD(model.parameters(), lr=lr, momentum=config.momentum, fused=True)
    return torch.optim.Adam(model.parameters(), lr=lr, fused=True, capturable=graph)


def build_scheduler(optimizer: torch.optim.Optimizer, config: TrainConfig, steps_per_epoch: int):
    """Returns (scheduler, per_batch): OneCycle moves every batch, StepLR every epoch.

    Under a graph OneCycle cycles the learning rate only: momentum (Adam's beta1) is read as a
    constant by the fused kernels, so a captured graph would keep its first value whatever the
    schedule said."""
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
    step adds to it and nothing reads it back until the loop asks for an event's numbers.
    """

    def __init__(
        self,
        model: SmallCNN,
        optimizer: torch.optim.Optimizer,
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

    def window(self) -> tuple[float, float]:
        """The summed loss and correct count since the last call, read back (one sync)."""
        loss, correct = self.sums[:2].tolist()
        self.sums[:2].zero_()
        return loss, correct

    def epoch(self) -> tuple[float, float]:
        """The epoch's summed loss and correct count; the sums start again at zero."""
        loss, correct = self.sums[2:].tolist()
        self.sums.zero_()
        return loss, correct

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
