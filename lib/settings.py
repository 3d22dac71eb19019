"""Process settings from the environment (and `.env`); Streamlit secrets reach it as env vars."""

from __future__ import annotations

import getpass
import os
from functools import lru_cache
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = ROOT / "data"


class Settings(BaseSettings):
    """Workbench settings; every field can be set as WORKBENCH_<NAME> except DATABASE_URL."""

    model_config = SettingsConfigDict(env_prefix="WORKBENCH_", env_file=".env", extra="ignore")

    database_url: str = ""
    author: str = ""
    seed_examples: bool = True
    start_worker: bool = True
    log_level: str = "INFO"
    # custom evaluators `python:module:function` are imported from this folder only, in a subprocess
    evaluators_dir: str = ""
    evaluator_timeout_s: float = 10.0
    # an image part `{"image_url": {"url": "{{column}}"}}` may name a file under this folder (batch columns)
    media_dir: str = ""
    # roles of signed-in people (with `[auth]`): e-mails or `@domain`; everyone else is a viewer.
    # Also read from a `[roles]` table of .streamlit/secrets.toml (admins = [...], editors = [...]).
    admins: list[str] = []
    editors: list[str] = []
    # labels only an admin may move (each move asks for confirmation in the app)
    protected_labels: list[str] = ["production"]
    # which environment variables / secrets an endpoint may name as its key (fnmatch patterns,
    # upper-cased); a name must match an allow pattern and no deny pattern, or be listed in the
    # `[keys]` table of .streamlit/secrets.toml
    key_env_allow: list[str] = ["*_API_KEY", "*_API_TOKEN", "*_KEY"]
    # a provider's reply body (and a streamed reply's text) beyond this many bytes ends the call as an error
    # that keeps the first part; Run.output stores at most this much
    max_response_bytes: int = 8 * 1024 * 1024
    # a message's text beyond this many bytes is refused before any call
    max_message_bytes: int = 1024 * 1024
    # a batch pauses after this many consecutive failures of the same kind on one endpoint
    circuit_breaker_failures: int = 20
    key_env_deny: list[str] = [
        "AWS_*", "AZURE_CLIENT_SECRET", "GOOGLE_APPLICATION_CREDENTIALS", "DATABASE_URL", "*_DATABASE_URL",
        "*PASSWORD*", "*_PASSWD", "SECRET_KEY", "*_SECRET_KEY", "*_SECRET", "*PRIVATE_KEY*", "*_SIGNING_KEY",
        "*_ENCRYPTION_KEY", "SSH_*", "GPG_*", "PG*", "*_COOKIE_*", "STREAMLIT_*", "WORKBENCH_*",
    ]

    def resolved_database_url(self) -> str:
        """DATABASE_URL wins, then WORKBENCH_DATABASE_URL, then SQLite in data/."""
        return (os.environ.get("DATABASE_URL") or self.database_url
                or f"sqlite:///{DATA_DIR / 'workbench.db'}")

    def resolved_author(self) -> str:
        """Who is saving versions: WORKBENCH_AUTHOR or the OS user."""
        if self.author:
            return self.author
        try:
            return getpass.getuser()
        except Exception:  # no user in some containers
            return "unknown"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings read once per process (tests call `get_settings.cache_clear()`)."""
    return Settings()
