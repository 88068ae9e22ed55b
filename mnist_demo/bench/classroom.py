"""``mnist-demo bench class``: a class at work against a real server, on SQLite and PostgreSQL.

The app runs in its own process (``python app.py``'s launch, on a free port). Thirty simulated
students, each a ``gradio_client`` Client (its own session) in a thread, submit twenty drawings
each through ``/submit_drawing``: real MNIST test digits redrawn as pad drawings
(:mod:`mnist_demo.samples.drawings`), sent as PNG files. Meanwhile one thread refreshes
``/class_board`` as the teacher's open board does, and one student trains a quick run through
``/train``. Reported per database: failures (any refused or failed call, and any drawing missing
from the board at the end), p50/p95 of a submission and of a board refresh, and the database's
growth per 1,000 drawings. PostgreSQL is a throwaway server (:mod:`mnist_demo.bench.postgres`),
fsync on, where this machine has one.
"""

from __future__ import annotations

import io
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import Image
from sqlalchemy import create_engine, text

from mnist_demo.bench import postgres
from mnist_demo.bench.api import free_port, percentiles
from mnist_demo.classroom.store import ClassStore
from mnist_demo.data import denormalize, load_split
from mnist_demo.samples.drawings import make_drawing
from mnist_demo.settings import CLASS_DIR, DATABASE_URL, Setting, child_environment

# The app as app.py launches it, on the port given, saying when it listens.
SERVE = """
import sys
from mnist_demo.ui import build_demo, launch_options
demo = build_demo()
options = {**launch_options(), "server_name": "127.0.0.1", "server_port": int(sys.argv[1])}
demo.launch(prevent_thread_lock=True, quiet=True, **options)
print("listening", flush=True)
demo.block_thread()
"""
# The Retrain tab's controls in /train's order: a quick run of 5,000 images, one epoch.
QUICK_RUN = ("mnist", 1, 0.003, 64, "adam", False, "onecycle", 5000, False, 0)
BOARD_PAUSE = 0.5  # Seconds between two refreshes of the teacher's board.


def drawing_files(folder: Path, count: int, seed: int = 0) -> list[tuple[Path, int]]:
    """``count`` MNIST test digits spread over the split, redrawn black on white as PNGs."""
    split = load_split("mnist", train=False)
    stride = len(split) // count
    files = []
    for position in range(count):
        index = position * stride
        pixels = denormalize(split.images[index, 0], split.spec).numpy()
        drawing = make_drawing(pixels, int(split.labels[index]), index, "black_on_white", seed)
        path = folder / f"{position}.png"
        Image.fromarray(np.asarray(drawing.image, np.uint8)).save(path)
        files.append((path, drawing.label))
    return files


@contextmanager
def served(environment: dict[Setting, str]) -> Iterator[str]:
    """The app in a child process with these settings; its URL. Killed at the end."""
    port = free_port()
    env = child_environment(environment)
    child = subprocess.Popen(
        [sys.executable, "-c", SERVE, str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        if child.stdout.readline().strip() != "listening":
            raise RuntimeError(f"the app did not start (exit code {child.wait(timeout=30)})")
        yield f"http://127.0.0.1:{port}/"
    finally:
        child.kill()
        child.wait(timeout=30)


def run_class(url: str, files: list[tuple[Path, int]], students: int, pause: float) -> dict:
    """The lesson's load against ``url``: the timings and failures, and the class it made."""
    from gradio_client import Client, handle_file

    teacher = Client(url, verbose=False)
    created = teacher.predict("bench", api_name="/create_class")
    code, key = created["code"], created["teacher_key"]
    each = len(files) // students
    submissions: list[float] = []
    refreshes: list[float] = []
    failures: list[str] = []
    done = threading.Event()

    def student(number: int) -> None:
        try:
            client = Client(url, verbose=False)
        except Exception as error:  # noqa: BLE001 - every failure is counted and reported.
            failures.append(f"connect: {error}")
            return
        for path, label in files[number * each : (number + 1) * each]:
            time.sleep(pause)  # The student draws the next digit.
            started = time.perf_counter()
            try:
                saved = client.predict(code, handle_file(str(path)), str(label),
                                       f"student {number}", api_name="/submit_drawing")  # fmt: skip
                if not saved.get("saved"):
                    raise RuntimeError(f"not saved: {saved}")
            except Exception as error:  # noqa: BLE001
                failures.append(f"submit: {str(error).splitlines()[0][:120]}")
                continue
            submissions.append(time.perf_counter() - started)

    def board() -> None:
        client = Client(url, verbose=False)
        while not done.is_set():
            started = time.perf_counter()
            try:
                client.predict(code, key, api_name="/class_board")
                refreshes.append(time.perf_counter() - started)
            except Exception as error:  # noqa: BLE001
                failures.append(f"board: {str(error).splitlines()[0][:120]}")
            done.wait(BOARD_PAUSE)

    trained: dict = {}

    def trainer() -> None:
        started = time.perf_counter()
        try:
            status = Client(url, verbose=False).predict(*QUICK_RUN, api_name="/train")[0]
            if "test accuracy" not in status:
                raise RuntimeError(status.splitlines()[0][:120])
            trained["seconds"] = round(time.perf_counter() - started, 1)
        except Exception as error:  # noqa: BLE001
            failures.append(f"train: {str(error).splitlines()[0][:120]}")

    started = time.perf_counter()
    others = [threading.Thread(target=board), threading.Thread(target=trainer)]
    crowd = [threading.Thread(target=student, args=(n,)) for n in range(students)]
    for thread in [*others, *crowd]:
        thread.start()
    for thread in crowd:
        thread.join()
    elapsed = time.perf_counter() - started
    others[1].join()
    done.set()
    others[0].join()
    final = teacher.predict(code, key, api_name="/class_board")
    if final["drawings"] != len(submissions):
        failures.append(f"the board holds {final['drawings']} of {len(submissions)} saved")
    return {
        "code": code,
        "key": key,
        "saved": len(submissions),
        "failures": failures,
        "submit": percentiles(submissions) if submissions else {},
        "board": percentiles(refreshes) if refreshes else {},
        "refreshes": len(refreshes),
        "seconds": round(elapsed, 1),
        "train_seconds": trained.get("seconds"),
    }


def drawings_bytes(url: str) -> int:
    """What the database holds for drawings: a SQLite file's size (its WAL folded in first), or
    PostgreSQL's drawings table with its indexes and TOAST."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            if engine.dialect.name == "sqlite":
                connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
                return Path(engine.url.database).stat().st_size
            query = text("SELECT pg_total_relation_size('drawings')")
            return int(connection.execute(query).scalar())
    finally:
        engine.dispose()


def store_submit_ms(url: str, count: int = 200) -> dict:
    """The database's own part: ``count`` submissions straight to a ClassStore, one thread."""
    store = ClassStore(url)
    code = store.create_class("store only").code
    buffer = io.BytesIO()
    Image.new("L", (48, 48), 255).save(buffer, "PNG")
    samples = []
    for index in range(count):
        started = time.perf_counter()
        store.submit_drawing(code, pixels=np.full((28, 28), index / count, np.float32),
                             thumbnail_png=buffer.getvalue(), label=index % 10, predicted=None,
                             confidence=None, session=str(index))  # fmt: skip
        samples.append(time.perf_counter() - started)
    store.close()
    return percentiles(samples)


def measure(
    name: str, url: str, environment: dict, files: list, students: int, pause: float
) -> dict:
    empty = ClassStore(url)  # The tables made first, so only the class's growth is counted.
    empty.has_class("NoSuchClassCode0")
    empty.close()
    before = drawings_bytes(url)
    with served(environment) as app:
        result = run_class(app, files, students, pause)
    grown = drawings_bytes(url) - before
    alone = store_submit_ms(url)
    report = {
        f"{name}_failures": len(result["failures"]),
        f"{name}_saved": result["saved"],
        f"{name}_submit_p50_ms": result["submit"].get("p50_ms"),
        f"{name}_submit_p95_ms": result["submit"].get("p95_ms"),
        f"{name}_board_p50_ms": result["board"].get("p50_ms"),
        f"{name}_board_p95_ms": result["board"].get("p95_ms"),
        f"{name}_board_refreshes": result["refreshes"],
        f"{name}_seconds": result["seconds"],
        f"{name}_train_seconds": result["train_seconds"],
        f"{name}_mb_per_1000_drawings": round(grown / max(result["saved"], 1) * 1000 / 2**20, 2),
        f"{name}_store_only_submit_p50_ms": alone["p50_ms"],
        f"{name}_store_only_submit_p95_ms": alone["p95_ms"],
    }
    if result["failures"]:
        report[f"{name}_first_failures"] = sorted(set(result["failures"]))[:5]
    return report


def bench_class(
    students: int = 30,
    drawings: int = 20,
    databases: tuple[str, ...] = ("sqlite", "postgresql"),
    pause: float = 0.0,
) -> dict:
    """The class's load on each database; ``pause``: seconds a student takes to draw."""
    report: dict = {"students": students, "drawings_each": drawings, "pause_s": pause}
    with tempfile.TemporaryDirectory() as folder:
        files = drawing_files(Path(folder), students * drawings)
        if "sqlite" in databases:
            class_dir = Path(folder) / "classes"
            url = f"sqlite:///{class_dir / 'classes.db'}"
            env = {CLASS_DIR: str(class_dir), DATABASE_URL: ""}
            report.update(measure("sqlite", url, env, files, students, pause))
        if "postgresql" in databases:
            if not postgres.available():
                report["postgresql"] = "skipped: no PostgreSQL server binaries here"
            else:
                with postgres.throwaway_postgres(durable=True) as url:
                    env = {DATABASE_URL: url}
                    report.update(measure("postgresql", url, env, files, students, pause))
    return report
