"""officers: pending reason requests, agency forum topics, longer card roles

Revision ID: 0002_officers
Revises: 0001
Create Date: 2026-11-28 02:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel

from alembic import op

revision: str = "0002_officers"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "officer_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("complaint_id", sa.Integer(), nullable=False),
        sa.Column("chat_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("action", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("actor_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("actor_name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("agency", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["complaint_id"], ["complaint.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("officer_request", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_officer_request_complaint_id"), ["complaint_id"], unique=False
        )
    op.create_table(
        "agency_topic",
        sa.Column("agency", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("chat_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("thread_id", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("agency", "chat_id"),
    )
    with op.batch_alter_table("agency_topic", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_agency_topic_thread_id"), ["thread_id"], unique=False)
    with op.batch_alter_table("card_link", schema=None) as batch_op:
        batch_op.alter_column(
            "role",
            existing_type=sqlmodel.sql.sqltypes.AutoString(length=16),
            type_=sqlmodel.sql.sqltypes.AutoString(length=48),
            existing_nullable=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("card_link", schema=None) as batch_op:
        batch_op.alter_column(
            "role",
            existing_type=sqlmodel.sql.sqltypes.AutoString(length=48),
            type_=sqlmodel.sql.sqltypes.AutoString(length=16),
            existing_nullable=False,
        )
    with op.batch_alter_table("agency_topic", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_agency_topic_thread_id"))
    op.drop_table("agency_topic")
    with op.batch_alter_table("officer_request", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_officer_request_complaint_id"))
    op.drop_table("officer_request")
