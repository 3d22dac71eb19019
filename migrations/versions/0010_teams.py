"""Teams: who did it on jobs, endpoints and prices (runs carry `actor` since 0004); users with roles; the audit log.

Revision ID: 0010
Revises: 0009
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa
import sqlmodel

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_S = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    with op.batch_alter_table("batchjob") as b:
        b.add_column(sa.Column("created_by", _S(length=200), nullable=False, server_default=""))
    with op.batch_alter_table("endpoint") as b:
        b.add_column(sa.Column("updated_by", _S(length=200), nullable=False, server_default=""))
    with op.batch_alter_table("price") as b:
        b.add_column(sa.Column("updated_by", _S(length=200), nullable=False, server_default=""))
    op.create_table(
        "app_user",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", _S(length=320), nullable=False),
        sa.Column("name", _S(length=200), nullable=False),
        sa.Column("subject", _S(length=300), nullable=False),
        sa.Column("role", _S(length=20), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("last_seen_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_app_user_email", "app_user", ["email"], unique=True)
    op.create_table(
        "auditevent",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("actor", _S(length=200), nullable=False),
        sa.Column("actor_kind", _S(length=20), nullable=False),
        sa.Column("action", _S(length=50), nullable=False),
        sa.Column("object_type", _S(length=30), nullable=False),
        sa.Column("object_id", _S(length=300), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_audit_created", "auditevent", ["created_at"])
    op.create_index("ix_auditevent_actor", "auditevent", ["actor"])
    op.create_index("ix_auditevent_action", "auditevent", ["action"])


def downgrade() -> None:
    op.drop_table("auditevent")
    op.drop_table("app_user")
    with op.batch_alter_table("price") as b:
        b.drop_column("updated_by")
    with op.batch_alter_table("endpoint") as b:
        b.drop_column("updated_by")
    with op.batch_alter_table("batchjob") as b:
        b.drop_column("created_by")
