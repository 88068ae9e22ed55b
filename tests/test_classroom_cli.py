"""``mnist-demo class create/delete/export`` and ``mnist-demo train --extra-data``, run as a user
runs them, on a real SQLite file and the real MNIST test digits."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest
import torch

from mnist_demo.classroom.store import ClassStore
from mnist_demo.cli import main
from mnist_demo.data import denormalize, load_image_folder
from mnist_demo.training.loop import Batches, TrainConfig

from .test_classroom_export import tiny_png
from .test_cli import mnist_demo


@pytest.fixture
def database(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'classes.db'}"


def fill(database: str, code: str, split, count: int) -> None:
    store = ClassStore(database)
    for index in range(count):
        store.submit_drawing(
            code, pixels=denormalize(split.images[index, 0], split.spec).numpy(),
            thumbnail_png=tiny_png(), label=int(split.labels[index]), predicted=None,
            confidence=None, nickname="ann", session=str(index),
        )  # fmt: skip
    store.close()


def created(database: str, capsys) -> dict:
    assert main(["class", "create", "--title", "Year 7", "--database", database, "--json",
                 "--url", "https://example.org/app"]) == 0  # fmt: skip
    return json.loads(capsys.readouterr().out)


def test_class_create_prints_the_code_key_and_links(database, capsys):
    result = created(database, capsys)
    code, key = result["code"], result["teacher_key"]
    assert result["join_url"] == f"https://example.org/app/?class={code}"
    assert result["board_url"] == f"https://example.org/app/?class={code}#key={key}"
    store = ClassStore(database)
    assert store.title(code) == "Year 7" and store.check_teacher(code, key)
    store.close()


def test_class_export_writes_the_pool_and_refuses_a_wrong_key_in_one_line(
    database, capsys, tmp_path, mnist_test
):
    result = created(database, capsys)
    fill(database, result["code"], mnist_test, 12)
    out = tmp_path / "pool.zip"
    assert main(["class", "export", result["code"], "--key", "wrong", "--out", str(out),
                 "--database", database]) == 2  # fmt: skip
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "teacher key does not open" in error and not out.exists()
    assert main(["class", "export", result["code"], "--key", result["teacher_key"],
                 "--out", str(out), "--database", database]) == 0  # fmt: skip
    assert "12 drawings" in capsys.readouterr().out
    with zipfile.ZipFile(io.BytesIO(out.read_bytes())) as archive:
        assert len([n for n in archive.namelist() if n.endswith(".png")]) == 12


def test_class_delete_removes_the_class_and_then_knows_it_no_more(database, capsys, mnist_test):
    result = created(database, capsys)
    fill(database, result["code"], mnist_test, 3)
    words = ["class", "delete", result["code"], "--database", database, "--key"]
    assert main([*words, "not-it"]) == 2
    assert "teacher key does not open" in capsys.readouterr().err
    assert main([*words, result["teacher_key"]]) == 0
    assert "3 drawings and 0 runs" in capsys.readouterr().out
    assert main([*words, result["teacher_key"]]) == 2
    assert "no class with that code" in capsys.readouterr().err


def test_an_image_folder_of_drawings_joins_the_training_set(database, capsys, tmp_path, mnist_test):
    result = created(database, capsys)
    fill(database, result["code"], mnist_test, 30)
    out = tmp_path / "pool.zip"
    main(["class", "export", result["code"], "--key", result["teacher_key"], "--out", str(out),
          "--database", database])  # fmt: skip
    zipfile.ZipFile(out).extractall(tmp_path / "pool")
    extra = load_image_folder(tmp_path / "pool")
    assert len(extra) == 30
    # Folder by folder (label by label), each in the order the drawings were submitted.
    order = torch.argsort(mnist_test.labels[:30], stable=True)
    assert torch.equal(extra.labels, mnist_test.labels[:30][order])
    # The round trip through 8-bit PNGs keeps every pixel within half a grey level.
    expected = mnist_test.images[:30][order]
    assert torch.allclose(extra.images, expected, atol=0.5 / 255 / mnist_test.spec.std + 1e-6)
    config = TrainConfig(subset=1000)
    batches = Batches.for_config(config, None, torch.device("cpu"), extra)
    assert len(batches.train) == 1030
    assert torch.equal(batches.train.labels[1000:], extra.labels)


def broken_png(root):
    (root / "3").mkdir()
    (root / "3" / "x.png").write_bytes(b"not a png")


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda root: None, "no drawings found"),
        (broken_png, "not an image"),
    ],
)  # fmt: skip
def test_a_folder_without_usable_drawings_is_one_clear_error(tmp_path, make, message):
    root = tmp_path / "pool"
    root.mkdir()
    make(root)
    with pytest.raises(ValueError, match=message):
        load_image_folder(root)


@pytest.mark.slow
def test_train_extra_data_trains_on_the_drawings_and_records_them(database, capsys, tmp_path,
                                                                  mnist_test):  # fmt: skip
    result = created(database, capsys)
    fill(database, result["code"], mnist_test, 20)
    out = tmp_path / "pool.zip"
    main(["class", "export", result["code"], "--key", result["teacher_key"], "--out", str(out),
          "--database", database])  # fmt: skip
    zipfile.ZipFile(out).extractall(tmp_path / "pool")
    weights = tmp_path / "model.pth"
    done = mnist_demo("train", "--dry-run", "--extra-data", str(tmp_path / "pool"),
                      "--out", str(weights), "--threads", "1")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert f"adding 20 drawings from {tmp_path / 'pool'}" in done.stdout
    sidecar = json.loads(weights.with_suffix(".json").read_text())
    assert sidecar["metrics"]["extra_images"] == 20
    assert "--extra-data" in sidecar["command"]
    bad = mnist_demo("train", "--dry-run", "--extra-data", str(tmp_path / "nowhere"))
    assert bad.returncode == 2 and "no such folder of drawings" in bad.stderr
    assert bad.stderr.count("\n") == 1
    assert np.isfinite(sidecar["metrics"]["test_accuracy"])


@pytest.mark.slow
def test_bench_class_reports_a_small_class_on_a_real_server_without_failures():
    done = mnist_demo("bench", "class", "--students", "3", "--drawings", "2", "--databases",
                      "sqlite", "--json")  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["sqlite_failures"] == 0, report.get("sqlite_first_failures")
    assert report["sqlite_saved"] == 6 and report["sqlite_board_refreshes"] >= 1
    assert 0 < report["sqlite_submit_p50_ms"] <= report["sqlite_submit_p95_ms"]
    assert report["sqlite_mb_per_1000_drawings"] > 0
