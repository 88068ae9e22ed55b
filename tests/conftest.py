"""Shared test setup: real MNIST from ../shared/datasets unless MNIST_DEMO_DATA says otherwise."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO_ROOT.parent / "shared" / "datasets"

if not os.environ.get("MNIST_DEMO_DATA") and SHARED_DATA.is_dir():
    os.environ["MNIST_DEMO_DATA"] = str(SHARED_DATA)


def pytest_collection_modifyitems(config, items):
    """Tests marked ``cuda`` need a CUDA GPU: skipped, saying so, on a machine without one."""
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU (none here)")
    for item in items:
        if item.get_closest_marker("cuda"):
            item.add_marker(skip)


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


@pytest.fixture(scope="module")
def browser():
    """A headless Chromium shared by one test module's tests (see helpers.chromium)."""
    from .helpers import chromium

    with chromium() as browser:
        yield browser
