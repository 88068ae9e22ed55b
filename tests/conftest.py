"""Shared test setup: real MNIST from ../shared/datasets unless MNIST_DEMO_DATA says otherwise."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO_ROOT.parent / "shared" / "datasets"

if not os.environ.get("MNIST_DEMO_DATA") and SHARED_DATA.is_dir():
    os.environ["MNIST_DEMO_DATA"] = str(SHARED_DATA)


@pytest.fixture(scope="session")
def mnist_test():
    from mnist_demo.data import load_split

    return load_split("mnist", train=False)


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """Where tests leave files worth looking at (screenshots, plots); ignored by git."""
    path = REPO_ROOT / "artifacts"
    path.mkdir(exist_ok=True)
    return path
