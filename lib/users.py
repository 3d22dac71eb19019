"""People who sign in (with `[auth]`), their roles, and the identity a session acts as.

Role of a signed-in person, first match wins:
1. the role an admin set for them (`set_role`, audited), which the first person to sign in on an
   empty workspace gets as `admin`;
2. the settings / secrets lists: `admins`, then `editors`, by e-mail or `@domain`
   (`WORKBENCH_ADMINS='["ana@acme.com"]'`, or a `[roles]` table in .streamlit/secrets.toml);
3. viewer.

Transactions: functions here flush and never commit; the caller (page, CLI command) commits.
"""

from __future__ import annotations

from sqlmodel import Session, func, select

from lib import audit
from lib.credentials import secrets_table
from lib.errors import NotFoundError, ValidationError
from lib.identity import ROLE_ACTIONS, ROLE_WRITE, ROLES, Identity, require
from lib.models import User, utcnow
from lib.settings import get_settings


def _norm(email: str) -> str:
    return (email or "").strip().lower()


def configured_roles() -> dict[str, list[str]]:
    """`admins` and `editors` from settings plus the `[roles]` table of secrets.toml (lower-cased)."""
    s = get_settings()
    table = secrets_table("roles")
    out: dict[str, list[str]] = {}
    for key, base in (("admins", s.admins), ("editors", s.editors)):
        extra = table.get(key) or []
        items = list(base) + (list(extra) if isinstance(extra, list) else [])
        out[key] = [_norm(str(x)) for x in items if str(x).strip()]
    return out


def _matches(email: str, entries: list[str]) -> bool:
    domain = "@" + email.rsplit("@", 1)[-1] if "@" in email else None
    return any(e == email or (e.startswith("@") and e == domain) for e in entries)


def configured_role(email: str) -> str | None:
    """The role the settings give `email` (admin, editor) or None."""
    email, roles = _norm(email), configured_roles()
    if _matches(email, roles["admins"]):
        return "admin"
    if _matches(email, roles["editors"]):
        return "editor"
    return None


def role_of(*, session: Session, email: str) -> str:
    """The role `email` holds now (see the module docstring)."""
    row = session.exec(select(User).where(User.email == _norm(email))).first()
    if row is not None and row.role in ROLES:
        return row.role
    return configured_role(email) or "viewer"


def _unverified(flag: object) -> bool:
    """Whether an `email_verified` claim says no (absent: the provider does not say, trusted as configured)."""
    return flag is False or (isinstance(flag, str) and flag.strip().lower() in ("false", "0", "no"))


def sign_in(*, session: Session, email: str, name: str = "", subject: str = "",
            email_verified: object = None) -> Identity:
    """Record a sign-in (the first person on an empty workspace becomes admin) and return their identity.

    Roles follow e-mail addresses, so an address the provider marks unverified (`email_verified`
    false) is refused: anyone could otherwise claim an admin's address at a lax provider.
    """
    email = _norm(email)
    if not email or "@" not in email:
        raise ValidationError("the login provider gave no e-mail address: add the `email` scope "
                              "(server_metadata / client_kwargs) to [auth] in .streamlit/secrets.toml")
    if _unverified(email_verified):
        raise ValidationError(f"the login provider says the e-mail address {email} is not verified; verify it "
                              "with the provider, then sign in again")
    row = session.exec(select(User).where(User.email == email)).first()
    if row is None:
        first = session.exec(select(func.count()).select_from(User)).one() == 0
        row = User(email=email, name=(name or "")[:200], subject=(subject or "")[:300],
                   role="admin" if first else None)
        session.add(row)
        if first:
            me = Identity(kind="user", name=subject or email, email=email, role="admin")
            audit.record(session, actor=me, action="role.set", object_type="user", object_id=email,
                         summary="first sign-in on an empty workspace: - -> admin")
    else:
        row.last_seen_at = utcnow()
        if name:
            row.name = name[:200]
        if subject and not row.subject:
            row.subject = subject[:300]
        session.add(row)
    session.flush()
    return Identity(kind="user", name=subject or email, email=email, role=role_of(session=session, email=email))


def set_role(*, session: Session, actor: Identity, email: str, role: str | None) -> User:
    """Give `email` a role (None = back to the settings' lists); admins only, audited."""
    require(actor, ROLE_WRITE)
    if role is not None and role not in ROLES:
        raise ValidationError(f"unknown role {role!r}; use one of {', '.join(ROLES)}")
    email = _norm(email)
    row = session.exec(select(User).where(User.email == email)).first()
    if row is None:
        if "@" not in email:
            raise NotFoundError(f"unknown user {email!r}")
        row = User(email=email)
    before = role_of(session=session, email=email)
    row.role = role
    session.add(row)
    session.flush()
    audit.record(session, actor=actor, action="role.set", object_type="user", object_id=email,
                 summary=audit.change(before, role_of(session=session, email=email)))
    session.flush()
    return row


def lost_permission(*, session: Session, label: str | None, action: str) -> str | None:
    """Why the signed-in person named `label` may no longer take `action` (e.g. an admin made them a viewer);
    None when they may, or when `label` is not a person who signed in (cli:, token:, local:, a test actor)."""
    email = _norm(label or "")
    if not email or ":" in email or "@" not in email:
        return None
    if session.exec(select(User.id).where(User.email == email)).first() is None:
        return None
    role = role_of(session=session, email=email)
    if action in ROLE_ACTIONS.get(role, frozenset()):
        return None
    return f"{email} (role {role}) may no longer {action}"


def list_users(*, session: Session) -> list[dict]:
    """Every person who signed in, with the role they hold now."""
    rows = session.exec(select(User).order_by(User.email)).all()
    return [{"email": u.email, "name": u.name, "role": role_of(session=session, email=u.email),
             "set_role": u.role, "created_at": u.created_at, "last_seen_at": u.last_seen_at} for u in rows]
