"""The only code that knows the weights file format: a state_dict plus a JSON sidecar.

``model.pth`` holds tensors only, so it loads with ``weights_only=True`` (a file carrying code is
refused). ``model.json`` beside it holds the model's constructor arguments, the dataset, class
names, metrics and how the file was made. Both are written atomically: a reader, or a process
killed mid-save, sees either the old file or the new one, never a torn one.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

from mnist_demo.config import dataset_spec
from mnist_demo.model import ModelConfig, SmallCNN

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


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write to a temporary file in the same folder, flush it to disk, then rename over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


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
    # The weights go first: a sidecar never describes a file that is not there yet.
    atomic_write_bytes(path, state_dict_bytes(model))
    atomic_write_bytes(sidecar_path(path), (json.dumps(metadata, indent=2) + "\n").encode())
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


def load_state_dict(path: Path) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise CheckpointError(f"{path}: no such weights file")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many types for a bad file; all mean "unusable".
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
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


def load_checkpoint(path: str | os.PathLike[str]) -> Checkpoint:
    """Load a model in eval mode, or raise :class:`CheckpointError` naming the file."""
    path = Path(path)
    metadata = read_metadata(path)
    state = load_state_dict(path)
    try:
        spec = dataset_spec(str(metadata.get("dataset", "mnist")))
        model = SmallCNN(infer_model_config(state, metadata))
        model.load_state_dict(state)
    except (ValueError, TypeError, RuntimeError) as error:
        first_line = str(error).strip().splitlines()[0]
        raise CheckpointError(
            f"{path}: these weights do not fit the SmallCNN described by its sidecar: {first_line}"
        ) from error
    model.eval()
    class_names = tuple(metadata.get("class_names") or spec.class_names)
    return Checkpoint(model, spec.name, class_names, metadata, path)
