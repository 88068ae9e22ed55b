"""``ClassStore``: a class's drawings and runs, kept in SQLite or PostgreSQL.

The one way in for the board, the app and the CLI. Nothing happens at import or construction:
the engine is made, and the tables migrated, on first use. A store is safe to share between a
Gradio server's worker threads (SQLAlchemy's engine pools the connections; each call is one
transaction). Unknown codes raise :class:`NoSuchClass`, except where a method says otherwise.
"""

from __future__ import annotations

import threading

import torch
from safetensors.torch import load as load_safetensors
from sqlalchemy import Engine, delete, func, select, update

from mnist_demo.classroom import database, keys, queries
from mnist_demo.classroom.records import (
    ClassError,
    ClassFull,
    ClassKeys,
    ClassLimits,
    Drawing,
    NoSuchClass,
    NoSuchRun,
    RunRecord,
    WrongKey,
    clean_nickname,
    clean_session,
    clean_title,
    drawing_values,
    run_values,
    utc_now,
)
from mnist_demo.classroom.schema import ClassRow, DrawingRow, RunRow

__all__ = ["ClassError", "ClassFull", "ClassKeys", "ClassLimits", "ClassStore", "Drawing",
           "NoSuchClass", "NoSuchRun", "RunRecord", "WrongKey"]  # fmt: skip

_shared: dict[str, ClassStore] = {}
_shared_lock = threading.Lock()


class ClassStore:
    def __init__(self, url: str | None = None, *, limits: ClassLimits | None = None) -> None:
        """``url`` None: ``MNIST_DEMO_DATABASE_URL``, else ``sqlite:///<class dir>/classes.db``.
        ``limits`` None: the caps from the settings, read now."""
        self.url = database.database_url(url)
        self.limits = limits or ClassLimits.from_env()
        self._engine: Engine | None = None
        self._lock = threading.Lock()

    @classmethod
    def shared(cls) -> ClassStore:
        """The process-wide store for the settings' database, made once (per URL) on first use."""
        url = database.database_url()
        with _shared_lock:
            if url not in _shared:
                _shared[url] = cls(url)
            return _shared[url]

    @property
    def engine(self) -> Engine:
        with self._lock:
            if self._engine is None:
                engine = database.make_engine(self.url)
                database.upgrade(engine)
                self._engine = engine
            return self._engine

    # Classes.

    def create_class(self, title: str = "") -> ClassKeys:
        created = ClassKeys(keys.new_code(), keys.new_teacher_key())
        with database.writing(self.engine) as connection:
            database.lock_for_create(connection)
            queries.check_class_cap(connection, self.limits)
            connection.execute(
                ClassRow.__table__.insert().values(
                    code=created.code,
                    title=clean_title(title),
                    key_hash=keys.hash_key(created.teacher_key),
                    created=utc_now(),
                )
            )
        return created

    def has_class(self, code: str) -> bool:
        return self._class_row(code) is not None

    def title(self, code: str) -> str:
        row = self._class_row(code)
        if row is None:
            raise NoSuchClass()
        return row.title

    def check_teacher(self, code: str, key: str) -> bool:
        """Whether ``key`` is this class's teacher key, compared in constant time; False for an
        unknown code (after the same comparison)."""
        row = self._class_row(code)
        return keys.key_matches(key, row.key_hash if row is not None else None)

    def delete_class(self, code: str, teacher_key: str) -> bool:
        """Delete the class, its drawings and its runs: True; False for an unknown code;
        :class:`WrongKey` for a wrong key."""
        if not self.check_teacher(code, teacher_key):
            if self.has_class(code):
                raise WrongKey()
            return False
        with database.writing(self.engine) as connection:
            connection.execute(delete(DrawingRow).where(DrawingRow.code == code))
            connection.execute(delete(RunRow).where(RunRow.code == code))
            gone = connection.execute(delete(ClassRow).where(ClassRow.code == code)).rowcount
        return gone == 1

    # Drawings.

    def submit_drawing(
        self,
        code: str,
        *,
        pixels,
        thumbnail_png: bytes,
        label: int,
        predicted: int | None,
        confidence: float | None,
        nickname: str = "",
        session: str = "",
    ) -> int:
        """Add a drawing to the class pool; its id once it is committed (on disk)."""
        values = drawing_values(
            code, pixels, thumbnail_png, label, predicted, confidence, nickname, session
        )
        with database.writing(self.engine) as connection:
            queries.lock_class(connection, code)
            queries.check_drawing_caps(connection, values, self.limits)
            values["created"] = utc_now()
            inserted = connection.execute(DrawingRow.__table__.insert().values(**values))
            return int(inserted.inserted_primary_key[0])

    def drawings(
        self,
        code: str,
        *,
        nickname: str | None = None,
        session: str | None = None,
        limit: int | None = None,
    ) -> list[Drawing]:
        """The class's drawings, oldest first; with ``limit``, the latest ``limit`` of them."""
        query = select(DrawingRow).where(DrawingRow.code == code)
        if nickname is not None:
            query = query.where(DrawingRow.nickname == clean_nickname(nickname))
        if session is not None:
            query = query.where(DrawingRow.session == clean_session(session))
        query = query.order_by(DrawingRow.id.desc())
        if limit is not None:
            query = query.limit(max(int(limit), 0))
        with database.reading(self.engine) as connection:
            queries.require_class(connection, code)
            rows = connection.execute(query).all()
        return [queries.drawing_record(row) for row in reversed(rows)]

    def drawing(self, code: str, drawing_id: int) -> Drawing | None:
        """One drawing of this class; None if it is not there (or in another class)."""
        if not keys.well_formed(code) or not isinstance(drawing_id, int):
            return None
        query = select(DrawingRow).where(DrawingRow.code == code, DrawingRow.id == drawing_id)
        with database.reading(self.engine) as connection:
            row = connection.execute(query).first()
        return queries.drawing_record(row) if row is not None else None

    def counts(self, code: str) -> dict:
        """{"total": n, "per_digit": [10 counts], "per_student": {nickname: n}}."""
        with database.reading(self.engine) as connection:
            queries.require_class(connection, code)
            digits = connection.execute(
                select(DrawingRow.label, func.count())
                .where(DrawingRow.code == code)
                .group_by(DrawingRow.label)
            ).all()
            students = connection.execute(
                select(DrawingRow.nickname, func.count())
                .where(DrawingRow.code == code)
                .group_by(DrawingRow.nickname)
            ).all()
        per_digit = [0] * 10
        for label, count in digits:
            per_digit[int(label)] = int(count)
        per_student = {str(name): int(count) for name, count in students}
        return {"total": sum(per_digit), "per_digit": per_digit, "per_student": per_student}

    # Runs.

    def add_run(
        self,
        code: str,
        *,
        nickname: str,
        session: str,
        kind: str,
        settings: dict,
        curves: dict,
        test_accuracy: float | None,
        state_dict: dict,
    ) -> RunRecord:
        values = run_values(
            code, nickname, session, kind, settings, curves, test_accuracy, state_dict
        )
        with database.writing(self.engine) as connection:
            queries.lock_class(connection, code)
            queries.check_run_cap(connection, code, self.limits)
            connection.execute(RunRow.__table__.insert().values(**values))
        return queries.run_record(values)

    def set_pool_accuracy(self, run_id: str, accuracy: float) -> None:
        with database.writing(self.engine) as connection:
            changed = connection.execute(
                update(RunRow).where(RunRow.id == run_id).values(pool_accuracy=float(accuracy))
            ).rowcount
        if changed != 1:
            raise NoSuchRun()

    def runs(self, code: str) -> list[RunRecord]:
        """The class's runs, newest first (weights not loaded)."""
        query = select(*queries.RUN_COLUMNS).where(RunRow.code == code)
        with database.reading(self.engine) as connection:
            queries.require_class(connection, code)
            rows = connection.execute(query.order_by(RunRow.created.desc())).all()
        return [queries.run_record(row._mapping) for row in rows]

    def run(self, run_id: str) -> RunRecord | None:
        if not keys.well_formed(run_id):
            return None
        with database.reading(self.engine) as connection:
            row = connection.execute(
                select(*queries.RUN_COLUMNS).where(RunRow.id == run_id)
            ).first()
        return queries.run_record(row._mapping) if row is not None else None

    def run_state_dict(self, run_id: str) -> dict[str, torch.Tensor]:
        """The run's weights as CPU tensors (read from safetensors: no code can come with them)."""
        if not keys.well_formed(run_id):
            raise NoSuchRun()
        with database.reading(self.engine) as connection:
            weights = connection.scalar(select(RunRow.weights).where(RunRow.id == run_id))
        if weights is None:
            raise NoSuchRun()
        return load_safetensors(bytes(weights))

    def close(self) -> None:
        with self._lock:
            if self._engine is not None:
                self._engine.dispose()
                self._engine = None

    # Helpers.

    def _class_row(self, code: str):
        if not keys.well_formed(code):
            return None
        with database.reading(self.engine) as connection:
            return connection.execute(select(ClassRow).where(ClassRow.code == code)).first()
