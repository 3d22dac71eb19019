"""Who is using the app: the signed-in person (with `[auth]` in secrets.toml) or the local single user.

`actor()` is what every page passes to lib write functions; `can(action)` is what a page uses to
hide what the role may not do (lib checks again below it). Per-user state lives in
`st.session_state` (one browser session = one person; a different person signing in within the same
browser session starts from a cleared state).
"""

from __future__ import annotations

import logging

import httpx
import streamlit as st

from lib.db import get_engine, session_scope
from lib.errors import WorkbenchError
from lib.identity import ROLE_WRITE, ROLES, Identity, local_user
from lib.ui import md_escape
from lib.users import list_users, role_of, set_role, sign_in

log = logging.getLogger("workbench.auth")
_KEY = "auth_identity"


def auth_configured() -> bool:
    """Whether `[auth]` exists in secrets.toml (then every page requires sign-in)."""
    try:
        return "auth" in st.secrets
    except Exception:  # noqa: BLE001 - no secrets file at all: single-user mode
        return False


def signed_in() -> bool:
    """Whether this browser session carries a signed-in identity (False when there is none at all)."""
    return bool(st.user.get("is_logged_in", False))


_PROVIDER_KEYS = ("client_id", "client_secret", "server_metadata_url")


def _auth_section() -> dict:
    return {k: (dict(v) if hasattr(v, "keys") else v) for k, v in dict(st.secrets["auth"]).items()}


def providers() -> dict[str, dict]:
    """Login providers of `[auth]`: {"default": {...}} for a flat section, else one per `[auth.NAME]` table."""
    conf = _auth_section()
    named = {k: v for k, v in conf.items() if isinstance(v, dict)}
    return named or {"default": {k: conf.get(k) for k in _PROVIDER_KEYS}}


def auth_problem() -> str | None:
    """What is wrong with `[auth]` (missing keys), in words for the sign-in screen; None if it looks usable."""
    try:
        conf = _auth_section()
        found = providers()
    except Exception:  # noqa: BLE001 - a malformed secrets file: say so, never its text
        return "the [auth] section of .streamlit/secrets.toml could not be read"
    missing = [k for k in ("redirect_uri", "cookie_secret") if not conf.get(k)]
    for name, p in found.items():
        lack = [k for k in _PROVIDER_KEYS if not p.get(k)]
        missing.extend(k if name == "default" else f"{name}.{k}" for k in lack)
    if missing:
        return f"[auth] in .streamlit/secrets.toml is missing {', '.join(missing)}; ask the administrator"
    return None


@st.cache_data(ttl=30, max_entries=8, show_spinner=False)
def provider_problem(metadata_url: str) -> str | None:
    """Whether the provider's discovery document answers (cached 30 s; the same for everyone)."""
    try:
        resp = httpx.get(metadata_url, timeout=3.0, follow_redirects=True)
        resp.raise_for_status()
        if "authorization_endpoint" not in resp.json():
            return "the login provider's discovery document has no authorization_endpoint"
    except (httpx.HTTPError, ValueError) as exc:
        log.error("login provider %s unreachable: %s", metadata_url, type(exc).__name__)
        return f"the login provider cannot be reached ({type(exc).__name__}); try again later or ask the administrator"
    return None


def sign_in_screen() -> None:
    """The only thing an anonymous visitor sees: a title, a sign-in button per provider, or what is wrong."""
    st.title("Prompt Workbench")
    st.write("Sign in to continue.")
    problem = auth_problem()
    if problem:
        log.error("sign-in unavailable: %s", problem)
        st.error(f"Sign-in is not available: {md_escape(problem)}.")
        return
    for name, conf in providers().items():
        issue = provider_problem(str(conf["server_metadata_url"]))
        if issue:
            st.error(f"Sign-in is not available: {md_escape(issue)}.")
            continue
        label = "Sign in" if name == "default" else f"Sign in with {name}"
        st.button(label, key=f"auth_login_{name}", type="primary", on_click=_login,
                  args=(None if name == "default" else name,))


def _login(provider: str | None) -> None:
    try:
        st.login(provider) if provider else st.login()
    except Exception as exc:  # noqa: BLE001 - StreamlitAuthError and friends: a message, never a traceback
        log.error("st.login failed: %s", exc)
        st.session_state["auth_error"] = "sign-in could not start; the administrator should check [auth] in the log"


def sign_in_page() -> None:
    """The sign-in screen as a page (app.py's only page for an anonymous visitor)."""
    sign_in_screen()
    if st.session_state.get("auth_error"):
        st.error(st.session_state.pop("auth_error"))


def gate() -> Identity:
    """Stop at the sign-in screen unless signed in (with `[auth]`); the session's identity otherwise."""
    if not auth_configured():
        return local_user()
    if not signed_in():
        sign_in_screen()
        if st.session_state.get("auth_error"):
            st.error(st.session_state.pop("auth_error"))
        st.stop()
    try:
        return actor()
    except WorkbenchError as exc:  # e.g. the provider gave no e-mail address
        log.error("sign-in refused: %s", exc)
        st.error(f"Signed in, but the workbench cannot use this account: {md_escape(str(exc))}")
        st.button("Sign out", on_click=st.logout)
        st.stop()


def sidebar_user(ident: Identity) -> None:
    """The signed-in person's name, role and a sign-out button (nothing in single-user mode)."""
    if ident.kind != "user":
        return
    sb = st.sidebar
    name = str(st.user.get("name") or "") or ident.email
    sb.markdown(f"**{md_escape(name)}**  \n{md_escape(ident.email)} · {ident.role}")
    sb.button("Sign out", key="auth_logout", on_click=st.logout, icon=":material/logout:")


def actor() -> Identity:
    """The identity of this session: the signed-in person, or the local operator without `[auth]`."""
    if not auth_configured():
        return local_user()
    if not signed_in():
        st.stop()  # app.py shows the sign-in screen before any page runs; never act anonymously
    email = str(st.user.get("email") or "")
    ident: Identity | None = st.session_state.get(_KEY)
    if ident is not None and ident.email != email.lower():
        # another person in this browser session: nothing of the previous one's drafts or picks survives
        st.session_state.clear()
        ident = None
    with session_scope(get_engine()) as s:
        if ident is None:
            ident = sign_in(session=s, email=email, name=str(st.user.get("name") or ""),
                            subject=str(st.user.get("sub") or ""), email_verified=st.user.get("email_verified"))
        else:  # roles can change while signed in: read the role on every run (one small query)
            role = role_of(session=s, email=email)
            if role != ident.role:
                ident = Identity(kind=ident.kind, name=ident.name, email=ident.email, role=role)
    st.session_state[_KEY] = ident
    return ident


def can(action: str) -> bool:
    """Whether this session's identity may take `action` (to hide buttons; lib enforces)."""
    return actor().can(action)


def _set_role(email: str, key: str) -> None:
    choice = st.session_state.get(key)
    try:
        with session_scope(get_engine()) as s:
            set_role(session=s, actor=actor(), email=email, role=None if choice == _FROM_SETTINGS else choice)
    except WorkbenchError as exc:
        st.session_state["settings_people_error"] = str(exc)


_FROM_SETTINGS = "(from settings)"


def render_people(me: Identity) -> None:
    """Settings, admins only: everyone who signed in, their role, and a picker to change it (audited)."""
    if not auth_configured() or not me.can(ROLE_WRITE):
        return
    st.header("People and roles")
    st.caption("Roles: viewer (read), editor (prompts, runs, compare, batches, datasets), admin (endpoints, keys, "
               "prices, roles, tokens, protected labels, deleting). Settings `admins` / `editors` (e-mail or "
               "@domain) apply unless a role is set here.")
    if st.session_state.get("settings_people_error"):
        st.error(md_escape(st.session_state.pop("settings_people_error")))
    with session_scope(get_engine()) as s:
        people = list_users(session=s)
    for p in people:
        c1, c2 = st.columns([3, 1], vertical_alignment="center")
        c1.markdown(f"**{md_escape(p['email'])}** {md_escape(p['name'] or '')}")
        key = f"settings_role_{p['email']}"
        options = [_FROM_SETTINGS, *ROLES]
        current = p["set_role"] if p["set_role"] in ROLES else _FROM_SETTINGS
        c2.selectbox("Role", options, index=options.index(current), key=key, label_visibility="collapsed",
                     on_change=_set_role, args=(p["email"], key), disabled=p["email"] == me.email,
                     help="You cannot change your own role" if p["email"] == me.email else f"now: {p['role']}")
