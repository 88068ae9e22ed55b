"""The store's checks inside a transaction (the class exists, the caps), and rows -> records."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Connection, func, select

from mnist_demo.classroom import database, keys
from mnist_demo.classroom.records import (
    ClassFull,
    ClassLimits,
    Drawing,
    NoSuchClass,
    RunRecord,
    as_utc,
    pixels_from_bytes,
    utc_now,
)
from mnist_demo.classroom.schema import ClassRow, DrawingRow, RunRow

# A run's columns but its weights: lists and records never load megabytes they do not show.
RUN_COLUMNS = tuple(column for column in RunRow.__table__.c if column.name != "weights")


def require_class(connection: Connection, code: str) -> None:
    if (
        not keys.well_formed(code)
        or connection.scalar(select(ClassRow.code).where(ClassRow.code == code)) is None
    ):
        raise NoSuchClass()


def lock_class(connection: Connection, code: str) -> None:
    """The class must exist; on PostgreSQL its row stays locked until the transaction ends, so
    two replicas checking one class's caps take turns (SQLite's write lock already does)."""
    if not keys.well_formed(code):
        raise NoSuchClass()
    query = select(ClassRow.code).where(ClassRow.code == code)
    if not database.is_sqlite(connection):
        query = query.with_for_update()
    if connection.scalar(query) is None:
        raise NoSuchClass()


def check_class_cap(connection: Connection, limits: ClassLimits) -> None:
    if connection.scalar(select(func.count()).select_from(ClassRow)) >= limits.max_classes:
        raise ClassFull(
            f"This host already keeps {limits.max_classes} classes: "
            "delete one before creating another."
        )


def check_drawing_caps(connection: Connection, values: dict, limits: ClassLimits) -> None:
    """Refuse a drawing past the class's cap or the student's rate (ClassFull)."""
    code = values["code"]
    total = connection.scalar(select(func.count()).where(DrawingRow.code == code))
    if total >= limits.class_drawings:
        raise ClassFull(
            f"This class already holds {limits.class_drawings} drawings: "
            "the teacher can export them and start a new class."
        )
    # A student is their session; without one, their nickname (all anonymous ones together).
    who = (
        DrawingRow.session == values["session"]
        if values["session"]
        else (DrawingRow.session == "") & (DrawingRow.nickname == values["nickname"])
    )
    since = utc_now() - timedelta(minutes=1)
    recent = connection.scalar(
        select(func.count()).where(DrawingRow.code == code, who, DrawingRow.created >= since)
    )
    if recent >= limits.student_rate:
        raise ClassFull(
            f"That is {limits.student_rate} drawings this minute: "
            "wait a moment before sending more."
        )


def check_run_cap(connection: Connection, code: str, limits: ClassLimits) -> None:
    if connection.scalar(select(func.count()).where(RunRow.code == code)) >= limits.class_runs:
        raise ClassFull(
            f"This class already keeps {limits.class_runs} runs: "
            "the teacher can export the best and start a new class."
        )


def drawing_record(row) -> Drawing:
    return Drawing(
        id=int(row.id),
        code=row.code,
        nickname=row.nickname,
        session=row.session,
        label=int(row.label),
        predicted=None if row.predicted is None else int(row.predicted),
        confidence=row.confidence,
        pixels=pixels_from_bytes(row.pixels),
        thumbnail_png=bytes(row.thumbnail_png),
        created=as_utc(row.created),
    )


def run_record(values) -> RunRecord:
    return RunRecord(
        id=values["id"],
        code=values["code"],
        nickname=values["nickname"],
        session=values["session"],
        kind=values["kind"],
        settings=dict(values["settings"]),
        curves=dict(values["curves"]),
        test_accuracy=values["test_accuracy"],
        pool_accuracy=values["pool_accuracy"],
        created=as_utc(values["created"]),
    )
