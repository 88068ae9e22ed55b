"""Which device trains and evaluates: the one place that picks it, as the lesson does.

The lesson starts with ``DEVICE = "cuda" if torch.cuda.is_available() else "cpu"``. Here
``auto`` tries CUDA, then Apple's MPS, then the CPU; naming a device that is not there is a
:class:`DeviceUnavailable` error whose message is one line for the user.
"""

from __future__ import annotations

import torch

from mnist_demo.settings import DEVICE

DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")


class DeviceUnavailable(ValueError):
    """The device asked for is not on this machine (or not in this build of torch)."""


def cuda_available() -> bool:
    return torch.cuda.is_available()


def mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def check_choice(name: str) -> str:
    choice = name.strip().lower()
    if choice not in DEVICE_CHOICES:
        raise ValueError(f"device must be one of {', '.join(DEVICE_CHOICES)}, not {name!r}")
    return choice


def resolve_device(name: str = "auto") -> torch.device:
    """``auto``, ``cpu``, ``cuda`` or ``mps`` -> a device that exists here.

    Raises DeviceUnavailable when ``cuda`` or ``mps`` is asked for and missing, and ValueError
    for any other name.
    """
    choice = check_choice(name)
    if choice == "auto":
        if cuda_available():
            return torch.device("cuda")
        return torch.device("mps") if mps_available() else torch.device("cpu")
    if choice == "cuda" and not cuda_available():
        why = (
            "is a CPU-only build"
            if torch.version.cuda is None
            else "sees none: check the GPU and its driver with nvidia-smi"
        )
        raise DeviceUnavailable(
            f"no CUDA GPU is available (torch {torch.__version__} {why}); use cpu or auto"
        )
    if choice == "mps" and not mps_available():
        raise DeviceUnavailable("Apple's MPS backend is not available here; use cpu or auto")
    return torch.device(choice)


def device_from_env() -> torch.device:
    """The app's device: ``$MNIST_DEMO_DEVICE`` (default ``auto``), resolved."""
    raw = DEVICE.read()
    try:
        return resolve_device(raw)
    except ValueError as error:
        raise ValueError(f"${DEVICE.name}={raw!r}: {error}") from None


def describe(device: torch.device) -> str:
    """A short name for reports: the GPU's model name where there is one."""
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return device.type


def synchronize(device: torch.device) -> None:
    """Wait for queued work on ``device`` (GPU kernels run asynchronously); timing needs it."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()
