"""``mnist-demo bench api``: /predict round trips through gradio_client on loopback, measured
beside a trivial Gradio function in the same run, so Gradio's own cost is visible."""

from __future__ import annotations

import socket
import statistics
import tempfile
import time
from pathlib import Path

import gradio as gr
import numpy as np
from PIL import Image, ImageDraw

from mnist_demo.ui.app import build_demo
from mnist_demo.ui.tabs.draw import picture_html


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def seven_layer(folder: Path) -> Path:
    """A Sketchpad layer with a drawn 7: RGB 0, the ink in the alpha channel."""
    layer = Image.new("RGBA", (280, 280), (0, 0, 0, 0))
    ImageDraw.Draw(layer).line([(80, 70), (200, 70), (120, 220)], fill=(0, 0, 0, 255), width=24)
    path = folder / "layer.png"
    layer.save(path)
    return path


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = np.sort(np.asarray(samples) * 1000)
    return {
        "p50_ms": round(float(np.percentile(ordered, 50)), 2),
        "p95_ms": round(float(np.percentile(ordered, 95)), 2),
        "mean_ms": round(statistics.fmean(ordered), 2),
    }


def time_calls(call, repeats: int) -> list[float]:
    for _ in range(5):
        call()  # Warm up connections and caches.
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return samples


def bench_api(repeats: int = 100) -> dict:
    from gradio_client import Client, handle_file

    trivial = gr.Interface(lambda text: text, "text", "text", api_name="echo")
    # The same components as the Draw tab with no model behind them: Gradio's cost of moving a
    # canvas in and a label plus the inline 28x28 picture out.
    picture = picture_html(np.zeros((28, 28), np.uint8))
    same_io = gr.Interface(
        lambda sketch: ({"7": 1.0}, picture, "7"),
        gr.Sketchpad(type="numpy", image_mode="RGBA"),
        [gr.Label(), gr.HTML(), gr.Markdown()],
        api_name="same_io",
    )
    demo = build_demo()
    servers = []
    try:
        for app in (trivial, same_io, demo):
            app.launch(
                server_name="127.0.0.1",
                server_port=free_port(),
                prevent_thread_lock=True,
                quiet=True,
            )
            servers.append(app)
        with tempfile.TemporaryDirectory() as folder:
            sketch = {
                "background": None,
                "layers": [handle_file(str(seven_layer(Path(folder))))],
                "composite": None,
            }
            demo_client = Client(demo.local_url, verbose=False)
            echo_client = Client(trivial.local_url, verbose=False)
            same_client = Client(same_io.local_url, verbose=False)
            label = demo_client.predict(sketch, api_name="/predict")[0]["label"]
            predict = time_calls(lambda: demo_client.predict(sketch, api_name="/predict"), repeats)
            echo = time_calls(lambda: echo_client.predict("7", api_name="/echo"), repeats)
            same = time_calls(lambda: same_client.predict(sketch, api_name="/same_io"), repeats)
    finally:
        for app in servers:
            app.close(verbose=False)  # Its goodbye line would break --json.
    predict_stats, echo_stats, same_stats = (
        percentiles(predict),
        percentiles(echo),
        percentiles(same),
    )
    return {
        "repeats": repeats,
        "predicted_label": label,
        "predict": predict_stats,
        "trivial_function": echo_stats,
        "same_components_no_model": same_stats,
        "p50_ratio_vs_trivial": round(predict_stats["p50_ms"] / echo_stats["p50_ms"], 2),
        "p50_ratio_vs_same_components": round(predict_stats["p50_ms"] / same_stats["p50_ms"], 2),
    }
