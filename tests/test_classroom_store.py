"""The class store's contract (mnist_demo.classroom.store), on SQLite always and on a real
PostgreSQL server where this machine has one (bench.postgres starts a throwaway one)."""

from __future__ import annotations

import hashlib
import hmac
import io
import itertools
import threading
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
import torch
from PIL import Image
from sqlalchemy import create_engine, inspect, text

from mnist_demo.bench import postgres
from mnist_demo.classroom import keys
from mnist_demo.classroom.store import (
    ClassFull,
    ClassLimits,
    ClassStore,
    NoSuchClass,
    NoSuchRun,
    WrongKey,
)
from mnist_demo.recognition.model import SmallCNN

ROOMY = ClassLimits(max_classes=50, class_drawings=1000, student_rate=1000, class_runs=50)
_databases = itertools.count()


@pytest.fixture(scope="session")
def postgres_server():
    """One throwaway PostgreSQL server for the whole session: its URL."""
    if not postgres.available():
        pytest.skip("no PostgreSQL server binaries here (Debian's postgresql package)")
    with postgres.throwaway_postgres(durable=False) as url:
        yield url


def fresh_postgres_database(server_url: str) -> str:
    """A new, empty database on the session's server, so each test starts from nothing."""
    name = f"test_{next(_databases)}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"CREATE DATABASE {name}"))
    admin.dispose()
    return server_url.rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.slow)])
def database_url(request, tmp_path):
    """An empty database's URL: a SQLite file in tmp_path, or a new PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'classes.db'}"
    return fresh_postgres_database(request.getfixturevalue("postgres_server"))


@pytest.fixture
def store(database_url):
    store = ClassStore(database_url, limits=ROOMY)
    yield store
    store.close()


def thumbnail(side: int = 32, shade: int = 200) -> bytes:
    buffer = io.BytesIO()
    Image.new("L", (side, side), shade).save(buffer, "PNG")
    return buffer.getvalue()


def submit(store: ClassStore, code: str, label: int = 3, **fields) -> int:
    values = {
        "pixels": np.random.default_rng(0).random((28, 28), dtype=np.float32),
        "thumbnail_png": thumbnail(),
        "predicted": 5,
        "confidence": 0.75,
    }
    return store.submit_drawing(code, label=label, **{**values, **fields})


def test_a_new_class_has_its_title_and_opens_with_its_teacher_key(store):
    first, second = store.create_class("Year 7, Tuesday"), store.create_class()
    assert len(first.code) == 16 and len(first.teacher_key) == 32
    assert first.code != second.code and first.teacher_key != second.teacher_key
    assert store.has_class(first.code) and store.title(first.code) == "Year 7, Tuesday"
    assert store.title(second.code) == ""
    assert store.check_teacher(first.code, first.teacher_key)
    assert not store.check_teacher(first.code, second.teacher_key)


def test_codes_keys_and_run_ids_never_start_with_a_dash():
    # A command line would take "-abc" for a flag: mnist-demo class export -abc... --key -xyz...
    drawn = [make() for make in (keys.new_code, keys.new_teacher_key, keys.new_run_id)
             for _ in range(300)]  # fmt: skip
    assert not any(token.startswith("-") for token in drawn)
    assert all(keys.well_formed(token) for token in drawn) and len(set(drawn)) == len(drawn)


def test_the_teacher_key_is_stored_only_as_its_hash(store):
    created = store.create_class("x")
    with store.engine.connect() as connection:
        rows = [tuple(row) for row in connection.execute(text("SELECT * FROM classes"))]
    assert created.teacher_key not in repr(rows)
    assert hashlib.sha256(created.teacher_key.encode()).hexdigest() in repr(rows)


def test_a_wrong_key_and_an_unknown_code_are_refused_by_a_constant_time_compare(store, monkeypatch):
    created = store.create_class()
    compared, original = [], hmac.compare_digest

    def recording_compare(a, b):
        compared.append((a, b))
        return original(a, b)

    monkeypatch.setattr(keys.hmac, "compare_digest", recording_compare)
    assert not store.check_teacher(created.code, "not-the-key")
    assert not store.check_teacher("NoSuchClassCode0", created.teacher_key)
    assert not store.check_teacher(created.code, None)  # type: ignore[arg-type]
    assert len(compared) == 3  # Every refusal went through the same constant-time compare.
    for code in ("NoSuchClassCode0", "'; DROP TABLE classes; --", "", None, 42):
        assert not store.has_class(code)  # type: ignore[arg-type]
        assert not store.check_teacher(code, created.teacher_key)  # type: ignore[arg-type]
        with pytest.raises(NoSuchClass, match=r"^There is no class with that code") as refused:
            store.title(code)  # type: ignore[arg-type]
        assert "\n" not in str(refused.value)
    assert store.has_class(created.code)


def test_a_drawing_reads_back_exactly_as_it_was_submitted(store):
    code = store.create_class().code
    pixels = np.random.default_rng(0).random((28, 28), dtype=np.float32)
    pixels[0, 0], pixels[1, 1] = 0.0, 1.0
    png = thumbnail(64, 17)
    before = datetime.now(timezone.utc)
    drawing_id = store.submit_drawing(
        code, pixels=pixels, thumbnail_png=png, label=4, predicted=9, confidence=0.875,
        nickname="  Ada   L. ", session="abc123",
    )  # fmt: skip
    drawing = store.drawing(code, drawing_id)
    assert drawing is not None and drawing.id == drawing_id and drawing.code == code
    assert drawing.pixels.dtype == np.float32 and np.array_equal(drawing.pixels, pixels)
    assert drawing.thumbnail_png == png
    assert (drawing.label, drawing.predicted, drawing.confidence) == (4, 9, 0.875)
    assert (drawing.nickname, drawing.session) == ("Ada L.", "abc123")
    assert drawing.created.tzinfo is timezone.utc
    assert before - timedelta(seconds=1) <= drawing.created <= datetime.now(timezone.utc)
    unanswered = submit(store, code, predicted=None, confidence=None)
    assert store.drawing(code, unanswered).predicted is None
    assert np.array_equal(store.drawings(code)[0].pixels, pixels)


def test_a_drawing_is_seen_only_through_its_own_class(store):
    mine, other = store.create_class().code, store.create_class().code
    drawing_id = submit(store, mine)
    assert store.drawing(other, drawing_id) is None
    assert store.drawings(other) == []
    assert store.drawing(mine, drawing_id + 1000) is None


@pytest.mark.parametrize(
    "change, message",
    [
        ({"label": 10}, "digit from 0 to 9"),
        ({"label": -1}, "digit from 0 to 9"),
        ({"label": True}, "digit from 0 to 9"),
        ({"label": "3"}, "digit from 0 to 9"),
        ({"predicted": 12}, "digit from 0 to 9"),
        ({"confidence": 1.5}, "between 0 and 1"),
        ({"pixels": np.zeros((28, 27))}, "28x28"),
        ({"pixels": np.full((28, 28), 255.0)}, "between 0 and 1"),
        ({"pixels": np.full((28, 28), np.nan)}, "between 0 and 1"),
        ({"thumbnail_png": b"GIF89a..."}, "PNG"),
        ({"thumbnail_png": thumbnail(65)}, "64 px"),
        ({"nickname": 7}, "text"),
    ],
)
def test_bad_input_is_a_one_line_value_error_and_stores_nothing(store, change, message):
    code = store.create_class().code
    with pytest.raises(ValueError, match=message) as refused:
        submit(store, code, **change)
    assert "\n" not in str(refused.value)
    assert store.counts(code)["total"] == 0


def test_a_drawing_for_an_unknown_class_is_refused(store):
    with pytest.raises(NoSuchClass):
        submit(store, "NoSuchClassCode0")
    with pytest.raises(NoSuchClass):
        store.counts("NoSuchClassCode0")


def test_counts_per_digit_and_per_student_and_filters(store):
    code = store.create_class().code
    for label, nickname, session in [(1, "ann", "a"), (1, "ann", "a"), (7, "bo", "b"),
                                     (0, "", "c"), (7, "x" * 60, "d")]:  # fmt: skip
        submit(store, code, label=label, nickname=nickname, session=session)
    counts = store.counts(code)
    assert counts["total"] == 5
    assert counts["per_digit"] == [1, 2, 0, 0, 0, 0, 0, 2, 0, 0]
    assert counts["per_student"] == {"ann": 2, "bo": 1, "": 1, "x" * 40: 1}
    assert [d.label for d in store.drawings(code, nickname="ann")] == [1, 1]
    assert [d.nickname for d in store.drawings(code, session="b")] == ["bo"]
    everything = store.drawings(code)
    assert [d.id for d in everything] == sorted(d.id for d in everything)  # Oldest first.
    assert [d.id for d in store.drawings(code, limit=2)] == [d.id for d in everything[-2:]]


def test_caps_refuse_with_one_line_and_keep_what_was_there(database_url):
    limits = ClassLimits(max_classes=2, class_drawings=3, student_rate=2, class_runs=1)
    store = ClassStore(database_url, limits=limits)
    first = store.create_class().code
    store.create_class()
    with pytest.raises(ClassFull, match="already keeps 2 classes"):
        store.create_class()
    submit(store, first, session="ann")
    submit(store, first, session="ann")
    with pytest.raises(ClassFull, match="2 drawings this minute") as refused:
        submit(store, first, session="ann")
    assert "\n" not in str(refused.value)
    submit(store, first, session="bo")  # Another student still may.
    with pytest.raises(ClassFull, match="already holds 3 drawings"):
        submit(store, first, session="cy")
    assert store.counts(first)["total"] == 3
    run = dict(nickname="", session="", kind="retrain", settings={}, curves={}, test_accuracy=None)
    store.add_run(first, **run, state_dict={"w": torch.zeros(2)})
    with pytest.raises(ClassFull, match="already keeps 1 runs"):
        store.add_run(first, **run, state_dict={"w": torch.zeros(2)})
    assert len(store.runs(first)) == 1
    store.close()


def test_a_runs_record_and_weights_round_trip(store):
    code = store.create_class().code
    model = SmallCNN()
    settings = {"epochs": 1, "learning_rate": 0.003, "subset": 15000, "batch_norm": False}
    curves = {"step": [20, 40], "train_loss": [1.2, 0.4], "test_accuracy": [0.9, 0.97]}
    first = store.add_run(
        code, nickname="ann", session="s", kind="retrain", settings=settings, curves=curves,
        test_accuracy=0.97, state_dict=model.state_dict(),
    )  # fmt: skip
    second = store.add_run(
        code, nickname="bo", session="t", kind="finetune", settings={}, curves={},
        test_accuracy=None, state_dict=model.state_dict(),
    )  # fmt: skip
    assert len(first.id) == 12 and first.id != second.id
    assert [run.id for run in store.runs(code)] == [second.id, first.id]  # Newest first.
    assert store.run(first.id) == first
    assert (first.settings, first.curves, first.test_accuracy) == (settings, curves, 0.97)
    store.set_pool_accuracy(first.id, 0.81)
    assert store.run(first.id).pool_accuracy == 0.81
    loaded = SmallCNN()
    loaded.load_state_dict(store.run_state_dict(first.id))
    for name, tensor in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], tensor), name
    assert store.run("NoSuchRunId0") is None
    with pytest.raises(NoSuchRun):
        store.run_state_dict("NoSuchRunId0")
    with pytest.raises(NoSuchRun):
        store.set_pool_accuracy("NoSuchRunId0", 0.5)
    with pytest.raises(ValueError, match="only JSON values"):
        store.add_run(code, nickname="", session="", kind="retrain", settings={"x": object()},
                      curves={}, test_accuracy=None, state_dict={})  # fmt: skip
    assert len(store.runs(code)) == 2
    with pytest.raises(ValueError, match="kind"):
        store.add_run(code, nickname="", session="", kind="pickle", settings={}, curves={},
                      test_accuracy=None, state_dict={})  # fmt: skip


def test_deleting_a_class_removes_everything_in_it_and_nothing_else(store):
    doomed, kept = store.create_class(), store.create_class()
    for keys_ in (doomed, kept):
        submit(store, keys_.code)
        store.add_run(keys_.code, nickname="", session="", kind="retrain", settings={},
                      curves={}, test_accuracy=None, state_dict={"w": torch.ones(3)})  # fmt: skip
    with pytest.raises(WrongKey):
        store.delete_class(doomed.code, kept.teacher_key)
    assert store.counts(doomed.code)["total"] == 1
    assert store.delete_class(doomed.code, doomed.teacher_key) is True
    assert not store.has_class(doomed.code)
    with store.engine.connect() as connection:
        for table in ("classes", "drawings", "runs"):
            left = connection.execute(
                text(f"SELECT count(*) FROM {table} WHERE code = :code"), {"code": doomed.code}
            ).scalar()
            assert left == 0, table
    assert store.counts(kept.code)["total"] == 1 and len(store.runs(kept.code)) == 1
    assert store.delete_class(doomed.code, doomed.teacher_key) is False


def test_migrations_make_the_schema_on_an_empty_database_and_reopening_changes_nothing(
    database_url,
):
    first = ClassStore(database_url, limits=ROOMY)
    code = first.create_class("kept").code
    tables = set(inspect(first.engine).get_table_names())
    assert {"classes", "drawings", "runs", "alembic_version"} <= tables
    first.close()
    reopened = ClassStore(database_url, limits=ROOMY)
    with reopened.engine.connect() as connection:
        versions = connection.execute(text("SELECT version_num FROM alembic_version")).all()
    assert [tuple(row) for row in versions] == [("0001",)]
    assert reopened.title(code) == "kept"
    reopened.close()


def test_nothing_is_made_until_the_store_is_first_used(tmp_path):
    folder = tmp_path / "not-yet"
    store = ClassStore(f"sqlite:///{folder / 'classes.db'}")
    assert not folder.exists()
    assert not store.has_class("NoSuchClassCode0")
    assert (folder / "classes.db").is_file()
    store.close()


def test_the_shared_store_follows_the_settings(tmp_path, monkeypatch):
    monkeypatch.delenv("MNIST_DEMO_DATABASE_URL", raising=False)
    monkeypatch.setenv("MNIST_DEMO_CLASS_DIR", str(tmp_path / "a"))
    first = ClassStore.shared()
    assert ClassStore.shared() is first and first.url.endswith("/a/classes.db")
    monkeypatch.setenv("MNIST_DEMO_CLASS_DIR", str(tmp_path / "b"))
    assert ClassStore.shared().url.endswith("/b/classes.db")


def test_two_stores_on_one_database_see_each_others_writes(database_url):
    """Two replicas of the app share one database: what one saves, the other reads at once."""
    one, two = ClassStore(database_url, limits=ROOMY), ClassStore(database_url, limits=ROOMY)
    created = one.create_class("shared")
    assert two.check_teacher(created.code, created.teacher_key)
    drawing_id = submit(two, created.code, label=6)
    assert one.drawing(created.code, drawing_id).label == 6
    run = one.add_run(created.code, nickname="", session="", kind="retrain", settings={},
                      curves={}, test_accuracy=0.9, state_dict={"w": torch.ones(1)})  # fmt: skip
    assert [r.id for r in two.runs(created.code)] == [run.id]
    assert two.delete_class(created.code, created.teacher_key)
    assert not one.has_class(created.code)
    one.close()
    two.close()


def test_worker_threads_submit_at_once_and_every_drawing_is_kept(store):
    code = store.create_class().code
    ids: list[int] = []
    errors: list[BaseException] = []

    def student(index: int) -> None:
        try:
            for _ in range(6):
                ids.append(submit(store, code, label=index % 10, session=f"s{index}"))
        except BaseException as error:  # noqa: BLE001 - reported below.
            errors.append(error)

    threads = [threading.Thread(target=student, args=(index,)) for index in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(set(ids)) == 48 and store.counts(code)["total"] == 48
