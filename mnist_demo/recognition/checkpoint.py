"""The only code that knows the weights file format: a state_dict plus a JSON sidecar.

``model.pth`` holds tensors only, so it loads with ``weights_only=True`` (a file carrying code is
refused). ``model.json`` beside it holds the model's constructor arguments, the dataset, class
names, metrics and how the file was made. Both are written atomically: a reader, or a process
killed mid-save, sees either the old file or the new one, never a torn one.
"""

from __future__ import annotations

import io
import json
import math
import os
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

from mnist_demo.config import dataset_spec
from mnist_demo.recognition.model import ModelConfig, SmallCNN

FORMAT = "mnist-demo/1"


class CheckpointError(ValueError):
    """A weights file that cannot be used; the message names the file and says why."""


@dataclass
class Checkpoint:
    model: SmallCNN
    dataset: str
    class_names: tuple[str, ...]
    metadata: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None


def sidecar_path(weights_path: str | os.PathLike[str]) -> Path:
    return Path(weights_path).with_suffix(".json")


def staged_file(path: Path, data: bytes) -> Path:
    """Write ``data`` to a temporary file beside ``path`` and flush it to disk; returns its path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return Path(temporary)


def state_dict_bytes(model: torch.nn.Module) -> bytes:
    buffer = io.BytesIO()
    torch.save({name: tensor.detach().cpu() for name, tensor in model.state_dict().items()}, buffer)
    return buffer.getvalue()


def build_metadata(
    model: SmallCNN,
    dataset: str,
    *,
    metrics: dict[str, Any] | None = None,
    command: str | None = None,
    train_config: dict[str, Any] | None = None,
) -> dict[str, Any]:
    spec = dataset_spec(dataset)
    return {
        "format": FORMAT,
        "model": asdict(model.config),
        "dataset": spec.name,
        "class_names": list(spec.class_names),
        "normalization": {"mean": spec.mean, "std": spec.std},
        "metrics": metrics or {},
        "train_config": train_config or {},
        "command": command,
        "torch_version": torch.__version__,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def save_checkpoint(
    path: str | os.PathLike[str], model: SmallCNN, dataset: str, **details: Any
) -> Path:
    """Save ``model`` to ``path`` (.pth) and its sidecar (.json); returns the weights path.

    ``details`` are passed to :func:`build_metadata` (metrics, command, train_config).
    """
    path = Path(path)
    metadata = build_metadata(model, dataset, **details)
    # Both files are written and flushed before either replaces the old pair: a process killed
    # while writing (the slow part) leaves the old weights with their own sidecar. A kill
    # between the two renames below is handled when loading (see build_model).
    staged = [staged_file(path, state_dict_bytes(model))]
    try:
        sidecar = (json.dumps(metadata, indent=2) + "\n").encode()
        staged.append(staged_file(sidecar_path(path), sidecar))
    except BaseException:
        staged[0].unlink(missing_ok=True)
        raise
    # The weights go first: a sidecar never describes a file that is not there yet.
    os.replace(staged[0], path)
    os.replace(staged[1], sidecar_path(path))
    return path


def update_sidecar(weights_path: str | os.PathLike[str], **fields: Any) -> Path:
    """Add or replace top-level fields of a weights file's sidecar, atomically."""
    path = sidecar_path(weights_path)
    metadata = {**read_metadata(Path(weights_path)), **fields}
    os.replace(staged_file(path, (json.dumps(metadata, indent=2) + "\n").encode()), path)
    return path


def read_metadata(path: Path) -> dict[str, Any]:
    sidecar = sidecar_path(path)
    if not sidecar.exists():
        # A bare state_dict (the lesson's own mnist_cnn.pth) is accepted as an MNIST model.
        return {"dataset": "mnist"}
    try:
        metadata = json.loads(sidecar.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CheckpointError(f"{sidecar}: the sidecar is not valid JSON ({error})") from error
    if not isinstance(metadata, dict):
        raise CheckpointError(f"{sidecar}: the sidecar should hold a JSON object")
    return metadata


def load_failure_reason(error: Exception) -> str:
    """torch's reason in one line, without its advice to retry with ``weights_only=False``
    (which would run whatever code the file carries)."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    if not lines:
        return type(error).__name__
    if lines[0].startswith("Weights only load failed"):
        # The specific reason follows the "WeightsUnpickler error:" line.
        marker = next((i for i, line in enumerate(lines) if "WeightsUnpickler error" in line), None)
        if marker is not None and marker + 1 < len(lines):
            return f"unpickling stopped at: {lines[marker + 1]}"
        return "it holds more than tensors, and loading it could run code"
    return lines[0]


def load_state_dict(path: Path) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise CheckpointError(f"{path}: no such weights file")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many types for a bad file; all mean "unusable".
        reason = load_failure_reason(error)
        raise CheckpointError(
            f"{path}: not a readable PyTorch weights file (corrupt, truncated or unsafe): {reason}"
        ) from error
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(
            f"{path}: expected a state_dict of tensors, found {type(state).__name__}"
        )
    return state


def infer_model_config(state: dict[str, torch.Tensor], metadata: dict[str, Any]) -> ModelConfig:
    if isinstance(metadata.get("model"), dict):
        return ModelConfig.from_dict(metadata["model"])
    # No recorded config: recognise BatchNorm by its running statistics.
    return ModelConfig(batch_norm=any(name.endswith("running_mean") for name in state))


def config_from_state(state: dict[str, torch.Tensor]) -> ModelConfig:
    """The SmallCNN architecture a state_dict was saved from, read from its tensor shapes."""
    blocks = sorted({int(name.split(".")[1]) for name in state if name.startswith("features.")})
    convs = [state[f"features.{block}.0.weight"] for block in blocks]  # (out, in, 3, 3) each
    hidden = state["classifier.1.weight"]  # (hidden_units, channels * side * side)
    side = math.isqrt(hidden.shape[1] // convs[-1].shape[0])
    return ModelConfig(
        batch_norm=any(name.endswith("running_mean") for name in state),
        in_channels=convs[0].shape[1],
        image_size=side * 2 ** len(convs),
        conv_channels=tuple(conv.shape[0] for conv in convs),
        hidden_units=hidden.shape[0],
        num_classes=state["classifier.4.weight"].shape[0],
    )


def build_model(state: dict[str, torch.Tensor], metadata: dict[str, Any]) -> SmallCNN:
    model = SmallCNN(infer_model_config(state, metadata))
    try:
        model.load_state_dict(state)
    except RuntimeError as mismatch:
        if "model" not in metadata:
            raise
        # The two files are renamed one after the other (ext4 can take milliseconds over a
        # rename): a save killed in between leaves its weights beside the previous sidecar.
        # The weights' own shapes still say which SmallCNN they are (tests/test_faults.py).
        try:
            model = SmallCNN(config_from_state(state))
            model.load_state_dict(state)
        except (KeyError, IndexError, ValueError, RuntimeError):
            raise mismatch from None
    return model


def load_checkpoint(path: str | os.PathLike[str]) -> Checkpoint:
    """Load a model in eval mode, or raise :class:`CheckpointError` naming the file."""
    path = Path(path)
    metadata = read_metadata(path)
    state = load_state_dict(path)
    try:
        spec = dataset_spec(str(metadata.get("dataset", "mnist")))
        model = build_model(state, metadata)
    except (ValueError, TypeError, RuntimeError) as error:
        first_line = str(error).strip().splitlines()[0]
        raise CheckpointError(
            f"{path}: these weights do not fit the SmallCNN described by its sidecar: {first_line}"
        ) from error
    model.eval()
    class_names = tuple(metadata.get("class_names") or spec.class_names)
    return Checkpoint(model, spec.name, class_names, metadata, path)
