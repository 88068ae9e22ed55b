"""Choosing the device: auto's order, a clear refusal of a missing GPU, the app's variable."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import pytest
import torch

from mnist_demo import device as device_module
from mnist_demo.device import DeviceUnavailable, device_from_env, resolve_device
from mnist_demo.serving.retrain import fit_to_budget
from mnist_demo.serving.trainer import Budget
from mnist_demo.settings import DEVICE
from mnist_demo.training.loop import TrainConfig, TrainingRun

from .conftest import REPO_ROOT

no_cuda = pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA GPU")


def test_auto_picks_what_this_machine_has():
    expected = (
        "cuda" if torch.cuda.is_available() else "mps" if device_module.mps_available() else "cpu"
    )
    assert resolve_device("auto").type == expected
    assert resolve_device("cpu") == torch.device("cpu")


@pytest.mark.parametrize(
    ("cuda", "mps", "expected"),
    [(True, True, "cuda"), (False, True, "mps"), (False, False, "cpu")],
)
def test_auto_prefers_cuda_then_mps_then_cpu(monkeypatch, cuda, mps, expected):
    # The machines without these devices can only check the order by pretending.
    monkeypatch.setattr(device_module, "cuda_available", lambda: cuda)
    monkeypatch.setattr(device_module, "mps_available", lambda: mps)
    assert resolve_device("auto").type == expected


@pytest.mark.parametrize("name", ["gpu", "cuda:9x", "", "tpu"])
def test_an_unknown_device_name_is_a_value_error(name):
    with pytest.raises(ValueError, match="device must be one of auto, cpu, cuda, mps"):
        resolve_device(name)


@no_cuda
def test_asking_for_a_missing_gpu_names_it_and_what_to_use_instead():
    with pytest.raises(DeviceUnavailable, match="no CUDA GPU is available.*use cpu or auto"):
        resolve_device("cuda")


@no_cuda
@pytest.mark.parametrize(
    "command",
    [
        ["train", "--device", "cuda"],
        ["evaluate", "--device", "cuda"],
        ["explain", "no-such-drawing.png", "--out", "{out}", "--device", "cuda"],
        ["bench", "train", "--device", "cuda", "--json"],
    ],
    ids=["train", "evaluate", "explain", "bench-train"],
)
def test_cli_refuses_a_missing_gpu_in_one_line_before_any_work(command, tmp_path):
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, "-m", "mnist_demo", *(part.format(out=out) for part in command)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO_ROOT,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert lines[0].startswith(f"mnist-demo {command[0]}: error: no CUDA GPU is available")
    assert result.stdout == "" and not out.exists()


@no_cuda
def test_a_training_run_on_a_missing_gpu_fails_before_its_first_event():
    run = TrainingRun(TrainConfig(device="cuda", subset=256, test_subset=100))
    with pytest.raises(DeviceUnavailable):
        next(iter(run))
    assert run.history == []


def test_train_config_refuses_an_unknown_device():
    with pytest.raises(ValueError, match="device must be one of"):
        TrainConfig(device="gpu")
    assert TrainConfig(device=" CPU ").device == "cpu"


def test_the_app_reads_its_device_from_the_environment(monkeypatch):
    monkeypatch.setenv(DEVICE.name, "cpu")
    assert device_from_env() == torch.device("cpu")
    assert Budget.from_env().device == "cpu"
    monkeypatch.delenv(DEVICE.name)
    assert Budget.from_env().device == resolve_device("auto").type


def test_a_bad_app_device_names_the_variable(monkeypatch):
    monkeypatch.setenv(DEVICE.name, "gpu")
    with pytest.raises(ValueError, match=r"\$MNIST_DEMO_DEVICE='gpu'"):
        Budget.from_env()


def test_retrain_runs_on_the_hosts_device():
    budget = dataclasses.replace(Budget(), device="cpu")
    fitted, _ = fit_to_budget(TrainConfig(device="auto"), budget)
    assert fitted.device == "cpu"


def test_the_cli_device_flag_reaches_the_training_config():
    from mnist_demo.cli import build_parser
    from mnist_demo.cli.train import train_config_from_args

    args = build_parser().parse_args(["train", "--device", "cpu", "--no-cuda-graph"])
    config = train_config_from_args(args)
    assert (config.device, config.cuda_graph) == ("cpu", False)
