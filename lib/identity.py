"""Who is acting: one identity type for every surface, and the one permission check.

Every write function in lib/ takes the acting `Identity` (keyword `actor`) and calls
`require(actor, ACTION)` before it changes anything, so pages, the CLI, the worker and the
HTTP routes all get the same check. Roles (people) and scopes (API tokens) both map to a
set of allowed actions:

    viewer  read
    editor  read, run, prompt.write, label.move, dataset.write, batch.write
    admin   everything (endpoints, keys, prices, roles, tokens, protected labels, deleting, audit)

    token scope read   read
    token scope run    read, run
    token scope write  read, run, prompt.write, label.move
"""

from __future__ import annotations

import functools
import getpass
from dataclasses import dataclass, field

from .errors import PermissionDeniedError
from .settings import get_settings

READ = "read"
RUN = "run"  # anything that costs money: model calls, batches
PROMPT_WRITE = "prompt.write"
LABEL_MOVE = "label.move"
LABEL_MOVE_PROTECTED = "label.move_protected"
DATASET_WRITE = "dataset.write"
BATCH_WRITE = "batch.write"
ENDPOINT_WRITE = "endpoint.write"
PRICE_WRITE = "price.write"
ROLE_WRITE = "role.write"
TOKEN_WRITE = "token.write"
WEBHOOK_WRITE = "webhook.write"
DELETE = "delete"
AUDIT_READ = "audit.read"

ACTIONS = (READ, RUN, PROMPT_WRITE, LABEL_MOVE, LABEL_MOVE_PROTECTED, DATASET_WRITE, BATCH_WRITE, ENDPOINT_WRITE,
           PRICE_WRITE, ROLE_WRITE, TOKEN_WRITE, WEBHOOK_WRITE, DELETE, AUDIT_READ)
ROLES = ("viewer", "editor", "admin")
ROLE_ACTIONS: dict[str, frozenset[str]] = {
    "viewer": frozenset({READ}),
    "editor": frozenset({READ, RUN, PROMPT_WRITE, LABEL_MOVE, DATASET_WRITE, BATCH_WRITE}),
    "admin": frozenset(ACTIONS),
}
SCOPES = ("read", "run", "write")
SCOPE_ACTIONS: dict[str, frozenset[str]] = {
    "read": frozenset({READ}),
    "run": frozenset({READ, RUN}),
    "write": frozenset({READ, RUN, PROMPT_WRITE, LABEL_MOVE}),
}


@dataclass(frozen=True)
class Identity:
    """An actor: a signed-in user, the local operator (CLI, single-user app), a token or the worker."""

    kind: str  # "user" | "cli" | "local" | "token" | "worker" | "system"
    name: str  # user id / OS user / token name
    email: str = ""
    role: str = "viewer"  # for people; tokens use `scopes`
    scopes: frozenset[str] = field(default_factory=frozenset)

    @property
    def label(self) -> str:
        """What is recorded on rows: `user@example.com`, `cli:ana`, `token:deploy-bot`, `local:ana`."""
        if self.kind == "user":
            return self.email or self.name
        return f"{self.kind}:{self.name}"

    def allowed(self) -> frozenset[str]:
        """Every action this identity may take."""
        if self.kind == "token":
            out: set[str] = set()
            for s in self.scopes:
                out |= SCOPE_ACTIONS.get(s, frozenset())
            return frozenset(out)
        return ROLE_ACTIONS.get(self.role, frozenset())

    def can(self, action: str) -> bool:
        """Whether this identity may take `action`."""
        return action in self.allowed()


def require(actor: Identity | None, action: str) -> Identity:
    """Refuse (PermissionDeniedError) unless `actor` may take `action`; returns the actor."""
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}")
    if actor is None:
        raise PermissionDeniedError(f"{action}: no identity given (sign in)", action=action)
    if not actor.can(action):
        held = f"scopes {','.join(sorted(actor.scopes))}" if actor.kind == "token" else f"role {actor.role}"
        raise PermissionDeniedError(f"{actor.label} ({held}) may not {action}", action=action)
    return actor


@functools.cache  # the process's OS user does not change; looking it up cost ~30 us per call
def _os_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001  (no user in some containers)
        return "unknown"


def cli_operator() -> Identity:
    """The local operator on the command line: holds the database credentials, so an admin, marked `cli:`."""
    return Identity(kind="cli", name=_os_user(), role="admin")


def local_user() -> Identity:
    """The single user of an app with no `[auth]` (bound to 127.0.0.1): an admin, marked `local:`.

    Named by WORKBENCH_AUTHOR when set, else the OS user."""
    return Identity(kind="local", name=get_settings().author or _os_user(), role="admin")


WORKER = Identity(kind="worker", name="batch", role="editor")

SYSTEM = Identity(kind="system", name="workbench", role="admin")
"""The workbench itself: first-start seeding of examples and default endpoints (`system:workbench`)."""
