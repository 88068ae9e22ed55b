"""Isolation under load: sessions retraining in turn never change each other's predictions nor
the shipped weights; one training per process; session models expire and are capped."""

from __future__ import annotations

import gc
import hashlib
import threading
import time
import weakref
from pathlib import Path

import pytest
import torch
from gradio_client import Client, handle_file
from PIL import Image

from mnist_demo.config import shipped_weights_path
from mnist_demo.recognition import inference
from mnist_demo.recognition.checkpoint import load_checkpoint
from mnist_demo.recognition.inference import Predictor
from mnist_demo.recognition.model import SmallCNN
from mnist_demo.serving.retrain import train_for_visitor
from mnist_demo.serving.session import KEPT, Session
from mnist_demo.serving.trainer import SLOT, Budget, TrainerBusy, TrainerSlot
from mnist_demo.settings import MAX_SESSIONS, SESSION_TTL
from mnist_demo.training.loop import TrainConfig, TrainingRun

from .helpers import first_index_of, launched, sketch_layer, sketch_value

SESSIONS = 30
TINY = dict(epochs=1, subset=500, test_subset=500, batch_size=64)


def weights_hash() -> str:
    return hashlib.sha256(shipped_weights_path("mnist").read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def seven(mnist_test):
    return sketch_value(mnist_test, first_index_of(mnist_test, 7))


@pytest.mark.slow
def test_thirty_sessions_retraining_in_turn_never_touch_each_other_or_the_shipped_model(seven):
    shipped_hash = weights_hash()
    reference = Predictor.from_checkpoint(shipped_weights_path("mnist")).predict(seven)
    assert inference.shipped_predictor("mnist").predict(seven) == reference
    sessions = [Session(drawing=seven) for _ in range(SESSIONS)]
    own = []
    for index, session in enumerate(sessions):
        config = TrainConfig(seed=index, **TINY)
        updates = list(train_for_visitor(config, session, Budget(threads=1), TrainerSlot()))
        assert updates[-1].finished
        session.use_trained_model(True)
        own.append(session.predictor().predict(seven))
        # Every earlier session still sees exactly what its own model said.
        earlier = [s.predictor().predict(seven) for s in sessions[:index]]
        assert earlier == own[:index], f"training session {index} changed another session"
        assert Session().predictor().predict(seven) == reference
    assert len({tuple(p.values()) for p in own}) == SESSIONS  # Thirty different models.
    assert weights_hash() == shipped_hash
    assert inference.shipped_predictor("mnist").predict(seven) == reference
    for session in sessions:
        session.close()


@pytest.mark.slow
def test_fine_tuning_copies_of_the_shipped_weights_in_many_sessions_leaves_them_alone(seven):
    shipped_hash = weights_hash()
    reference = inference.shipped_predictor("mnist").predict(seven)
    sessions = []
    for index in range(5):
        # Fine-tuning starts from the shipped weights, loaded as a private copy.
        run = TrainingRun(TrainConfig(seed=index, learning_rate=0.01, **TINY))
        run.model = load_checkpoint(shipped_weights_path("mnist")).model
        list(run)
        session = Session(drawing=seven)
        session.keep_trained(run.model, "mnist", {}, {"fine_tuned": True})
        session.use_trained_model(True)
        sessions.append((session, session.predictor().predict(seven)))
    for session, prediction in sessions:
        assert session.predictor().predict(seven) == prediction
        assert prediction != reference
    assert weights_hash() == shipped_hash
    assert inference.shipped_predictor("mnist").predict(seven) == reference
    assert Predictor.from_checkpoint(shipped_weights_path("mnist")).predict(seven) == reference
    for session, _ in sessions:
        session.close()


def test_the_trainer_slot_admits_one_holder_among_many_simultaneous_starts():
    slot = TrainerSlot()
    inside, most, admitted, busy = [0], [0], [], []
    lock = threading.Lock()
    start = threading.Barrier(64)

    def try_to_train(index: int) -> None:
        start.wait()
        for _ in range(20):
            try:
                with slot.hold():
                    with lock:
                        inside[0] += 1
                        most[0] = max(most[0], inside[0])
                    time.sleep(0.001)
                    with lock:
                        inside[0] -= 1
                    admitted.append(index)
            except TrainerBusy:
                busy.append(index)

    threads = [threading.Thread(target=try_to_train, args=(i,)) for i in range(64)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert most[0] == 1
    assert len(admitted) + len(busy) == 64 * 20 and admitted and busy
    assert not slot.busy


@pytest.mark.slow
def test_many_visitors_pressing_start_at_once_get_one_run_and_busy_messages():
    slot = TrainerSlot()
    runs, busy, errors = [], [], []
    start = threading.Barrier(12)

    def visitor(index: int) -> None:
        session = Session()
        start.wait()
        try:
            began = time.monotonic()
            list(train_for_visitor(TrainConfig(**TINY), session, Budget(threads=1), slot))
            runs.append((began, time.monotonic()))
        except TrainerBusy:
            busy.append(index)
        except Exception as error:  # Anything else is a bug.
            errors.append(repr(error))

    threads = [threading.Thread(target=visitor, args=(i,)) for i in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(runs) >= 1 and len(runs) + len(busy) == 12
    spans = sorted(runs)
    assert all(
        end <= next_start for (_, end), (next_start, _) in zip(spans, spans[1:], strict=False)
    )
    assert not slot.busy


# --- Through the real server ----------------------------------------------------------------


# dataset, epochs, learning rate, batch size, optimizer, BatchNorm, schedule, subset, augment, seed
def quick_run(seed: int) -> tuple:
    return ("mnist", 1, 0.001, 64, "adam", False, "none", 1000, False, seed)


@pytest.mark.slow
def test_sessions_retraining_through_the_server_keep_their_own_models(mnist_test, tmp_path):
    path = tmp_path / "seven.png"
    Image.fromarray(sketch_layer(mnist_test, first_index_of(mnist_test, 7))).save(path)
    drawing = {"background": None, "layers": [handle_file(str(path))], "composite": None}
    shipped_hash = weights_hash()

    def confidences(client: Client) -> dict[str, float]:
        label = client.predict(drawing, api_name="/predict")[0]
        return {item["label"]: item["confidence"] for item in label["confidences"]}

    with launched(Budget(max_epochs=1, max_seconds=60, threads=1)) as demo:
        bystander = Client(demo.local_url, verbose=False)
        shipped = confidences(bystander)
        learners, seen = [], []
        for seed in range(3):
            learner = Client(demo.local_url, verbose=False)
            assert "test accuracy" in learner.predict(*quick_run(seed), api_name="/train")[0]
            learner.predict(api_name="/use_model")
            learners.append(learner)
            seen.append(confidences(learner))
            # Each new run leaves the earlier learners' and the bystander's answers alone.
            assert [confidences(c) for c in learners] == seen
            assert confidences(bystander) == shipped
        assert len({tuple(c.values()) for c in seen}) == 3
        assert not SLOT.busy
    assert weights_hash() == shipped_hash


# --- Resource bounds: sessions expire, kept models are capped --------------------------------


def kept_session(seed: int = 0) -> tuple[Session, weakref.ref]:
    torch.manual_seed(seed)
    model = SmallCNN().eval()
    session = Session()
    session.keep_trained(model, "mnist", {}, {})
    session.use_trained_model(True)
    return session, weakref.ref(model)


def test_closing_a_session_frees_its_model_drawing_and_files(seven):
    session, model = kept_session()
    session.drawing = seven
    files = session.export_trained()
    predictor = weakref.ref(session.trained.predictor)
    session.close()
    gc.collect()
    assert model() is None and predictor() is None, "the closed session still holds its model"
    assert session.drawing is None and session.download_dir is None
    assert not any(Path(file).exists() for file in files)
    assert session.predictor() is inference.shipped_predictor("mnist")


def test_export_keeps_the_model_that_it_writes():
    session, model = kept_session()
    first = session.export_trained()
    second = session.export_trained()  # A second download replaces the first folder only.
    assert session.trained is not None and model() is not None
    assert first != second
    session.close()


def test_the_app_closes_a_session_when_gradio_drops_it():
    import gradio as gr

    from mnist_demo.ui.app import build_demo

    demo = build_demo(Budget(max_epochs=1, max_seconds=10, threads=1))
    (state,) = [block for block in demo.blocks.values() if isinstance(block, gr.State)]
    assert state.time_to_live == 3600, SESSION_TTL.name
    session, model = kept_session()
    state.delete_callback(session)
    gc.collect()
    assert model() is None and session.trained is None


def test_stored_session_models_are_capped_oldest_first(monkeypatch):
    monkeypatch.setenv(MAX_SESSIONS.name, "3")
    before = len(KEPT)
    sessions = [kept_session(seed) for seed in range(7)]
    gc.collect()
    alive = [model() is not None for _, model in sessions]
    assert alive == [False] * 4 + [True] * 3
    assert [s.trained is not None for s, _ in sessions] == alive
    # A session that lost its model draws with the shipped one again, and says so.
    oldest, _ = sessions[0]
    assert oldest.predictor() is inference.shipped_predictor("mnist")
    assert "shipped" in oldest.model_description
    assert len(KEPT) <= 3
    # Using a model again does not make it older: retraining moves a session to the back.
    sessions[4][0].keep_trained(SmallCNN().eval(), "mnist", {}, {})
    kept_session(99)
    assert sessions[4][0].trained is not None and sessions[5][0].trained is None
    for session, _ in sessions:
        session.close()
    assert len(KEPT) <= before


def test_a_session_gradio_forgets_is_not_kept_alive_by_the_cap():
    session, model = kept_session()
    del session
    gc.collect()
    assert model() is None


@pytest.mark.slow
def test_a_session_used_by_the_server_is_registered_for_expiry():
    with launched(Budget(max_epochs=1, max_seconds=10, threads=1)) as demo:
        client = Client(demo.local_url, verbose=False)
        cleared = {"background": None, "layers": [], "composite": None}
        client.predict(cleared, api_name="/predict")
        state = demo.state_holder.session_data[client.session_hash]
        assert any(isinstance(value, Session) for value in state.state_data.values())
        # What gradio.state_holder checks before it calls delete_callback on expiry.
        assert [component for component, _, _ in state.state_components]
