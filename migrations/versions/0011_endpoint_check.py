"""Endpoint checks: the last Test of each endpoint (ok, kind, short message, time, latency, models listed).

Revision ID: 0011
Revises: 0010
"""
from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_S = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    with op.batch_alter_table("endpoint") as b:
        b.add_column(sa.Column("last_check_ok", sa.Boolean(), nullable=True))
        b.add_column(sa.Column("last_check_kind", _S(length=30), nullable=False, server_default=""))
        b.add_column(sa.Column("last_check_message", _S(length=300), nullable=False, server_default=""))
        b.add_column(sa.Column("last_check_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        b.add_column(sa.Column("last_check_latency_ms", sa.Float(), nullable=True))
        b.add_column(sa.Column("last_check_models", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("endpoint") as b:
        for c in ("last_check_models", "last_check_latency_ms", "last_check_at", "last_check_message",
                  "last_check_kind", "last_check_ok"):
            b.drop_column(c)
