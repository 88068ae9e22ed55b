"""The one training loop: on the CPU it is the textbook loop (checked against one written out
here); on a GPU, the tests marked ``cuda`` check capture, determinism and that no step waits for
the host."""

from __future__ import annotations

import dataclasses

import pytest
import torch
import torch.nn.functional as F

from mnist_demo.data import load_split
from mnist_demo.recognition.model import SmallCNN
from mnist_demo.training.exposure import OUTLIER_RATIO, Exposure
from mnist_demo.training.loop import EpochEvent, StepEvent, TrainConfig, TrainingRun
from mnist_demo.training.progress import evaluation_steps
from mnist_demo.training.stepper import Stepper, build_optimizer, build_scheduler, wants_graph

# 1000 images in batches of 64: 15 full batches and a last one of 40 in every epoch.
SMALL = dict(subset=1000, test_subset=500, batch_size=64, log_every=4, threads=2, epochs=2)


def numbers(events) -> list[tuple]:
    rows = []
    for event in events:
        row = (type(event).__name__, event.epoch, event.step, event.train_loss)
        if isinstance(event, EpochEvent):
            row += (event.train_accuracy, event.test_loss, event.test_accuracy)
        rows.append(row)
    return rows


def textbook_run(config: TrainConfig) -> tuple[list[float], SmallCNN]:
    """The lesson's loop written out plainly: the same seed, data order and optimiser, no extras.
    Returns each epoch's mean training loss and the trained model."""
    torch.manual_seed(config.seed)
    model = SmallCNN()
    split = load_split("mnist", train=True).subset(config.subset)
    generator = torch.Generator().manual_seed(config.seed)
    if config.optimizer == "sgd":
        optimizer = torch.optim.SGD(model.parameters(), config.learning_rate, config.momentum)
    else:
        optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    losses = []
    for _ in range(config.epochs):
        model.train()
        total = 0.0
        order = torch.randperm(len(split), generator=generator)
        for start in range(0, len(split), config.batch_size):
            indices = order[start : start + config.batch_size]
            loss = F.cross_entropy(model(split.images[indices]), split.labels[indices])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(indices)
        losses.append(total / len(split))
    return losses, model.eval()


@pytest.mark.parametrize(
    "options",
    [dict(), dict(optimizer="sgd", learning_rate=0.05)],
    ids=["lesson", "sgd"],
)
def test_the_loop_on_the_cpu_is_the_textbook_loop(options):
    config = TrainConfig(**SMALL, bf16=False, **options)
    run = TrainingRun(config)
    epochs = [event for event in run if isinstance(event, EpochEvent)]
    losses, model = textbook_run(config)
    assert [event.train_loss for event in epochs] == pytest.approx(losses, rel=1e-4)
    # The last, smaller batch was trained on: every step of both epochs is there.
    assert epochs[-1].step == 2 * 16
    for name, tensor in model.state_dict().items():
        torch.testing.assert_close(run.model.state_dict()[name], tensor, rtol=1e-3, atol=1e-5)


def test_the_loop_yields_the_events_the_charts_expect_and_learns():
    run = TrainingRun(TrainConfig(**SMALL))
    events = list(run)
    steps = [event for event in events if isinstance(event, StepEvent)]
    epochs = [event for event in events if isinstance(event, EpochEvent)]
    # Every log_every steps and at each epoch's end, then the epoch's evaluation.
    assert [event.step for event in steps] == [4, 8, 12, 16, 20, 24, 28, 32]
    assert [event.step for event in epochs] == [16, 32]
    assert all(event.total_steps == 32 for event in events)
    assert epochs[-1].test_accuracy > 0.7  # Chance is 0.1.
    assert all(0 <= event.train_accuracy <= 1 and event.samples_per_second > 0 for event in steps)


def test_a_stopped_run_leaves_a_cpu_model_in_eval_mode():
    run = TrainingRun(TrainConfig(**SMALL))
    events = []
    for event in run:
        events.append(event)
        if event.step >= 8:
            run.stop()
    assert run.stopped and max(event.step for event in events) < 12
    parameter = next(run.model.parameters())
    assert parameter.device.type == "cpu" and not run.model.training


def test_graph_capture_is_refused_off_cuda():
    with pytest.raises(ValueError, match="needs a CUDA device"):
        wants_graph(TrainConfig(cuda_graph=True), torch.device("cpu"))
    assert not wants_graph(TrainConfig(), torch.device("cpu"))


def test_a_captured_graphs_learning_rate_is_one_tensor_the_schedule_fills_in_place():
    # A CUDA graph reads the learning rate from the tensor's memory: the schedule must write
    # into that same tensor, and the values must be OneCycle's (SGD builds the same way on a
    # CPU, where Adam's capturable step is not allowed).
    config = TrainConfig(optimizer="sgd", schedule="onecycle", learning_rate=0.1, epochs=2)
    optimizer = build_optimizer(SmallCNN(), config, graph=True)
    learning_rate = optimizer.param_groups[0]["lr"]
    assert isinstance(learning_rate, torch.Tensor)
    scheduler, per_batch = build_scheduler(optimizer, config, steps_per_epoch=5)
    reference = torch.optim.SGD(SmallCNN().parameters(), lr=0.1, momentum=0.9)
    expected = torch.optim.lr_scheduler.OneCycleLR(
        reference, max_lr=0.1, total_steps=10, cycle_momentum=False
    )
    assert per_batch
    for _ in range(9):
        optimizer.step(), scheduler.step(), reference.step(), expected.step()
        assert optimizer.param_groups[0]["lr"] is learning_rate
        assert learning_rate.item() == pytest.approx(reference.param_groups[0]["lr"])


def small_cuda_config(**options) -> TrainConfig:
    return TrainConfig(**{**SMALL, "device": "cuda", **options})


@pytest.mark.cuda
def test_cuda_graph_runs_repeat_exactly_and_learn():
    first = numbers(TrainingRun(small_cuda_config(seed=3)))
    second = numbers(TrainingRun(small_cuda_config(seed=3)))
    other = numbers(TrainingRun(small_cuda_config(seed=4)))
    assert first == second and first != other
    assert first[-1][-1] > 0.7


@pytest.mark.cuda
@pytest.mark.parametrize(
    "options",
    [
        dict(),
        dict(augment=True, schedule="onecycle", learning_rate=3e-3, batch_norm=True),
        dict(augment=True, outlier_exposure=True, coarse_scans=True),
    ],
    ids=["lesson", "augment-onecycle-bn", "outliers-coarse-scans"],
)
def test_cuda_graph_and_eager_cuda_agree(options):
    graph = numbers(TrainingRun(small_cuda_config(**options)))
    eager = numbers(TrainingRun(small_cuda_config(cuda_graph=False, **options)))
    assert [row[:3] for row in graph] == [row[:3] for row in eager]
    assert graph[-1][-1] == pytest.approx(eager[-1][-1], abs=0.03)


@pytest.mark.cuda
def test_a_captured_step_never_waits_for_the_host():
    device = torch.device("cuda")
    config = small_cuda_config()
    model = SmallCNN().to(device)
    optimizer = build_optimizer(model, config, graph=True)
    stepper = Stepper(model, optimizer, batch_size=64, bf16=False, graph=True)
    images = torch.randn(10, 64, 1, 28, 28, device=device)
    labels = torch.randint(0, 10, (10, 64), device=device)
    for index in range(5):  # Warm-up steps and the capture.
        stepper.step(images[index], labels[index])
    assert stepper.graph is not None
    torch.cuda.set_sync_debug_mode("error")  # Any host synchronisation now raises.
    try:
        for index in range(5, 10):
            stepper.step(images[index], labels[index])
    finally:
        torch.cuda.set_sync_debug_mode("default")
    sums = stepper.sums.tolist()
    assert sums[3] <= 10 * 64 and sums[1] == sums[3]


@pytest.mark.cuda
def test_mixing_in_outliers_and_coarse_scans_never_waits_for_the_host():
    device = torch.device("cuda")
    config = TrainConfig(subset=1000, outlier_exposure=True, coarse_scans=True)
    exposure = Exposure.for_config(config).to(device)
    generator = torch.Generator(device=device).manual_seed(0)
    images = torch.randn(64, 1, 28, 28, device=device)
    labels = torch.randint(0, 10, (64,), device=device)
    torch.cuda.set_sync_debug_mode("error")  # Any host synchronisation now raises.
    try:
        mixed, n = exposure.mix(images, labels, generator)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert n == 64 and mixed.shape == (64 + round(64 * OUTLIER_RATIO), 1, 28, 28)
    assert mixed.device.type == "cuda"


@pytest.mark.cuda
def test_a_cuda_run_hands_back_a_cpu_model():
    run = TrainingRun(dataclasses.replace(small_cuda_config(), epochs=1))
    list(run)
    assert next(run.model.parameters()).device.type == "cpu" and not run.model.training


def test_test_scores_inside_an_epoch_fall_on_its_quarters():
    assert evaluation_steps(16, 4) == {4, 8, 12}
    assert evaluation_steps(235, 4) == {59, 118, 176}
    assert evaluation_steps(16, 1) == set()
    assert evaluation_steps(2, 4) == {1}  # Never the epoch's end, which the EpochEvent scores.


@pytest.mark.parametrize("tests_per_epoch", [4, 3], ids=["on-log-steps", "between-log-steps"])
def test_test_scores_inside_an_epoch_change_no_training_number(tests_per_epoch):
    """The Retrain tab scores short runs at each quarter epoch: the evaluation draws no random
    numbers and hands the model back in training mode, so the run trains exactly as without."""
    config = TrainConfig(**SMALL)
    plain = TrainingRun(config)
    plain_events = list(plain)
    scored = TrainingRun(config, tests_per_epoch=tests_per_epoch)
    events = list(scored)
    inside = [e for e in events if isinstance(e, StepEvent) and e.test_accuracy is not None]
    quarters = sorted(evaluation_steps(16, tests_per_epoch))
    assert [e.step for e in inside] == quarters + [16 + step for step in quarters]
    assert all(0 <= e.test_accuracy <= 1 and e.test_loss > 0 for e in inside)
    epochs = [row for row in numbers(events) if row[0] == "EpochEvent"]
    assert epochs == [row for row in numbers(plain_events) if row[0] == "EpochEvent"]
    if tests_per_epoch == 4:  # The quarters are log steps here: not one event more or less.
        assert numbers(events) == numbers(plain_events)
    for name, tensor in plain.model.state_dict().items():
        assert torch.equal(scored.model.state_dict()[name], tensor), name


@pytest.mark.cuda
def test_test_scores_inside_an_epoch_change_nothing_under_a_cuda_graph():
    plain = numbers(TrainingRun(small_cuda_config(seed=3)))
    events = list(TrainingRun(small_cuda_config(seed=3), tests_per_epoch=4))
    assert numbers(events) == plain
    assert sum(isinstance(e, StepEvent) and e.test_accuracy is not None for e in events) == 6
