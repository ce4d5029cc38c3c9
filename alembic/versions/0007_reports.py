"""reports: the working-day calendar for SQL, and complaints by submission time

Revision ID: 0007_reports
Revises: 0006_web
Create Date: 2026-12-01 08:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel

from alembic import op

revision: str = "0007_reports"
down_revision: str | None = "0006_web"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REPORT_EVENTS = (
    "action IN ('verify', 'dispatch', 'reject', 'notauth', 'reopen', 'close', 'survey_notfixed')"
)


def upgrade() -> None:
    op.create_table(
        "report_day",
        sa.Column("day", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("midnight", sa.Float(), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("month", sqlmodel.sql.sqltypes.AutoString(length=7), nullable=False),
        sa.Column("working", sa.Integer(), nullable=False),
        sa.Column("before", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day"),
    )
    op.create_table(
        "report_calendar",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("fingerprint", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("built_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("complaint", schema=None) as batch_op:
        batch_op.create_index("ix_complaint_created_at", ["created_at"], unique=False)
    # Everything the reports read of the events they count, without the table rows.
    with op.batch_alter_table("complaint_event", schema=None) as batch_op:
        batch_op.create_index(
            "ix_complaint_event_report",
            ["complaint_id", "action", "at", "from_status", "actor_role"],
            unique=False,
            postgresql_where=sa.text(REPORT_EVENTS),
            sqlite_where=sa.text(REPORT_EVENTS),
        )


def downgrade() -> None:
    with op.batch_alter_table("complaint_event", schema=None) as batch_op:
        batch_op.drop_index("ix_complaint_event_report")
    with op.batch_alter_table("complaint", schema=None) as batch_op:
        batch_op.drop_index("ix_complaint_created_at")
    op.drop_table("report_calendar")
    op.drop_table("report_day")
