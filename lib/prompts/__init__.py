"""Prompt content: the registry (prompts, append-only versions), labels (promote, rollback),
templating (one-pass mustache, sandboxed Jinja2), diffs, JSON exchange, token estimates,
attachments and task presets.

Transactions: functions here that take a `session` flush and never commit; the caller
(page, CLI command, worker, route) owns the transaction and commits.
"""

from __future__ import annotations

from .attachments import CONTEXT_NAMES, MAX_BYTES, combine, read_attachment, total_tokens
from .content import (
    EFFORTS,
    content_text,
    expand_history,
    line_of,
    message_text,
    parse_json_field,
    placeholder_names,
    response_schema,
    validate_modern_params,
    validate_response_format,
    validate_tool_choice,
    validate_tools,
)
from .diffing import VersionDiff, diff_versions
from .exchange import dumps, export_prompt, import_prompt
from .labels import label_history, remove_label, rollback, set_label
from .presets import create_from_preset, get_preset, list_presets
from .registry import (
    all_tags,
    create_prompt,
    duplicate,
    get_prompt,
    get_version,
    get_version_by_id,
    labels_of,
    list_prompts,
    list_versions,
    merge_params,
    prompt_exists,
    resolve,
    save_version,
    set_archived,
    summaries,
    update_prompt,
    validate_name,
    version_ref,
    version_refs,
)
from .templating import FORMATS, as_text, missing, render, render_messages, unused, variables, walk
from .textdiff import TextDiff, diff_texts
from .tokens import count_messages, count_text

__all__ = [
    "CONTEXT_NAMES",
    "EFFORTS",
    "FORMATS",
    "MAX_BYTES",
    "TextDiff",
    "VersionDiff",
    "all_tags",
    "as_text",
    "combine",
    "content_text",
    "count_messages",
    "count_text",
    "create_from_preset",
    "create_prompt",
    "diff_texts",
    "diff_versions",
    "dumps",
    "duplicate",
    "expand_history",
    "export_prompt",
    "get_preset",
    "get_prompt",
    "get_version",
    "get_version_by_id",
    "import_prompt",
    "label_history",
    "labels_of",
    "line_of",
    "list_presets",
    "list_prompts",
    "list_versions",
    "message_text",
    "merge_params",
    "missing",
    "parse_json_field",
    "placeholder_names",
    "prompt_exists",
    "read_attachment",
    "remove_label",
    "render",
    "render_messages",
    "resolve",
    "response_schema",
    "rollback",
    "save_version",
    "set_archived",
    "set_label",
    "summaries",
    "total_tokens",
    "unused",
    "update_prompt",
    "validate_modern_params",
    "validate_name",
    "validate_response_format",
    "validate_tool_choice",
    "validate_tools",
    "variables",
    "version_ref",
    "version_refs",
    "walk",
]
