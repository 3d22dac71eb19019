"""Dataset revisions: a dataset name has revisions 1, 2, ... (copy on write); jobs keep the one they ran on.

Revision ID: 0007
Revises: 0006
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("dataset") as batch_op:
        batch_op.add_column(sa.Column("revision", sa.Integer(), nullable=False, server_default="1"))
        batch_op.add_column(sa.Column("parent_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key("fk_dataset_parent_id", "dataset", ["parent_id"], ["id"])
        batch_op.drop_index("ix_dataset_name")
        batch_op.create_index("ix_dataset_name", ["name"], unique=False)
        batch_op.create_unique_constraint("uq_dataset_name_revision", ["name", "revision"])


def downgrade() -> None:
    with op.batch_alter_table("dataset") as batch_op:
        batch_op.drop_constraint("uq_dataset_name_revision", type_="unique")
        batch_op.drop_index("ix_dataset_name")
        batch_op.create_index("ix_dataset_name", ["name"], unique=True)
        batch_op.drop_constraint("fk_dataset_parent_id", type_="foreignkey")
        batch_op.drop_column("parent_id")
        batch_op.drop_column("revision")
