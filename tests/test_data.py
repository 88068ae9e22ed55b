import subprocess
import sys

import pytest
import torch

from mnist_demo.config import FASHION_MNIST, MNIST
from mnist_demo.data import (
    Augmentation,
    DatasetMissingError,
    augment_batch,
    batch_indices,
    load_split,
)


def test_mnist_splits_load_normalised_with_the_training_statistics(mnist_test):
    train = load_split("mnist", train=True)
    assert train.images.shape == (60_000, 1, 28, 28)
    assert mnist_test.images.shape == (10_000, 1, 28, 28)
    # Normalised with the training set's own mean and std, so train has mean 0 and std 1.
    assert abs(train.images.mean().item()) < 1e-3
    assert abs(train.images.std().item() - 1) < 1e-3
    test_counts = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]  # MNIST's own
    assert torch.bincount(mnist_test.labels).tolist() == test_counts


def test_fashion_statistics_match_its_training_set():
    train = load_split("fashion", train=True)
    pixels = train.images * FASHION_MNIST.std + FASHION_MNIST.mean
    assert abs(pixels.mean().item() - FASHION_MNIST.mean) < 1e-3
    assert abs(pixels.std().item() - FASHION_MNIST.std) < 1e-3


def test_splits_are_loaded_once(mnist_test):
    assert load_split("mnist", train=False) is mnist_test


def test_batches_cover_every_index_once():
    generator = torch.Generator().manual_seed(0)
    batches = list(batch_indices(1000, 128, True, generator))
    assert [len(b) for b in batches] == [128] * 7 + [104]
    assert torch.equal(torch.cat(batches).sort().values, torch.arange(1000))


def test_augmentation_keeps_background_and_moves_the_ink(mnist_test):
    images = mnist_test.images[:64]
    augmented = augment_batch(images, MNIST, torch.Generator().manual_seed(0), Augmentation())
    background = (0 - MNIST.mean) / MNIST.std
    assert augmented.shape == images.shape
    assert torch.isclose(augmented[:, :, 0, 0], torch.tensor(background), atol=1e-5).all()
    assert not torch.allclose(augmented, images)
    # Ink survives: every digit still has bright pixels.
    assert (augmented.flatten(1).amax(1) > 1.0).all()


def test_missing_dataset_gives_a_short_message_naming_the_folder(tmp_path):
    with pytest.raises(DatasetMissingError) as error:
        load_split("mnist", train=False, root=tmp_path / "nowhere", download=False)
    message = str(error.value)
    assert "MNIST_DEMO_DATA" in message and "nowhere" in message
    assert "t10k-images-idx3-ubyte" in message


@pytest.mark.slow
def test_cli_reports_a_missing_dataset_without_a_traceback(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mnist_demo",
            "train",
            "--dry-run",
            "--no-download",
            "--data-dir",
            str(tmp_path / "empty"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "MNIST_DEMO_DATA" in result.stderr
