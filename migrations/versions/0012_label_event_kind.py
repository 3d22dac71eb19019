"""Label history says what each move was: promote, rollback or remove (older moves read as promote).

Revision ID: 0012
Revises: 0011
"""
from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("labelevent") as b:
        b.add_column(sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False,
                               server_default="promote"))
    op.execute("UPDATE labelevent SET kind = 'remove' WHERE to_version IS NULL")


def downgrade() -> None:
    with op.batch_alter_table("labelevent") as b:
        b.drop_column("kind")
