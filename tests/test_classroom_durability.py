"""A drawing answered "saved" survives a kill -9: of a process holding the store, and of the
real server (``python app.py``) between its answer and a restart."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mnist_demo.bench.api import free_port
from mnist_demo.classroom.store import ClassStore

from .conftest import REPO_ROOT
from .helpers import digit_pixels, first_index_of

# A child that submits drawings one after another and prints each id once it is committed.
CHILD = textwrap.dedent(
    """
    import io, sys, numpy as np
    from PIL import Image
    from mnist_demo.classroom.store import ClassStore
    store = ClassStore(sys.argv[1])
    buffer = io.BytesIO()
    Image.new("L", (16, 16), 255).save(buffer, "PNG")
    for index in range(1000):
        pixels = np.full((28, 28), (index % 100) / 100, np.float32)
        drawing_id = store.submit_drawing(
            sys.argv[2], pixels=pixels, thumbnail_png=buffer.getvalue(), label=index % 10,
            predicted=None, confidence=None, nickname="child", session=str(index),
        )
        print(drawing_id, flush=True)
    """
)


@pytest.mark.slow  # The child imports torch: about 3 s.
def test_a_committed_drawing_survives_a_sigkill_of_the_process(tmp_path):
    url = f"sqlite:///{tmp_path / 'classes.db'}"
    store = ClassStore(url)
    code = store.create_class("kill -9").code
    store.close()
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, url, code], stdout=subprocess.PIPE, text=True, cwd=REPO_ROOT
    )
    printed = [int(child.stdout.readline())]
    while len(printed) < 5:  # Kill it mid-stream, right after an answer, while it writes more.
        printed.append(int(child.stdout.readline()))
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    reopened = ClassStore(url)
    for drawing_id in printed:
        drawing = reopened.drawing(code, drawing_id)
        assert drawing is not None, drawing_id
        assert drawing.nickname == "child"
    assert reopened.counts(code)["total"] >= len(printed)
    reopened.close()


def start_app(class_dir: Path, port: int) -> subprocess.Popen:
    env = {
        **os.environ,
        "MNIST_DEMO_CLASS_DIR": str(class_dir),
        "GRADIO_SERVER_NAME": "127.0.0.1",
        "GRADIO_SERVER_PORT": str(port),
    }
    env.pop("MNIST_DEMO_DATABASE_URL", None)
    server = subprocess.Popen(
        [sys.executable, "app.py"],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 180
    for line in server.stdout:
        if "mnist-demo running on" in line:
            return server
        if time.monotonic() > deadline:
            break
    server.kill()
    pytest.fail(f"app.py did not start (exit code {server.poll()})")


@pytest.mark.slow
def test_a_saved_drawing_survives_a_kill_9_of_the_server_and_a_restart(tmp_path, mnist_test):
    from gradio_client import Client, handle_file

    seven = tmp_path / "seven.png"
    ink = digit_pixels(mnist_test, first_index_of(mnist_test, 7))
    Image.fromarray(255 - np.kron(ink, np.ones((10, 10), np.uint8))).save(seven)
    class_dir, port = tmp_path / "classes", free_port()
    server = start_app(class_dir, port)
    try:
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        created = client.predict("kill -9", api_name="/create_class")
        saved = client.predict(
            created["code"], handle_file(str(seven)), "7", "ann", api_name="/submit_drawing"
        )
        assert saved["saved"] is True
        server.send_signal(signal.SIGKILL)  # Right after the answer: no shutdown, no flush.
        server.wait(timeout=30)
    finally:
        server.kill()
    store = ClassStore(f"sqlite:///{class_dir / 'classes.db'}")
    drawing = store.drawing(created["code"], saved["id"])
    assert drawing is not None and drawing.label == 7 and drawing.nickname == "ann"
    store.close()
    server = start_app(class_dir, port)
    try:
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        board = client.predict(created["code"], created["teacher_key"], api_name="/class_board")
        assert board["drawings"] == 1 and board["per_digit"][7] == 1
    finally:
        server.send_signal(signal.SIGKILL)
        server.wait(timeout=30)
