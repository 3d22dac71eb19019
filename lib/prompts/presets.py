"""Task presets: recommended sampling parameters and a starting prompt per common task.

A preset is a plain, immutable description; the Playground offers them to start from
and `create_from_preset` turns one into a saved prompt (version 1).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lib.errors import NotFoundError
from lib.identity import Identity

from .registry import create_prompt


@dataclass(frozen=True)
class Preset:
    """A task preset: key, title, why these settings, parameters, messages and example values."""

    key: str
    title: str
    description: str
    params: dict[str, Any]
    messages: tuple[dict[str, str], ...]
    example: dict[str, str] = field(default_factory=dict)

    def message_list(self) -> list[dict[str, str]]:
        """The starting messages as a fresh, mutable list."""
        return [dict(m) for m in self.messages]


PRESETS: tuple[Preset, ...] = (
    Preset(
        key="qa",
        title="Question answering",
        description="Low temperature for factual, grounded answers; short replies.",
        params={"temperature": 0.2, "max_tokens": 512},
        messages=(
            {"role": "system", "content": "You answer questions accurately and concisely. Use only the "
                                          "context given; if the answer is not in it, say you do not know."},
            {"role": "user", "content": "Context:\n{{context}}\n\nQuestion: {{question}}"},
        ),
        example={"context": "The Eiffel Tower is 330 m tall.", "question": "How tall is the Eiffel Tower?"},
    ),
    Preset(
        key="codegen",
        title="Code generation",
        description="Temperature 0 for deterministic code; room for a full function.",
        params={"temperature": 0.0, "max_tokens": 2048},
        messages=(
            {"role": "system", "content": "You are a senior {{language}} engineer. Reply with one code block "
                                          "and a one-line explanation. Follow the language's conventions."},
            {"role": "user", "content": "Write {{language}} code that does the following:\n{{task}}"},
        ),
        example={"language": "Python", "task": "Return the n-th Fibonacci number iteratively."},
    ),
    Preset(
        key="code_review",
        title="Code review",
        description="Low temperature; long enough for a list of findings with line references.",
        params={"temperature": 0.1, "max_tokens": 1500},
        messages=(
            {"role": "system", "content": "You review code. List concrete problems (bugs, security, clarity) "
                                          "as bullet points with the line they refer to, most severe first. "
                                          "Say 'no issues found' if there are none."},
            {"role": "user", "content": "Review this code:\n\n{{code}}"},
        ),
        example={"code": "def div(a, b):\n    return a / b\n"},
    ),
    Preset(
        key="summarise",
        title="Summarisation",
        description="Moderate temperature for fluent prose; a bounded summary length.",
        params={"temperature": 0.3, "max_tokens": 400},
        messages=(
            {"role": "system", "content": "You write faithful summaries. Never add facts that are not in the text."},
            {"role": "user", "content": "Summarise the following text in {{length}}:\n\n{{text}}"},
        ),
        example={"length": "three bullet points", "text": "Paste the text to summarise here."},
    ),
)

_BY_KEY = {p.key: p for p in PRESETS}


def list_presets() -> list[Preset]:
    """Every preset, in display order."""
    return list(PRESETS)


def get_preset(key: str) -> Preset:
    """The preset with this key (NotFoundError lists the known keys)."""
    try:
        return _BY_KEY[key]
    except KeyError:
        raise NotFoundError(f"unknown preset {key!r} (known: {', '.join(_BY_KEY)})") from None


def merged_params(preset: Preset, params: dict[str, Any] | None) -> dict[str, Any]:
    """`params` with the preset's recommended temperature and max_tokens written over them."""
    out = dict(params or {})
    out.update(preset.params)
    return out


def create_from_preset(*, session: Any, actor: Identity, key: str, name: str, model: str | None = None) -> Any:
    """Save a new prompt whose version 1 is the preset's prompt and parameters; returns the version."""
    preset = get_preset(key)
    return create_prompt(session=session, actor=actor, name=name, messages=preset.message_list(), model=model,
                         params=dict(preset.params), description=preset.description, tags=["preset", preset.key],
                         commit_message=f"from preset {preset.title}")
