"""Shared by the UI tests: real MNIST test digits as canvas strokes, and a launched server."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mnist_demo.bench.browser import CHROMIUM_ARGS
from mnist_demo.data import denormalize


def digit_pixels(split, index: int) -> np.ndarray:
    """A test digit as uint8 ink (255 = ink), 28x28."""
    pixels = denormalize(split.images[index, 0], split.spec)
    return (pixels.numpy() * 255).astype(np.uint8)


def sketch_layer(split, index: int, size: int = 280) -> np.ndarray:
    """What a Sketchpad layer holds after drawing the digit: RGB 0, the ink in the alpha channel."""
    ink = np.asarray(
        Image.fromarray(digit_pixels(split, index)).resize((size, size), Image.BICUBIC)
    )
    layer = np.zeros((size, size, 4), np.uint8)
    layer[..., 3] = np.where(ink > 60, 255, 0)
    return layer


def sketch_value(split, index: int, size: int = 280) -> dict:
    layer = sketch_layer(split, index, size)
    background = np.full((size, size, 4), 255, np.uint8)
    composite = background.copy()
    composite[layer[..., 3] > 0, :3] = 0
    return {"background": background, "layers": [layer], "composite": composite}


def first_index_of(split, digit: int, start: int = 0) -> int:
    return int((split.labels[start:] == digit).nonzero()[0, 0]) + start


@contextmanager
def launched(budget=None) -> Iterator:
    """The app as a public host launches it (upload cap, no monitoring), on a free local port."""
    from mnist_demo.bench.api import free_port
    from mnist_demo.serving.trainer import Budget
    from mnist_demo.ui import build_demo, launch_options

    demo = build_demo(budget or Budget(max_epochs=3, max_seconds=120, threads=1))
    options = {**launch_options(), "server_name": "127.0.0.1", "server_port": free_port()}
    demo.launch(prevent_thread_lock=True, quiet=True, **options)
    try:
        yield demo
    finally:
        demo.close()


def served_app(budget):
    """A module-scoped ``app_url`` fixture: the app with ``budget``, launched as above."""

    @pytest.fixture(scope="module")
    def app_url():
        with launched(budget) as demo:
            yield demo.local_url

    return app_url


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
STATIC_DIR = Path(__file__).resolve().parent.parent / "mnist_demo" / "ui" / "static"


@contextmanager
def chromium() -> Iterator:
    """A headless Debian Chromium driven by Playwright (skips if Playwright is missing)."""
    sync_api = pytest.importorskip("playwright.sync_api")
    if not shutil.which(CHROMIUM):
        pytest.fail(f"Chromium not found at {CHROMIUM}: install Debian's 'chromium' package")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
