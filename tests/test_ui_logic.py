"""The UI's rules, tested without a server: sessions, the trainer slot and the budget."""

import base64
import dataclasses
import io
import re
import threading

import numpy as np
import pytest
from PIL import Image

from mnist_demo.recognition.preprocess import preprocess
from mnist_demo.serving.retrain import fit_to_budget, train_for_visitor
from mnist_demo.serving.session import Session
from mnist_demo.serving.trainer import Budget, TrainerBusy, TrainerSlot
from mnist_demo.training.loop import TrainConfig
from mnist_demo.ui.notes import PROBLEM

from .helpers import first_index_of, sketch_value

SMALL = dict(subset=1024, batch_size=64)


def test_build_demo_builds_without_launching():
    from mnist_demo.ui import build_demo

    demo = build_demo(Budget(max_epochs=2, max_seconds=30, threads=1))
    names = {dep.api_name for dep in demo.fns.values()}
    assert {"predict", "train", "stop", "use_model", "use_shipped"} <= names


def test_cleared_canvas_asks_for_a_drawing():
    from mnist_demo.ui.tabs.draw import predict_drawing

    cleared = {"background": None, "layers": [], "composite": None}
    probabilities, picture, hint = predict_drawing(cleared, Session())
    assert probabilities is None and picture is None
    assert "Draw a digit" in hint


@pytest.mark.parametrize("odd", ["not an image", {"layers": "nonsense"}, 42])
def test_odd_inputs_get_a_message_not_a_crash(odd):
    from mnist_demo.ui.tabs.draw import predict_drawing

    probabilities, _, hint = predict_drawing(odd, Session())
    assert probabilities is None
    assert hint.startswith(PROBLEM)


def test_drawn_digit_is_predicted_with_the_model_input_shown(mnist_test):
    from mnist_demo.ui.tabs.draw import predict_drawing

    index = first_index_of(mnist_test, 3)
    drawing = sketch_value(mnist_test, index)
    probabilities, picture, hint = predict_drawing(drawing, Session())
    assert max(probabilities, key=probabilities.get) == "3"
    assert "**3**" in hint
    # The picture is inline HTML: exactly the 28x28 input, shown 8 times larger.
    uri = re.search(r'src="data:image/png;base64,([^"]+)"', picture).group(1)
    shown = np.asarray(Image.open(io.BytesIO(base64.b64decode(uri))))
    assert np.array_equal(shown, preprocess(drawing).picture)
    assert 'width="224"' in picture


def test_budget_caps_epochs_and_says_so():
    config, note = fit_to_budget(TrainConfig(epochs=50), Budget(max_epochs=3, threads=1))
    assert config.epochs == 3 and config.threads == 1
    assert "at most 3 epochs" in note


def test_budget_reads_the_environment(monkeypatch):
    monkeypatch.setenv("MNIST_DEMO_MAX_EPOCHS", "2")
    monkeypatch.setenv("MNIST_DEMO_MAX_TRAIN_SECONDS", "9.5")
    assert Budget.from_env().max_epochs == 2
    assert Budget.from_env().max_seconds == 9.5
    monkeypatch.setenv("MNIST_DEMO_MAX_EPOCHS", "many")
    with pytest.raises(ValueError, match="MNIST_DEMO_MAX_EPOCHS"):
        Budget.from_env()


def test_second_holder_of_the_trainer_is_told_it_is_busy():
    slot = TrainerSlot()
    with slot.hold(), pytest.raises(TrainerBusy, match="busy"), slot.hold():
        pass
    with slot.hold():  # Released again.
        assert slot.busy


def test_training_keeps_the_model_in_the_session_only(mnist_test):
    session, other = Session(), Session()
    slot = TrainerSlot()
    updates = list(
        train_for_visitor(TrainConfig(epochs=1, **SMALL), session, Budget(threads=1), slot)
    )
    assert updates[-1].finished and "test accuracy" in updates[-1].status
    assert any(u.charts.loss for u in updates[:-1])
    assert session.trained is not None and other.trained is None
    assert not slot.busy
    # The run just made is the one the session draws with, at once; the other is untouched.
    assert session.use_trained and session.predictor() is session.trained.predictor
    assert "your retrained" in session.model_description and not other.use_trained
    drawing = sketch_value(mnist_test, first_index_of(mnist_test, 7))
    shipped = other.predictor().predict(drawing)
    assert session.predictor().predict(drawing) != shipped
    assert other.predictor().predict(drawing) == shipped
    files = session.export_trained()
    assert [f.rsplit(".", 1)[1] for f in files] == ["pth", "json"]
    session.close()


def test_stop_from_another_thread_ends_the_run_and_keeps_a_scored_model():
    session = Session()
    config = TrainConfig(epochs=3, **SMALL)
    updates = []
    for update in train_for_visitor(config, session, Budget(threads=1), TrainerSlot()):
        updates.append(update)
        if len(updates) == 3:
            threading.Thread(target=session.stop_training).start()
    assert "stopped" in updates[-1].status
    assert session.trained.metrics["epochs_completed"] < 3
    assert 0 < session.trained.metrics["test_accuracy"] <= 1


def test_watching_the_drawing_while_training(mnist_test):
    session = Session(drawing=sketch_value(mnist_test, first_index_of(mnist_test, 0)))
    config = dataclasses.replace(TrainConfig(epochs=1, **SMALL))
    updates = list(train_for_visitor(config, session, Budget(threads=1), TrainerSlot()))
    watched = [u.watch for u in updates if u.watch]
    assert len(watched) >= 2
    assert abs(sum(watched[-1].values()) - 1) < 1e-4


def test_a_short_runs_test_curve_is_scored_at_each_quarter_epoch():
    """With only its start and end, a one-epoch run's test curve was a straight diagonal."""

    def tested(epochs: int) -> list[float]:
        config = TrainConfig(epochs=epochs, **SMALL)  # 16 steps an epoch.
        updates = list(train_for_visitor(config, Session(), Budget(threads=1), TrainerSlot()))
        return [row["epoch"] for row in updates[-1].charts.accuracy if row["series"] == "test"]

    assert tested(1) == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert tested(3) == [0.0, 1.0, 2.0, 3.0]  # A longer run has its shape from its epochs.


def test_a_model_change_that_sets_the_dataset_is_not_a_switch_back_to_the_shipped_model():
    from mnist_demo.recognition.model import SmallCNN
    from mnist_demo.ui.app import switch_dataset, use_model
    from mnist_demo.ui.header import model_line

    session = Session()
    assert model_line(session)[0]["visible"] is False  # No model of the visitor's: no line.
    session.keep_trained(SmallCNN().eval(), "fashion", {"test_accuracy": 0.84}, {})
    # "Use it" sets the dataset switch to "fashion", whose change event then fires: an echo.
    use_model(True, session)
    switch_dataset("fashion", session)
    assert session.use_trained and session.dataset == "fashion"
    row, words, use, back = model_line(session)
    assert words == "In use: your retrained Fashion-MNIST clothing model, 84.00% test accuracy."
    assert row["visible"] and back["visible"] and not use["visible"]
    switch_dataset("mnist", session)  # The visitor's own choice: the shipped model answers.
    assert not session.use_trained and session.dataset == "mnist"
    row, words, use, back = model_line(session)
    assert words.startswith("Kept for this visit: your retrained Fashion-MNIST")
    assert use["visible"] and not back["visible"]
    session.close()
