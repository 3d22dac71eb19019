"""Key bindings: the origin a key variable was first used with (a key never goes to a new host unasked).

Revision ID: 0003
Revises: 0002
"""
from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlsplit

from alembic import op
import sqlalchemy as sa
import sqlmodel

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    table = op.create_table(
        "keybinding",
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("origin", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("endpoint", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("bound_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    # existing endpoints bind their keys to where they point today (the first one by id wins)
    conn = op.get_bind()
    rows = conn.execute(sa.text("SELECT name, kind, base_url, api_key_env FROM endpoint "
                                "WHERE api_key_env IS NOT NULL AND api_key_env != '' ORDER BY id")).fetchall()
    seen: set[str] = set()
    out: list[dict] = []
    defaults = {"openai": "https://api.openai.com/v1", "anthropic": "https://api.anthropic.com"}
    for name, kind, base_url, env in rows:
        if env in seen:
            continue
        seen.add(env)
        parts = urlsplit(base_url or defaults.get(kind, ""))
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme, 0)
        origin = f"{parts.scheme}://{(parts.hostname or '').lower()}:{port}"
        out.append({"name": env, "origin": origin, "endpoint": name, "bound_at": datetime.now(UTC)})
    if out:
        op.bulk_insert(table, out)


def downgrade() -> None:
    op.drop_table("keybinding")
