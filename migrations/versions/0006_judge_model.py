"""A default judge model per batch job (scores `llm-rubric` / judge evaluators that name no model).

Revision ID: 0006
Revises: 0005
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa
import sqlmodel

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("batchjob") as batch_op:
        batch_op.add_column(sa.Column("judge_model", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("batchjob") as batch_op:
        batch_op.drop_column("judge_model")
