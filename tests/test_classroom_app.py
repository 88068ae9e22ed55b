"""A class on the real server, driven through gradio_client as scripts and the bench drive it:
create a class, submit real MNIST test digits, read the board, the refusals, a run that joins
the board, and a class's run opened as a visitor's model (?model=ID)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mnist_demo.recognition.model import SmallCNN
from mnist_demo.serving.classes import REFUSED
from tests.helpers import digit_pixels, launched

# A one-epoch run on 1,000 images: (dataset, epochs, learning rate, batch, optimizer, batch
# norm, schedule, subset, augment, seed, outlier exposure).
SMALL_RUN = ["mnist", 1, 0.001, 128, "adam", False, "none", 1000, False, 0, False]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from mnist_demo.serving.trainer import Budget

    folder = tmp_path_factory.mktemp("classes")
    saved = os.environ.get("MNIST_DEMO_CLASS_DIR")
    os.environ["MNIST_DEMO_CLASS_DIR"] = str(folder)
    try:
        with launched(Budget(max_epochs=2, max_seconds=120, threads=1)) as demo:
            yield demo
    finally:
        if saved is None:
            os.environ.pop("MNIST_DEMO_CLASS_DIR", None)
        else:
            os.environ["MNIST_DEMO_CLASS_DIR"] = saved


@pytest.fixture(scope="module")
def url(server) -> str:
    return server.local_url.rstrip("/")


def client(url: str):
    from gradio_client import Client

    return Client(url, verbose=False, download_files=False)


def digit_file(split, index: int, folder) -> str:
    """A test digit as a photo of paper would be: dark ink on white, 112 px."""
    ink = Image.fromarray(digit_pixels(split, index)).resize((112, 112), Image.BICUBIC)
    path = folder / f"digit-{index}.png"
    Image.fromarray(255 - np.asarray(ink)).save(path)
    return str(path)


def refusal(call) -> str:
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError) as error:
        call()
    return str(error.value.message if hasattr(error.value, "message") else error.value)


@pytest.mark.slow
def test_a_class_collects_drawings_and_the_board_counts_them(url, mnist_test, tmp_path):
    from gradio_client import handle_file

    from mnist_demo.classroom.store import ClassStore

    teacher = client(url)
    made = teacher.predict(api_name="/create_class")
    assert set(made) == {"code", "teacher_key", "join_url", "board_url"}
    code, key = made["code"], made["teacher_key"]
    assert made["join_url"].endswith(f"/?class={code}")
    assert made["board_url"].endswith(f"/?class={code}#key={key}")  # The key is no query.
    student = client(url)
    ids = []
    for index in range(12):
        path = handle_file(digit_file(mnist_test, index, tmp_path))
        label = int(mnist_test.labels[index])
        answer = student.predict(code, path, str(label), "ann", api_name="/submit_drawing")
        assert answer["saved"] is True and isinstance(answer["id"], int)
        ids.append(answer["id"])
    stored = ClassStore.shared().drawings(code)
    assert [drawing.id for drawing in stored] == ids
    assert all(drawing.nickname == "ann" and drawing.session for drawing in stored)
    assert sum(d.predicted == d.label for d in stored) >= 11  # The shipped model reads them.
    assert all(
        d.pixels.shape == (28, 28) and d.thumbnail_png.startswith(b"\x89PNG") for d in stored
    )
    board = teacher.predict(code, key, api_name="/class_board")
    assert {"drawings", "per_digit", "confusion", "accuracy", "runs"} <= set(board)
    labels = [int(mnist_test.labels[i]) for i in range(12)]
    assert board["drawings"] == 12
    assert board["per_digit"] == [labels.count(digit) for digit in range(10)]
    assert sum(map(sum, board["confusion"])) == 12
    assert board["accuracy"]["shipped"] >= 11 / 12


@pytest.mark.slow
def test_refusals_are_one_line_and_say_nothing_of_which_part_was_wrong(url, mnist_test, tmp_path):
    from gradio_client import handle_file

    teacher = client(url)
    made = teacher.predict(api_name="/create_class")
    code, key = made["code"], made["teacher_key"]
    wrong_key = refusal(lambda: teacher.predict(code, key[::-1], api_name="/class_board"))
    no_key = refusal(lambda: teacher.predict(code, "", api_name="/class_board"))
    unknown = refusal(lambda: teacher.predict("A" * 16, key, api_name="/class_board"))
    assert wrong_key == no_key == unknown == REFUSED
    digit = handle_file(digit_file(mnist_test, 0, tmp_path))
    student = client(url)
    gone = refusal(lambda: student.predict("B" * 16, digit, "7", "", api_name="/submit_drawing"))
    assert gone == REFUSED
    for label in ("x", "10", "-1", "7.5", ""):
        message = refusal(
            lambda label=label: student.predict(code, digit, label, "", api_name="/submit_drawing")
        )
        assert message == "the label must be a digit from 0 to 9", label
    saved = student.predict(code, digit, "7", "x" * 100_000, api_name="/submit_drawing")
    from mnist_demo.classroom.store import ClassStore

    assert ClassStore.shared().drawing(code, saved["id"]).nickname == "x" * 40


@pytest.mark.slow
def test_a_class_members_run_joins_the_board_scored_on_the_held_out_part(url, mnist_test, tmp_path):
    from gradio_client import handle_file

    from mnist_demo.classroom.scores import is_held_out
    from mnist_demo.classroom.store import ClassStore

    teacher = client(url)
    made = teacher.predict(api_name="/create_class")
    code, key = made["code"], made["teacher_key"]
    student = client(url)
    held = 0
    for index in range(20):
        path = handle_file(digit_file(mnist_test, index, tmp_path))
        answer = student.predict(
            code, path, str(int(mnist_test.labels[index])), "bo", api_name="/submit_drawing"
        )
        held += is_held_out(answer["id"])
    assert held > 0
    outputs = student.submit(*SMALL_RUN, api_name="/train").result(timeout=180)
    status = outputs[0]
    assert "joined your class's board" in status, status
    board = teacher.predict(code, key, api_name="/class_board")
    (run,) = board["runs"]
    assert run["nickname"] == "bo" and run["kind"] == "retrain"
    assert 0.5 < run["test_accuracy"] <= 1 and 0 <= run["pool_accuracy"] <= 1
    assert run["settings"]["epochs"] == 1 and run["link"].endswith(f"&model={run['id']}")
    record = ClassStore.shared().run(run["id"])
    assert record.curves["accuracy"] and record.pool_accuracy == run["pool_accuracy"]


def test_a_class_run_opens_only_for_a_member_of_its_class(tmp_path, monkeypatch):
    import torch

    from mnist_demo.classroom.store import ClassStore
    from mnist_demo.recognition.inference import shipped_predictor
    from mnist_demo.serving.classes import join
    from mnist_demo.serving.session import Session
    from mnist_demo.ui.tabs.class_tab import load_run

    monkeypatch.setenv("MNIST_DEMO_CLASS_DIR", str(tmp_path))
    store = ClassStore.shared()
    ours, theirs = store.create_class("ours"), store.create_class("theirs")
    weights = {k: v.clone() for k, v in shipped_predictor().model.state_dict().items()}
    run = store.add_run(
        ours.code,
        nickname="cy",
        session="",
        kind="retrain",
        settings={"epochs": 1},
        curves={},
        test_accuracy=0.99,
        state_dict=weights,
    )
    outsider = Session(classroom=join(theirs.code))
    refused = load_run(outsider, run.id)
    assert "not valid" in refused and outsider.trained is None
    member = Session(classroom=join(ours.code))
    load_run(member, run.id)
    assert member.use_trained and member.trained is not None
    probe = torch.rand(1, 1, 28, 28)
    assert torch.equal(member.predictor().model(probe), shipped_predictor().model(probe))


def teacher_and_class(tmp_path, monkeypatch, mnist_test, drawings: int = 3):
    """A class in a store of the test's own, its teacher's session, and a member's drawings."""
    from mnist_demo.classroom.store import ClassStore
    from mnist_demo.serving.classes import join
    from mnist_demo.serving.session import Session
    from mnist_demo.ui.classroom import save_drawing

    monkeypatch.setenv("MNIST_DEMO_CLASS_DIR", str(tmp_path / "classes"))
    keys = ClassStore.shared().create_class("4C")
    student = Session(classroom=join(keys.code, nickname="di"))
    for index in range(drawings):
        save_drawing(
            student.classroom,
            digit_pixels(mnist_test, index),
            mnist_test.labels[index].item(),
            student,
        )
    return keys, Session(classroom=join(keys.code, keys.teacher_key)), student


def test_the_teachers_board_refreshes_exports_and_deletes_the_class(
    tmp_path, monkeypatch, mnist_test
):
    import zipfile

    import gradio as gr

    from mnist_demo.classroom.store import ClassStore
    from mnist_demo.ui.tabs import board as board_tab

    keys, teacher, student = teacher_and_class(tmp_path, monkeypatch, mnist_test)
    shown = board_tab.refresh(None, teacher)
    assert "3 drawing(s)" in shown[0] and "di" in shown[0]
    *parts, kept = board_tab.refresh(None, teacher)  # Nothing new: every part skipped.
    assert all(isinstance(part, type(gr.skip())) for part in parts) and kept is teacher
    with zipfile.ZipFile(board_tab.export_pool(teacher)) as pool:
        assert "drawings.csv" in pool.namelist() and len(pool.namelist()) == 4
    store = ClassStore.shared()
    weights = {k: v.clone() for k, v in SmallCNN().state_dict().items()}
    run = store.add_run(
        keys.code,
        nickname="di",
        session="",
        kind="retrain",
        settings={"epochs": 1},
        curves={},
        test_accuracy=0.1,
        state_dict=weights,
    )
    chosen = board_tab.choose_run(run.id, None, teacher)[0]
    assert f"di's retrain run {run.id}" in chosen  # An untrained net: about one in ten right.
    suffixes = {Path(path).suffix for path in board_tab.export_run(run.id, teacher)}
    assert {".pth", ".safetensors", ".md"} <= suffixes
    for handler in (board_tab.export_pool, board_tab.delete_class):
        with pytest.raises(gr.Error):
            handler(student)  # No key: no export, no delete.
    board_tab.delete_class(teacher)
    assert not store.has_class(keys.code) and teacher.classroom is None


@pytest.mark.slow
def test_a_members_class_drawings_feed_a_fine_tune_that_joins_the_board(
    tmp_path, monkeypatch, mnist_test
):
    from mnist_demo.classroom.scores import is_held_out
    from mnist_demo.classroom.store import ClassStore
    from mnist_demo.serving.trainer import Budget
    from mnist_demo.ui.tabs.handwriting import add_class_drawings, examples_of, finetune_session

    keys, _, student = teacher_and_class(tmp_path, monkeypatch, mnist_test, drawings=12)
    held = sum(is_held_out(d.id) for d in ClassStore.shared().drawings(keys.code))
    assert "Added" in add_class_drawings(student)
    assert len(examples_of(student)) == 12 - held  # Never the held-out part.
    outcome = finetune_session(student, Budget(threads=1))
    assert "joined your class's board" in outcome.status, outcome.status
    (run,) = ClassStore.shared().runs(keys.code)
    assert run.kind == "finetune" and run.nickname == "di" and run.test_accuracy > 0.9
    from mnist_demo.classroom.export import run_files

    written = run_files(ClassStore.shared(), run.id, tmp_path / "run")
    assert {".pth", ".safetensors", ".md"} <= {path.suffix for path in written}
