"""A model's ten probabilities for one input, read without changing the model.

The one softmax of the serving path: prediction (:mod:`mnist_demo.recognition.inference`) and the
teaching views (:mod:`mnist_demo.teaching.analysis`) both read a model through these.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
from torch import nn

from mnist_demo.recognition.model import SmallCNN


def readable(model: nn.Module) -> nn.Module:
    """The model itself if it is in eval mode, else an eval-mode copy: never flip its mode."""
    return copy.deepcopy(model).eval() if model.training else model


def on_model_device(model: nn.Module, tensor: torch.Tensor) -> torch.Tensor:
    """``tensor`` where the model's weights are (explain --device puts them on a GPU)."""
    return tensor.to(next(model.parameters()).device)


def check_input(tensor: torch.Tensor) -> None:
    if tensor.ndim != 4 or tensor.shape[0] != 1:
        raise ValueError(
            f"expected one model input of shape (1, 1, 28, 28), got {tuple(tensor.shape)}"
        )


def class_probabilities(model: SmallCNN, tensor: torch.Tensor) -> np.ndarray:
    """Softmax of the model's logits for one input: (num_classes,) float64 summing to 1."""
    check_input(tensor)
    with torch.inference_mode():
        net = readable(model)
        logits = net(on_model_device(net, tensor))[0].cpu()
    return torch.softmax(logits.double(), dim=0).numpy()
