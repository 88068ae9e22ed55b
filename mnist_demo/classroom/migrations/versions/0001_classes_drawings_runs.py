"""The first tables: classes, their drawings and their runs (issue 21).

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "classes",
        sa.Column("code", sa.String(32), primary_key=True),
        sa.Column("title", sa.String(120), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "drawings",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "code",
            sa.String(32),
            sa.ForeignKey("classes.code", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("nickname", sa.String(40), nullable=False),
        sa.Column("session", sa.String(64), nullable=False),
        sa.Column("label", sa.SmallInteger(), nullable=False),
        sa.Column("predicted", sa.SmallInteger(), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("pixels", sa.LargeBinary(), nullable=False),
        sa.Column("thumbnail_png", sa.LargeBinary(), nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_drawings_code_id", "drawings", ["code", "id"])
    op.create_index("ix_drawings_code_session_created", "drawings", ["code", "session", "created"])
    op.create_index("ix_drawings_code_nickname", "drawings", ["code", "nickname"])
    op.create_table(
        "runs",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column(
            "code",
            sa.String(32),
            sa.ForeignKey("classes.code", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("nickname", sa.String(40), nullable=False),
        sa.Column("session", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("curves", sa.JSON(), nullable=False),
        sa.Column("test_accuracy", sa.Float(), nullable=True),
        sa.Column("pool_accuracy", sa.Float(), nullable=True),
        sa.Column("weights", sa.LargeBinary(), nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_runs_code_created", "runs", ["code", "created"])


def downgrade() -> None:
    op.drop_table("runs")
    op.drop_table("drawings")
    op.drop_table("classes")
