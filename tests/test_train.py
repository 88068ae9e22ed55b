import pytest
import torch

from mnist_demo.training.loop import (
    EpochEvent,
    StepEvent,
    TrainConfig,
    TrainingDiverged,
    TrainingRun,
)

SMALL = dict(subset=2048, test_subset=1000, batch_size=64, log_every=8, threads=2)


def test_defaults_reproduce_the_lesson():
    config = TrainConfig()
    assert (config.epochs, config.batch_size, config.learning_rate) == (5, 128, 1e-3)
    assert (config.optimizer, config.batch_norm, config.schedule) == ("adam", False, "none")


def test_short_run_yields_progress_and_learns():
    run = TrainingRun(TrainConfig(epochs=2, **SMALL))
    events = list(run)
    steps = [e for e in events if isinstance(e, StepEvent)]
    epochs = [e for e in events if isinstance(e, EpochEvent)]
    assert len(steps) >= 8 and len(epochs) == 2
    assert [e.step for e in steps] == sorted(e.step for e in steps)
    assert epochs[-1].step == epochs[-1].total_steps == 2 * 32
    assert epochs[-1].test_accuracy > 0.8  # Chance is 0.1.
    assert run.completed and not run.model.training


def test_same_seed_gives_the_same_numbers():
    first = [e.train_loss for e in TrainingRun(TrainConfig(epochs=1, seed=3, **SMALL))]
    second = [e.train_loss for e in TrainingRun(TrainConfig(epochs=1, seed=3, **SMALL))]
    other = [e.train_loss for e in TrainingRun(TrainConfig(epochs=1, seed=4, **SMALL))]
    assert first == second
    assert first != other


def test_stop_ends_the_run_between_steps_and_leaves_a_usable_model():
    run = TrainingRun(TrainConfig(epochs=3, **SMALL))
    for event in run:
        if event.step >= 16:
            run.stop()
    assert run.stopped and not run.completed
    assert max(e.step for e in run.history) < 24
    logits = run.model(torch.zeros(1, 1, 28, 28))
    assert logits.shape == (1, 10) and not run.model.training


def test_closing_the_generator_leaves_the_model_in_eval_mode():
    run = TrainingRun(TrainConfig(epochs=1, **SMALL))
    events = iter(run)
    next(events)
    events.close()
    assert not run.model.training


@pytest.mark.parametrize(
    "options",
    [
        dict(optimizer="sgd", learning_rate=0.05, schedule="steplr", step_size=1),
        dict(schedule="onecycle", learning_rate=3e-3, batch_norm=True, augment=True),
        dict(dataset="fashion", bf16=False),
    ],
    ids=["sgd-steplr", "onecycle-bn-augment", "fashion-fp32"],
)
def test_every_option_trains(options):
    run = TrainingRun(TrainConfig(epochs=1, **{**SMALL, **options}))
    final = [e for e in run if isinstance(e, EpochEvent)][-1]
    assert final.test_accuracy > 0.5


def test_divergence_is_reported():
    run = TrainingRun(TrainConfig(epochs=1, learning_rate=1e6, optimizer="sgd", **SMALL))
    with pytest.raises(TrainingDiverged, match="learning rate"):
        list(run)


@pytest.mark.parametrize(
    "bad",
    [dict(epochs=0), dict(optimizer="rmsprop"), dict(schedule="cosine"), dict(dataset="cifar")],
)
def test_bad_config_is_a_value_error(bad):
    with pytest.raises(ValueError):
        TrainConfig(**bad)
