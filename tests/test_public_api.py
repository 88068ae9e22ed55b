"""The names a lesson imports stay where the lesson finds them, whatever the package's rooms."""

from __future__ import annotations

import subprocess
import sys

import torch

import mnist_demo
from mnist_demo.recognition.checkpoint import load_checkpoint
from mnist_demo.recognition.model import SmallCNN
from mnist_demo.training.loop import TrainingRun, train
from mnist_demo.training.options import TrainConfig

SMALL = dict(subset=512, test_subset=200, batch_size=64, log_every=4, threads=1, epochs=1)


def test_the_lessons_names_come_from_the_package_top():
    from mnist_demo import SmallCNN as PublicCNN
    from mnist_demo import TrainConfig as PublicConfig
    from mnist_demo import TrainingRun as PublicRun
    from mnist_demo import predict
    from mnist_demo import train as public_train

    assert (PublicCNN, PublicConfig, PublicRun, public_train) == (
        SmallCNN,
        TrainConfig,
        TrainingRun,
        train,
    )
    assert callable(predict)
    assert set(mnist_demo.__all__) <= set(dir(mnist_demo))


def test_read_number_comes_from_the_package_top():
    from mnist_demo import read_number
    from mnist_demo.numbers.read import read_number as defined

    assert read_number is defined
    assert "read_number" in mnist_demo.__all__


def test_an_unknown_name_is_an_attribute_error():
    try:
        mnist_demo.NoSuchThing  # noqa: B018
    except AttributeError as error:
        assert "NoSuchThing" in str(error)
    else:
        raise AssertionError("mnist_demo.NoSuchThing did not raise")


def test_importing_the_public_names_does_not_import_torch_until_one_is_used():
    code = (
        "import sys; from mnist_demo import predict; "
        "assert 'torch' not in sys.modules; "
        "from mnist_demo import SmallCNN; print('torch' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True"


def test_the_lessons_save_and_load_round_trip(tmp_path):
    from mnist_demo import SmallCNN, TrainConfig, train

    torch.manual_seed(0)
    model = SmallCNN()
    events = list(train(TrainConfig(**SMALL), model))
    assert events and not model.training
    path = tmp_path / "mnist_cnn.pth"
    torch.save(model.state_dict(), path)  # The lesson's own line.

    again = SmallCNN()
    again.load_state_dict(torch.load(path, weights_only=True))
    batch = torch.randn(4, 1, 28, 28)
    torch.testing.assert_close(again.eval()(batch), model(batch))
    # The app reads the lesson's bare state_dict too, as an MNIST model.
    checkpoint = load_checkpoint(path)
    torch.testing.assert_close(checkpoint.model(batch), model(batch))
