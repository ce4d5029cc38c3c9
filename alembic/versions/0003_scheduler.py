"""scheduler: indexes for the settlement-deadline and survey scans

Revision ID: 0003_scheduler
Revises: 0002_officers
Create Date: 2026-11-28 03:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003_scheduler"
down_revision: str | None = "0002_officers"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("complaint", schema=None) as batch_op:
        batch_op.create_index(
            "ix_complaint_status_settle_due", ["status", "settle_due"], unique=False
        )
        batch_op.create_index(
            "ix_complaint_status_resolved_at", ["status", "resolved_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("complaint", schema=None) as batch_op:
        batch_op.drop_index("ix_complaint_status_resolved_at")
        batch_op.drop_index("ix_complaint_status_settle_due")
