"""Teaching the shipped model a learner's handwriting, on real MNIST with the real weights."""

import hashlib
import json
import threading

import numpy as np
import pytest
import torch

from mnist_demo.config import FASHION_MNIST, MNIST, shipped_weights_path
from mnist_demo.data import Split, load_split
from mnist_demo.recognition.checkpoint import load_checkpoint
from mnist_demo.recognition.inference import shipped_predictor
from mnist_demo.recognition.preprocess import to_tensor
from mnist_demo.teaching.mistakes import split_picture
from mnist_demo.training.evaluate import predict_logits
from mnist_demo.training.finetune import FinetuneResult, PersonalExample, examples_tensor, finetune

HANDFUL = 8


def file_hash(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def state_copy(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {name: tensor.detach().clone() for name, tensor in model.state_dict().items()}


def same_state(model: torch.nn.Module, state: dict[str, torch.Tensor]) -> bool:
    current = model.state_dict()
    return current.keys() == state.keys() and all(
        torch.equal(current[name], state[name]) for name in state
    )


@pytest.fixture(scope="module")
def shipped_model():
    return load_checkpoint(shipped_weights_path("mnist")).model


@pytest.fixture(scope="module")
def mnist_train() -> Split:
    return load_split("mnist", train=True)


@pytest.fixture(scope="module")
def misread(shipped_model, mnist_test) -> list[PersonalExample]:
    """A learner's handful of digits that the shipped model reads wrong, with their true labels.

    Real MNIST test digits stand in for drawings: the ones the shipped model misclassifies are
    the odd handwriting (a barred 7, an open 4) that a learner would correct in the app.
    """
    predicted = predict_logits(shipped_model, mnist_test.images).argmax(1)
    wrong = (predicted != mnist_test.labels).nonzero()[:HANDFUL, 0].tolist()
    assert len(wrong) == HANDFUL
    return [
        PersonalExample(split_picture(mnist_test, index), int(mnist_test.labels[index]))
        for index in wrong
    ]


@pytest.fixture(scope="module")
def quick(shipped_model, misread, mnist_train, mnist_test):
    """Run a short fine-tune (few steps, small test subset) for tests of the mechanics."""

    def run(**overrides) -> FinetuneResult:
        settings = {"steps": 4, "test_subset": 200, "threads": 1, **overrides}
        return finetune(shipped_model, misread, mnist_train, mnist_test, **settings)

    return run


@pytest.mark.slow
def test_finetuning_learns_the_handful_and_forgets_nothing(
    shipped_model, misread, mnist_train, mnist_test
):
    weights = shipped_weights_path("mnist")
    weights_hash = file_hash(weights)
    original = state_copy(shipped_model)
    images, labels = examples_tensor(misread)
    other_session = shipped_predictor("mnist")
    other_before = [other_session.predict(example.picture) for example in misread]

    result = finetune(shipped_model, misread, mnist_train, mnist_test, threads=1)

    # The session model now reads the learner's digits right...
    assert result.personal_before == 0.0
    assert result.personal_after == 1.0
    assert (predict_logits(result.model, images).argmax(1) == labels).all()
    # ...and MNIST as well as before, on the full 10,000-image test set.
    shipped = json.loads(shipped_weights_path("mnist").with_suffix(".json").read_text())
    assert result.test_before == pytest.approx(shipped["metrics"]["test_accuracy"])
    assert abs(result.test_after - result.test_before) <= 0.01
    assert result.steps == 60 and not result.model.training
    # Nothing else changed: the model passed in, the weights file and other sessions' model.
    assert same_state(shipped_model, original) and not shipped_model.training
    assert file_hash(weights) == weights_hash
    assert [other_session.predict(example.picture) for example in misread] == other_before
    assert (predict_logits(shipped_model, images).argmax(1) != labels).all()


def test_seeded_runs_repeat_exactly_and_seeds_differ(quick):
    first, again, other = quick(seed=3), quick(seed=3), quick(seed=4)
    assert same_state(again.model, state_copy(first.model))
    assert (again.test_after, again.personal_after) == (first.test_after, first.personal_after)
    assert not same_state(other.model, state_copy(first.model))


def test_finetuning_leaves_global_state_as_it_found_it(quick, shipped_model):
    torch.manual_seed(123)
    rng_state, threads = torch.random.get_rng_state(), torch.get_num_threads()
    result = quick()
    assert torch.equal(torch.random.get_rng_state(), rng_state)
    assert torch.get_num_threads() == threads
    assert result.model is not shipped_model


class StopAfterTwoChecks(threading.Event):
    """A stop request that is set from the third check on (the loop checks before each step)."""

    def __init__(self) -> None:
        super().__init__()
        self.checks = 0

    def is_set(self) -> bool:
        self.checks += 1
        return self.checks > 2


def test_stop_ends_the_steps_early(quick):
    result = quick(steps=10, stop=StopAfterTwoChecks())
    assert result.steps == 2
    assert not result.model.training


def test_a_served_model_without_gradients_can_be_finetuned(misread, mnist_train, mnist_test):
    # Predictor serves a copy with gradients switched off; the session may hand that one over.
    frozen = load_checkpoint(shipped_weights_path("mnist")).model.requires_grad_(False)
    original = state_copy(frozen)
    result = finetune(frozen, misread, mnist_train, mnist_test, steps=2, test_subset=100)
    assert result.steps == 2
    assert not same_state(result.model, original)
    assert same_state(frozen, original)
    assert not any(parameter.requires_grad for parameter in frozen.parameters())


def test_examples_tensor_normalises_as_prediction_and_training_do(misread, mnist_test):
    images, labels = examples_tensor(misread)
    assert images.shape == (HANDFUL, 1, 28, 28) and images.dtype == torch.float32
    assert labels.dtype == torch.int64 and labels.tolist() == [e.label for e in misread]
    assert torch.equal(images[0:1], to_tensor(misread[0].picture, MNIST))
    # The round trip picture -> tensor gives back the training split's own normalised image.
    picture = split_picture(mnist_test, 0)
    (image,), _ = examples_tensor([PersonalExample(picture, 7)])
    assert torch.allclose(image, mnist_test.images[0], atol=1e-6)


def test_no_examples_is_a_clear_error(shipped_model, mnist_train, mnist_test):
    empty_images, empty_labels = examples_tensor([])
    assert empty_images.shape == (0, 1, 28, 28) and empty_labels.shape == (0,)
    with pytest.raises(ValueError, match="no personal examples"):
        finetune(shipped_model, [], mnist_train, mnist_test)


@pytest.mark.parametrize("label", [10, -1])
def test_labels_outside_the_classes_are_refused(shipped_model, misread, mnist_train, label):
    examples = [*misread[:2], PersonalExample(misread[2].picture, label)]
    with pytest.raises(ValueError, match=r"outside the model's classes 0\.\.9"):
        finetune(shipped_model, examples, mnist_train)


@pytest.mark.parametrize(
    ("picture", "label", "message"),
    [
        (np.zeros((28, 28, 3), np.uint8), 1, "uint8 picture"),
        (np.zeros((28, 28), np.float32), 1, "uint8 picture"),
        (np.zeros((28, 28), np.uint8), "7", "class index"),
        (np.zeros((28, 28), np.uint8), 2.0, "class index"),
    ],
)
def test_malformed_examples_are_refused(picture, label, message):
    with pytest.raises(ValueError, match=message):
        examples_tensor([PersonalExample(picture, label)])


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ({"steps": 0}, "steps must be at least 1"),
        ({"personal_per_batch": 0}, "personal_per_batch must be at least 1"),
        ({"learning_rate": 0.0}, "learning_rate must be positive"),
        ({"test_subset": 0}, "test_subset must be at least 1"),
    ],
)
def test_bad_settings_are_refused(shipped_model, misread, mnist_train, setting, message):
    with pytest.raises(ValueError, match=message):
        finetune(shipped_model, misread, mnist_train, **setting)


def test_a_test_split_of_another_dataset_is_refused(shipped_model, misread, mnist_train):
    fashion = Split(mnist_train.images[:10], mnist_train.labels[:10], FASHION_MNIST)
    with pytest.raises(ValueError, match="Fashion-MNIST"):
        finetune(shipped_model, misread, mnist_train, fashion)
