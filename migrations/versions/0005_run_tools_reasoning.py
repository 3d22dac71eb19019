"""Tool calls, reasoning text and tokens on each Run, and the previous turn of a conversation.

Revision ID: 0005
Revises: 0004
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("run", schema=None) as batch_op:
        batch_op.add_column(sa.Column("tool_calls", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("reasoning", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("reasoning_tokens", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("parent_run_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_run_parent_run_id"), ["parent_run_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("run", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_run_parent_run_id"))
        batch_op.drop_column("parent_run_id")
        batch_op.drop_column("reasoning_tokens")
        batch_op.drop_column("reasoning")
        batch_op.drop_column("tool_calls")
