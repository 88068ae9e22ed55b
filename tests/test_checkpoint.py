import json
import multiprocessing
import os
import signal
import time

import pytest
import torch

from mnist_demo.recognition.checkpoint import (
    CheckpointError,
    load_checkpoint,
    save_checkpoint,
    sidecar_path,
)
from mnist_demo.recognition.model import ModelConfig, SmallCNN


def saved_model(path, **config):
    torch.manual_seed(0)
    model = SmallCNN(ModelConfig(**config)).eval()
    save_checkpoint(path, model, "mnist", metrics={"test_accuracy": 0.5}, command="test")
    return model


def test_round_trip_restores_the_same_function(tmp_path):
    path = tmp_path / "model.pth"
    model = saved_model(path, batch_norm=True)
    loaded = load_checkpoint(path)
    x = torch.randn(4, 1, 28, 28)
    assert torch.equal(model(x), loaded.model(x))
    assert loaded.model.config == model.config
    assert loaded.class_names == tuple("0123456789")
    meta = json.loads(sidecar_path(path).read_text())
    assert meta["metrics"]["test_accuracy"] == 0.5
    assert meta["torch_version"] == torch.__version__
    assert meta["command"] == "test"


def test_a_bare_state_dict_from_the_lesson_loads_as_mnist(tmp_path):
    path = tmp_path / "mnist_cnn.pth"
    torch.save(SmallCNN().state_dict(), path)
    assert load_checkpoint(path).dataset == "mnist"


@pytest.mark.parametrize(
    "content",
    [b"", b"not a pickle at all", b"PK\x03\x04truncated zip"],
    ids=["empty", "garbage", "truncated-zip"],
)
def test_corrupt_files_give_an_error_naming_the_file(tmp_path, content):
    path = tmp_path / "broken.pth"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match="broken.pth"):
        load_checkpoint(path)


def test_truncated_checkpoint_is_refused(tmp_path):
    path = tmp_path / "model.pth"
    saved_model(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="model.pth"):
        load_checkpoint(path)


def test_a_pickle_carrying_code_is_refused(tmp_path):
    path = tmp_path / "evil.pth"
    torch.save({"weights": SmallCNN}, path)  # A class, not tensors: needs unsafe unpickling.
    with pytest.raises(CheckpointError, match="evil.pth"):
        load_checkpoint(path)


def test_shape_mismatch_names_the_file(tmp_path):
    path = tmp_path / "wide.pth"
    torch.save(SmallCNN(ModelConfig(hidden_units=64)).state_dict(), path)
    with pytest.raises(CheckpointError, match="wide.pth.*do not fit"):
        load_checkpoint(path)


def test_foreign_state_dict_is_refused(tmp_path):
    path = tmp_path / "resnet.pth"
    torch.save({"fc.weight": torch.zeros(3, 3)}, path)
    with pytest.raises(CheckpointError, match="resnet.pth"):
        load_checkpoint(path)


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(CheckpointError, match="no such weights file"):
        load_checkpoint(tmp_path / "absent.pth")


def save_forever(path: str) -> None:
    torch.manual_seed(1)
    model = SmallCNN()
    while True:
        save_checkpoint(path, model, "mnist")


def test_a_process_killed_while_saving_leaves_a_loadable_file(tmp_path):
    path = tmp_path / "model.pth"
    original = saved_model(path)
    context = multiprocessing.get_context("spawn")
    for delay in (0.5, 0.9, 1.3):
        writer = context.Process(target=save_forever, args=(str(path),))
        writer.start()
        time.sleep(delay)
        os.kill(writer.pid, signal.SIGKILL)
        writer.join()
        loaded = load_checkpoint(path)  # Old or new weights, never a torn file.
        assert loaded.model.config == original.config
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    # A killed writer may leave its temporary file behind, never the real one half-written.
    assert all(name.startswith(".model.") for name in leftovers)
