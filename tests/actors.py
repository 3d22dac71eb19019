"""Identities for tests: one per role, as a signed-in person would have."""

from __future__ import annotations

from lib.identity import Identity

ADMIN = Identity(kind="user", name="admin-sub", email="admin@example.com", role="admin")
EDITOR = Identity(kind="user", name="editor-sub", email="editor@example.com", role="editor")
VIEWER = Identity(kind="user", name="viewer-sub", email="viewer@example.com", role="viewer")


def person(email: str, role: str = "admin") -> Identity:
    """A signed-in person with this e-mail and role."""
    return Identity(kind="user", name=email, email=email, role=role)
