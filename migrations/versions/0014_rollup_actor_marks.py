"""Metrics rollup on both databases: an actor dimension (filter by user), sequence marks for PostgreSQL.

The rollup is emptied (its rows had no actor) and rebuilt from `run` by the next refresh.

Revision ID: 0014
Revises: 0013
"""
from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

_KEY = ["hour", "endpoint", "model", "version_id", "source", "status", "error_kind"]


def upgrade() -> None:
    op.execute("DELETE FROM runrollup")
    op.execute("DELETE FROM metricsstate WHERE key = 'rollup_run_id'")
    with op.batch_alter_table("runrollup") as b:
        b.drop_constraint("uq_runrollup_key", type_="unique")
        b.add_column(sa.Column("actor", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False,
                               server_default=""))
        b.create_unique_constraint("uq_runrollup_key", [*_KEY, "actor"])
    op.create_table(
        "rollupmark",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("rollupmark")
    op.execute("DELETE FROM runrollup")
    op.execute("DELETE FROM metricsstate WHERE key = 'rollup_run_id'")
    with op.batch_alter_table("runrollup") as b:
        b.drop_constraint("uq_runrollup_key", type_="unique")
        b.drop_column("actor")
        b.create_unique_constraint("uq_runrollup_key", _KEY)
