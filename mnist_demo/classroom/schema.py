"""The classroom's tables (SQLAlchemy 2.x declarative): classes, their drawings and their runs.

The same tables run on SQLite (the default, one file) and PostgreSQL (several replicas). A change
here needs a new alembic version in :mod:`mnist_demo.classroom.migrations`; the store runs them.
Times are naive UTC datetimes: SQLite keeps no zone, so one convention serves both databases.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Index, LargeBinary, SmallInteger, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

CODE_LENGTH = 32  # A join code is 16 characters (secrets.token_urlsafe(12)); room to spare.
NICKNAME_LENGTH = 40
SESSION_LENGTH = 64  # BOARD passes a SHA-256 hex digest of the visitor's session.
TITLE_LENGTH = 120


class Base(DeclarativeBase):
    pass


class ClassRow(Base):
    __tablename__ = "classes"

    code: Mapped[str] = mapped_column(String(CODE_LENGTH), primary_key=True)
    title: Mapped[str] = mapped_column(String(TITLE_LENGTH), default="")
    # SHA-256 hex of the teacher key: the key itself is never stored.
    key_hash: Mapped[str] = mapped_column(String(64))
    created: Mapped[datetime] = mapped_column(DateTime())


class DrawingRow(Base):
    __tablename__ = "drawings"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(
        String(CODE_LENGTH), ForeignKey("classes.code", ondelete="CASCADE")
    )
    nickname: Mapped[str] = mapped_column(String(NICKNAME_LENGTH), default="")
    session: Mapped[str] = mapped_column(String(SESSION_LENGTH), default="")
    label: Mapped[int] = mapped_column(SmallInteger)
    predicted: Mapped[int | None] = mapped_column(SmallInteger, nullable=True)
    confidence: Mapped[float | None] = mapped_column(Float, nullable=True)
    # The model's 28x28 input in [0, 1] as little-endian float32 (3,136 bytes), bit for bit.
    pixels: Mapped[bytes] = mapped_column(LargeBinary)
    thumbnail_png: Mapped[bytes] = mapped_column(LargeBinary)
    created: Mapped[datetime] = mapped_column(DateTime())

    __table_args__ = (
        Index("ix_drawings_code_id", "code", "id"),
        # The per-student rate counts a visitor's drawings of the last minute.
        Index("ix_drawings_code_session_created", "code", "session", "created"),
        Index("ix_drawings_code_nickname", "code", "nickname"),
    )


class RunRow(Base):
    __tablename__ = "runs"

    id: Mapped[str] = mapped_column(String(CODE_LENGTH), primary_key=True)
    code: Mapped[str] = mapped_column(
        String(CODE_LENGTH), ForeignKey("classes.code", ondelete="CASCADE")
    )
    nickname: Mapped[str] = mapped_column(String(NICKNAME_LENGTH), default="")
    session: Mapped[str] = mapped_column(String(SESSION_LENGTH), default="")
    kind: Mapped[str] = mapped_column(String(16))
    settings: Mapped[dict] = mapped_column(JSON)
    curves: Mapped[dict] = mapped_column(JSON)
    test_accuracy: Mapped[float | None] = mapped_column(Float, nullable=True)
    pool_accuracy: Mapped[float | None] = mapped_column(Float, nullable=True)
    # The state_dict as safetensors bytes: tensors only, never a pickle.
    weights: Mapped[bytes] = mapped_column(LargeBinary)
    created: Mapped[datetime] = mapped_column(DateTime())

    __table_args__ = (Index("ix_runs_code_created", "code", "created"),)


metadata = Base.metadata
