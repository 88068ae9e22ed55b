"""What belongs to one visitor: their dataset choice, latest drawing and retrained model.

Held in a ``gr.State``, so every browser tab has its own; nothing here is shared between
visitors except the read-only shipped predictors.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mnist_demo.checkpoint import save_checkpoint
from mnist_demo.config import dataset_spec
from mnist_demo.inference import Predictor, shipped_predictor
from mnist_demo.model import SmallCNN
from mnist_demo.train import TrainingRun


@dataclass
class TrainedModel:
    """A visitor's finished (or stopped) training run, ready to use or download."""

    model: SmallCNN
    dataset: str
    metrics: dict[str, Any]
    train_config: dict[str, Any]
    predictor: Predictor


@dataclass
class Session:
    dataset: str = "mnist"
    # The latest Sketchpad value, re-classified by the model being trained ("watch it learn").
    drawing: Any = None
    trained: TrainedModel | None = None
    use_trained: bool = False
    # The run in progress, so that this visitor's Stop button can end it gracefully.
    active_run: TrainingRun | None = field(default=None, repr=False)
    download_dir: str | None = field(default=None, repr=False)

    def predictor(self) -> Predictor:
        if self.use_trained and self.trained is not None:
            return self.trained.predictor
        return shipped_predictor(self.dataset)

    @property
    def model_description(self) -> str:
        if self.use_trained and self.trained is not None:
            accuracy = self.trained.metrics.get("test_accuracy")
            score = f", {accuracy:.2%} test accuracy" if accuracy is not None else ""
            return f"your retrained {dataset_spec(self.trained.dataset).title} model{score}"
        return f"the shipped {dataset_spec(self.dataset).title} model"

    def keep_trained(
        self, model: SmallCNN, dataset: str, metrics: dict, train_config: dict
    ) -> None:
        self.trained = TrainedModel(
            model, dataset, metrics, train_config, Predictor.from_model(model, dataset)
        )

    def use_trained_model(self, use: bool) -> None:
        if use and self.trained is None:
            raise ValueError("Train a model first: there is no retrained model in this session.")
        self.use_trained = use
        if use:
            self.dataset = self.trained.dataset

    def export_trained(self) -> list[str]:
        """Write this session's model and sidecar to a private temporary folder for download."""
        if self.trained is None:
            raise ValueError("There is no retrained model to download yet.")
        self.close()
        self.download_dir = tempfile.mkdtemp(prefix="mnist-demo-")
        trained = self.trained
        stem = "mnist_cnn" if trained.dataset == "mnist" else f"{trained.dataset}_cnn"
        path = save_checkpoint(
            Path(self.download_dir) / f"{stem}_retrained.pth",
            trained.model,
            trained.dataset,
            metrics=trained.metrics,
            command="trained in the mnist-demo Retrain tab",
            train_config=trained.train_config,
        )
        return [str(path), str(path.with_suffix(".json"))]

    def stop_training(self) -> bool:
        if self.active_run is None:
            return False
        self.active_run.stop()
        return True

    def close(self) -> None:
        """Free what the session holds on disk (called when Gradio drops the session)."""
        self.stop_training()
        if self.download_dir:
            shutil.rmtree(self.download_dir, ignore_errors=True)
            self.download_dir = None
