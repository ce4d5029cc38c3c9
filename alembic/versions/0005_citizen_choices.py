"""citizen: the choices last offered (typed answers pick from them) and what the bot waits for

Revision ID: 0005_citizen_choices
Revises: 0004_inbox
Create Date: 2026-11-30 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0005_citizen_choices"
down_revision: str | None = "0004_inbox"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("citizen", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("offered", sa.JSON(), nullable=False, server_default=sa.text("'[]'"))
        )
        batch_op.add_column(sa.Column("awaiting", sa.JSON(), nullable=True))
    with op.batch_alter_table("citizen", schema=None) as batch_op:
        batch_op.alter_column("offered", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("citizen", schema=None) as batch_op:
        batch_op.drop_column("awaiting")
        batch_op.drop_column("offered")
