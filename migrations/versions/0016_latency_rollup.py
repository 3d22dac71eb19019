"""Metrics: hourly latency / TTFT histograms per endpoint x model (percentiles over a million runs, both databases).

Filled from `run` by the next rollup refresh (the run watermark is reset so every hour is recomputed).

Revision ID: 0016
Revises: 0015
"""
from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "latencyrollup",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("hour", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("endpoint", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("model", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("bins", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("hour", "endpoint", "model", "kind", name="uq_latencyrollup_key"),
    )
    op.execute("DELETE FROM metricsstate WHERE key = 'rollup_run_id'")


def downgrade() -> None:
    op.drop_table("latencyrollup")
