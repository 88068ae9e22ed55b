"""Shared test setup: real MNIST from ../shared/datasets unless MNIST_DEMO_DATA says otherwise.

Two tiers. Plain ``pytest`` runs the fast tier, what a contributor runs after every change.
``pytest --full`` adds the tests marked ``slow`` (trainings, real servers, security replays) and
``browser`` (real Chromium): the whole suite, which CI runs.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO_ROOT.parent / "shared" / "datasets"

if not os.environ.get("MNIST_DEMO_DATA") and SHARED_DATA.is_dir():
    os.environ["MNIST_DEMO_DATA"] = str(SHARED_DATA)

# A test that builds the app or the shared class store must not write classes/ into the clone,
# nor into a host's own database: the suite's classes live in a folder of its own, removed at exit
# (tests that need PostgreSQL start a throwaway server).
os.environ.pop("MNIST_DEMO_DATABASE_URL", None)
if not os.environ.get("MNIST_DEMO_CLASS_DIR"):
    os.environ["MNIST_DEMO_CLASS_DIR"] = tempfile.mkdtemp(prefix="mnist-demo-classes-")
    atexit.register(shutil.rmtree, os.environ["MNIST_DEMO_CLASS_DIR"], ignore_errors=True)


FULL_ONLY = ("slow", "browser")


def pytest_addoption(parser):
    parser.addoption(
        "--full",
        action="store_true",
        help="the whole suite: add the slow and browser tests to the fast tier (what CI runs)",
    )


def pytest_collection_modifyitems(config, items):
    """The fast tier leaves out the full suite's tests; tests marked ``cuda`` need a CUDA GPU
    and are skipped, saying so, on a machine without one."""
    if not config.getoption("--full"):
        later = [item for item in items if any(item.get_closest_marker(m) for m in FULL_ONLY)]
        if later:
            config.hook.pytest_deselected(items=later)
            left_out = set(later)
            items[:] = [item for item in items if item not in left_out]
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU (none here)")
    for item in items:
        if item.get_closest_marker("cuda"):
            item.add_marker(skip)


def pytest_report_header(config):
    if config.getoption("--full"):
        return "tier: full (slow and browser tests included)"
    return "tier: fast (pytest --full adds the slow and browser tests)"


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
