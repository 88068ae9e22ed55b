"""The mnist-demo command line, run as a user runs it (a subprocess), on the real datasets."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from mnist_demo.recognition.checkpoint import load_checkpoint

from .conftest import REPO_ROOT


def mnist_demo(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mnist_demo", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO_ROOT,
    )


# The bars; the shipped weights reach 99.48% and 92.50% (README).
@pytest.mark.parametrize(("dataset", "bar"), [("mnist", 0.994), ("fashion", 0.925)])
def test_shipped_weights_reach_their_accuracy_bar(dataset, bar):
    result = mnist_demo("evaluate", "--dataset", dataset, "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["n"] == 10_000
    assert report["accuracy"] >= bar
    matrix = report["confusion_matrix"]
    assert sum(map(sum, matrix)) == 10_000
    assert sum(matrix[i][i] for i in range(10)) == round(report["accuracy"] * 10_000)
    assert set(report["per_class_accuracy"]) == set(report["class_names"])


def test_shipped_sidecars_record_how_they_were_made():
    for name in ("mnist_cnn", "fashion_cnn"):
        checkpoint = load_checkpoint(REPO_ROOT / "weights" / f"{name}.pth")
        assert checkpoint.metadata["command"].startswith("mnist-demo train")
        assert not checkpoint.model.config.batch_norm  # The lesson's architecture.


@pytest.mark.slow
def test_train_dry_run_saves_weights_sidecar_and_plot(tmp_path):
    out, plot = tmp_path / "model.pth", tmp_path / "curves.png"
    result = mnist_demo("train", "--dry-run", "--out", str(out), "--plot", str(plot))
    assert result.returncode == 0, result.stderr
    assert "epoch 1/1" in result.stdout
    assert load_checkpoint(out).metadata["command"].startswith("mnist-demo train --dry-run")
    assert plot.read_bytes().startswith(b"\x89PNG")


def test_a_run_started_from_python_records_its_own_words_not_the_callers(tmp_path):
    from mnist_demo.cli import main

    out = tmp_path / "model.pth"
    assert main(["train", "--dry-run", "--seed", "3", "--out", str(out)]) == 0
    expected = f"mnist-demo train --dry-run --seed 3 --out {out}"
    assert load_checkpoint(out).metadata["command"] == expected


def test_predict_number_json_prints_one_object_per_file(tmp_path):
    from PIL import Image

    from mnist_demo.samples.numbers import iter_numbers

    number = next(iter_numbers(1, "clear", seed=4))
    paths = [tmp_path / "number.png", tmp_path / "blank.png", tmp_path / "missing.png"]
    Image.fromarray(255 - number.ink()).save(paths[0])
    Image.fromarray(np.full((60, 90), 255, np.uint8)).save(paths[1])
    result = mnist_demo("predict", "--number", "--json", *map(str, paths))
    assert result.returncode == 2  # The missing file; the others still get their answer.
    read, blank, missing = (json.loads(line) for line in result.stdout.splitlines())
    assert {"path", "number", "digits", "verdict", "reason"} <= set(read)
    assert read["path"] == str(paths[0]) and read["number"].isdigit()
    assert len(read["digits"]) == len(read["number"])
    for digit in read["digits"]:
        assert set(digit) == {"box", "top", "verdict", "probabilities"}
        assert set(digit["box"]) == {"top", "left", "bottom", "right"}
    assert (blank["blank"], blank["number"], blank["digits"]) == (True, "", [])
    assert "no such image file" in missing["error"]
    assert result.stderr.count("error:") == 1


def test_evaluate_reports_a_corrupt_weights_file_in_one_line(tmp_path):
    broken = tmp_path / "broken.pth"
    broken.write_bytes(b"\x00" * 100)
    result = mnist_demo("evaluate", "--weights", str(broken))
    assert result.returncode == 2
    assert "broken.pth" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow
def test_bench_train_prints_both_pipelines_side_by_side():
    result = mnist_demo("bench", "train", "--device", "cpu", "--no-recipes", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["speedup"] == pytest.approx(
        report["lesson_seconds_per_epoch"] / report["engine_seconds_per_epoch"], rel=0.01
    )
    # Speed must not cost accuracy: one epoch of either reaches the lesson's usual ~98%.
    assert report["engine_test_accuracy"] > 0.97 and report["lesson_test_accuracy"] > 0.97


@pytest.mark.slow
def test_bench_predict_times_the_same_calls_idle_and_while_training():
    result = mnist_demo("bench", "predict", "--repeats", "20", "--while-training", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    busy = report["while_training"]
    for stat in ("p50_ms", "p95_ms"):
        assert set(report[stat]) == set(busy[stat]) == {"280", "800"}
        for size, idle_ms in report[stat].items():
            assert idle_ms > 0 and busy[stat][size] > 0
            ratio = report["ratio_while_training"][stat][size]
            assert ratio == pytest.approx(busy[stat][size] / idle_ms, abs=0.01)


def test_bench_numbers_reports_each_set_side_by_side():
    result = mnist_demo("bench", "numbers", "--count", "4", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["digits_from"] == "MNIST test set" and report["numbers_per_set"] == 4
    for name in ("clear", "touching"):
        figures = report[name]
        for key in ("whole_number_accuracy", "digit_count_accuracy", "digit_accuracy_alone"):
            assert 0 <= figures[key] <= 1
        assert figures["digit_accuracy_as_scanned"] > 0.5  # Four MNIST test numbers, read.
        assert figures["ms_per_number_p95"] >= figures["ms_per_number_p50"] > 0


@pytest.mark.slow
def test_bench_api_prints_one_json_object_with_its_ratios():
    result = mnist_demo("bench", "api", "--repeats", "5", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)  # Nothing else on stdout (Gradio's goodbye line was).
    assert report["predicted_label"] == "7"
    ratio = report["predict"]["p50_ms"] / report["trivial_function"]["p50_ms"]
    assert report["p50_ratio_vs_trivial"] == pytest.approx(ratio, abs=0.01)


@pytest.mark.slow
@pytest.mark.browser
def test_bench_browser_times_the_pad_and_the_old_sketchpad_side_by_side():
    result = mnist_demo("bench", "browser", "--repeats", "1", "--digits", "18", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    pad, old = report["pad_in_page"], report["old_sketchpad"]
    assert pad["strokes"] == old["strokes"] == 3  # A one, and an eight in two strokes.
    assert pad["digits_read_right"] == old["digits_read_right"] == "2/2"
    assert pad["requests_per_stroke"] == 0 < old["requests_per_stroke"]
    assert pad["pointer_up_to_final_p50_ms"] < old["pointer_up_to_final_p50_ms"]
    assert 0 < pad["timer_resolution_ms"] <= 1  # Chromium's clock: 0.1 ms unless isolated.
    assert (report["p50_speedup"] or report["p50_speedup_at_least"]) > 1
    assert 0 < report["model_payload_bytes"] <= 1_000_000


@pytest.mark.slow
def test_bench_browser_names_a_digit_it_has_no_template_for():
    result = mnist_demo("bench", "browser", "--digits", "7x", "--json")
    assert result.returncode != 0 and "--digits takes digits 0-9, not x" in result.stderr
