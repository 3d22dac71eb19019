"""Import a promptfoo config (promptfooconfig.yaml) into the workbench: versions, endpoints, a dataset.

What maps (promptfoo's documented shapes):

- `prompts`: inline strings (a JSON chat list in a string too), `{raw|id, label}` objects, a
  `{path: label}` mapping, `file://` paths and globs to .txt/.md (several prompts split by a line
  `---`), .j2 (Jinja2) and .json/.yaml chat lists -> versions of one prompt (v1, v2, ...).
  Nunjucks syntax (`{% %}`, filters) becomes a Jinja2 version.
- `providers`: `echo`, `openai:[chat:|responses:]MODEL`, `anthropic:[messages:]MODEL`,
  `ollama:[chat:]MODEL`, and an OpenAI-compatible `config.apiBaseUrl` -> endpoints and
  ENDPOINT/MODEL refs; `config` sampling keys (temperature, max_tokens, ...) -> per-model overrides.
- `tests`: inline cases (`vars`, `assert`, `description`, `metadata`; list-valued vars are
  expanded as promptfoo does), `file://` CSV/TSV/JSONL/JSON/YAML files (with `__expected`
  columns), and `defaultTest` (`vars` merged under each case, `assert` added to each,
  `options.provider` as the judge model of `llm-rubric`) -> one dataset with per-row asserts.

Anything else (JS/Python prompts and providers, unknown provider kinds, assert types the
workbench lacks, `transform`, `scenarios`, ...) is listed in `ImportReport.unsupported`,
never silently dropped. `runnable` is False when no prompt, model or test case is left.
"""

from __future__ import annotations

import glob
import itertools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from sqlmodel import Session, select

from lib.client import add_endpoint
from lib.errors import ValidationError
from lib.evals import spec_from_dict
from lib.identity import DATASET_WRITE, ENDPOINT_WRITE, PROMPT_WRITE, Identity, require
from lib.models import Endpoint
from lib.prompts import create_prompt, prompt_exists, save_version

from .reader import read_file
from .store import slug, store_parsed

PARAM_KEYS = ("temperature", "max_tokens", "top_p", "frequency_penalty", "presence_penalty", "stop", "seed",
              "max_completion_tokens", "response_format", "reasoning_effort")
_IGNORED_TOP = {"description", "tags", "outputPath", "sharing", "evaluateOptions", "writeLatestResults", "env"}
_KNOWN_TOP = {"prompts", "providers", "targets", "tests", "defaultTest"} | _IGNORED_TOP
_TEST_KEYS = {"vars", "assert", "description", "metadata", "options", "threshold"}
_NUNJUCKS = re.compile(r"\{%|\{\{[^}]*\|")
_KNOWN_HOSTS = {"openai": ("openai", "https://api.openai.com/v1", "OPENAI_API_KEY"),
                "anthropic": ("anthropic", "https://api.anthropic.com", "ANTHROPIC_API_KEY"),
                "ollama": ("openai", "http://127.0.0.1:11434/v1", None)}


@dataclass
class ImportReport:
    """What an import created and what it could not map."""

    prompt: str | None = None
    versions: list[int] = field(default_factory=list)
    models: list[str] = field(default_factory=list)
    endpoints_created: list[str] = field(default_factory=list)
    dataset: str | None = None
    rows: int = 0
    judge_model: str | None = None
    needs_judge: bool = False
    unsupported: list[str] = field(default_factory=list)

    @property
    def runnable(self) -> bool:
        """True when at least one version, one model and one test case were imported."""
        return bool(self.versions and self.models and self.rows)

    def command(self) -> str:
        """The `batch run` command that runs what was imported."""
        parts = ["python -m lib batch run", f"--dataset {self.dataset}"]
        parts += [f"--prompt {self.prompt}:{n}" for n in self.versions]
        parts += [f"--model {m}" for m in self.models]
        if self.needs_judge and not self.judge_model:
            parts.append("--judge-model ENDPOINT/MODEL")
        return " ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form (`import promptfoo --json`)."""
        return {"prompt": self.prompt, "versions": self.versions, "models": self.models,
                "endpoints_created": self.endpoints_created, "dataset": self.dataset, "rows": self.rows,
                "judge_model": self.judge_model, "unsupported": self.unsupported, "runnable": self.runnable,
                "command": self.command() if self.runnable else None}


# ---------------------------------------------------------------- files

def _load_yaml(path: Path, what: str) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        raise ValidationError(f"{what}: file {path} not found") from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ValidationError(f"{what}: {path.name} is not valid YAML/JSON: {str(exc).splitlines()[0]}") from None


def _paths(ref: str, base: Path, what: str) -> list[Path]:
    """`file://x` (relative to the config) to existing paths; globs expand, sorted."""
    raw = ref[len("file://"):] if ref.startswith("file://") else ref
    pattern = str((base / raw) if not Path(raw).is_absolute() else Path(raw))
    found = sorted(Path(p) for p in glob.glob(pattern)) if any(c in raw for c in "*?[") else [Path(pattern)]
    missing = [p for p in found if not p.is_file()]
    if missing or not found:
        raise ValidationError(f"{what}: {ref!r} names no file (looked for {missing[0] if missing else pattern})")
    return found


# ---------------------------------------------------------------- prompts

def _messages_from_text(text: str) -> list[dict] | None:
    stripped = text.strip()
    if stripped.startswith("["):
        try:
            chat = json.loads(stripped)
        except json.JSONDecodeError:
            return None
        if isinstance(chat, list) and chat and all(isinstance(m, dict) and "role" in m for m in chat):
            return chat
    return None


def _prompt_entry(text: str, label: str, fmt: str | None = None) -> dict:
    chat = _messages_from_text(text)
    messages = chat if chat is not None else [{"role": "user", "content": text}]
    body = json.dumps(messages)
    return {"label": label, "messages": messages,
            "format": fmt or ("jinja2" if _NUNJUCKS.search(body) else "mustache")}


def _prompts_from_file(ref: str, label: str | None, base: Path, out: list[dict], unsupported: list[str]) -> None:
    try:
        paths = _paths(ref, base, "prompts")
    except ValidationError as exc:
        unsupported.append(str(exc))
        return
    for p in paths:
        name = label or p.name
        ext = p.suffix.lower()
        if ext in (".js", ".ts", ".mjs", ".cjs", ".py") or ":" in p.name:
            unsupported.append(f"prompts: {ref!r} is a {ext or 'code'} prompt function (not run here)")
        elif ext in (".json", ".yaml", ".yml"):
            chat = _load_yaml(p, "prompts")
            if isinstance(chat, list) and all(isinstance(m, dict) and "role" in m for m in chat):
                out.append({"label": name, "messages": chat, "format": None})
            else:
                unsupported.append(f"prompts: {p.name} is not a chat list of {{role, content}} messages")
        else:
            text = p.read_text(encoding="utf-8-sig")
            parts = [t.strip("\n") for t in re.split(r"^---\s*$", text, flags=re.M)] if ext != ".j2" else [text]
            for i, part in enumerate(x for x in parts if x.strip()):
                out.append(_prompt_entry(part, name if len(parts) == 1 else f"{name} #{i + 1}",
                                         "jinja2" if ext == ".j2" else None))


def collect_prompts(raw: Any, base: Path, unsupported: list[str]) -> list[dict]:
    """promptfoo `prompts` (any documented shape) to [{label, messages, format}]."""
    out: list[dict] = []
    if isinstance(raw, str) and raw.startswith("file://") and raw.endswith((".yaml", ".yml")) and "*" not in raw:
        raw = _load_yaml(_paths(raw, base, "prompts")[0], "prompts")
    if isinstance(raw, dict):
        raw = [{"id": k, "label": v} for k, v in raw.items()]
    for n, item in enumerate(raw if isinstance(raw, list) else [raw] if raw else [], start=1):
        if isinstance(item, str):
            if item.startswith("file://"):
                _prompts_from_file(item, None, base, out, unsupported)
            else:
                out.append(_prompt_entry(item, f"prompt {n}"))
        elif isinstance(item, dict) and isinstance(item.get("raw"), str):
            out.append(_prompt_entry(item["raw"], str(item.get("label") or item.get("id") or f"prompt {n}")))
        elif isinstance(item, dict) and isinstance(item.get("id"), str) and item["id"].startswith("file://"):
            _prompts_from_file(item["id"], item.get("label"), base, out, unsupported)
        elif isinstance(item, dict) and isinstance(item.get("content") or item.get("role"), str):
            unsupported.append(f"prompts: item {n} is a bare message; put chat prompts in a JSON file")
        else:
            unsupported.append(f"prompts: item {n} ({json.dumps(item, default=str)[:80]}) has no text or file")
    return out


# ---------------------------------------------------------------- providers

def _endpoint_for(session: Session, name: str, kind: str, base_url: str, key_env: str | None,
                  pending: dict[str, dict]) -> str:
    """The name of an existing endpoint with this URL, or of one to create; ValidationError on a clash."""
    name = slug(name).replace(".", "-")[:100]
    row = session.exec(select(Endpoint).where(Endpoint.name == name)).first()
    want = {"name": name, "kind": kind, "base_url": base_url, "api_key_env": key_env}
    if row is not None:
        if row.kind == kind and (row.base_url or "").rstrip("/") == base_url.rstrip("/"):
            return name
        raise ValidationError(f"endpoint {name!r} exists with another URL ({row.base_url}); rename it or the "
                              "provider's label")
    if name in pending and pending[name] != want:
        raise ValidationError(f"two providers want an endpoint named {name!r} with different URLs; give them labels")
    pending[name] = want
    return name


def _provider(session: Session, item: Any, report: ImportReport, pending: dict[str, dict]
              ) -> tuple[str, dict] | None:
    """One promptfoo provider to (ENDPOINT/MODEL, sampling params), or None (listed as unsupported)."""
    if isinstance(item, dict) and len(item) == 1 and isinstance(next(iter(item.values())), dict) \
            and "id" not in item:
        pid, opts = next(iter(item.items()))
        item = {"id": pid, **opts}
    pid = item if isinstance(item, str) else item.get("id") if isinstance(item, dict) else None
    if not isinstance(pid, str):
        report.unsupported.append(f"providers: {json.dumps(item, default=str)[:80]} has no id")
        return None
    config = (item.get("config") or {}) if isinstance(item, dict) else {}
    label = item.get("label") if isinstance(item, dict) else None
    params = {k: config[k] for k in PARAM_KEYS if k in config}
    extra = sorted(set(config) - set(PARAM_KEYS) - {"apiBaseUrl", "apiHost", "apiKeyEnvar", "apiKey"})
    if "apiKey" in config:
        report.unsupported.append(f"providers: {pid}: an inline apiKey is never stored; name a variable with "
                                  "config.apiKeyEnvar")
    if extra:
        report.unsupported.append(f"providers: {pid}: config {', '.join(extra)} ignored")
    if pid == "echo":
        return "echo/echo", params
    head, _, rest = pid.partition(":")
    model = rest.split(":", 1)[1] if rest.split(":", 1)[0] in ("chat", "messages", "responses") and ":" in rest \
        else rest
    if head not in _KNOWN_HOSTS or not model or rest.startswith(("completion:", "embedding:", "assistant:")):
        report.unsupported.append(f"providers: {pid!r} (only echo, openai, anthropic, ollama and OpenAI-"
                                  "compatible apiBaseUrl providers map to endpoints)")
        return None
    kind, base_url, key_env = _KNOWN_HOSTS[head]
    key_env = config.get("apiKeyEnvar") or key_env
    custom = config.get("apiBaseUrl") or (f"https://{config['apiHost']}/v1" if config.get("apiHost") else None)
    name = head
    if custom:
        base_url = str(custom)
        name = label or urlsplit(base_url).hostname or head
        if head == "openai" and not config.get("apiKeyEnvar"):
            key_env = None  # a custom host never gets the OpenAI key unless the config names it
    endpoint = _endpoint_for(session, name, kind, base_url, key_env, pending)
    return f"{endpoint}/{model}", params


# ---------------------------------------------------------------- tests

def _expand(vars_: dict) -> list[dict]:
    """promptfoo expands list-valued vars into one case per combination."""
    keys = [k for k, v in vars_.items() if isinstance(v, list)]
    if not keys:
        return [vars_]
    return [{**vars_, **dict(zip(keys, combo, strict=True))} for combo in itertools.product(*(vars_[k] for k in keys))]


def _var_value(v: Any, base: Path, where: str, unsupported: list[str]) -> Any:
    if isinstance(v, str) and v.startswith("file://"):
        try:
            p = _paths(v, base, where)[0]
        except ValidationError as exc:
            unsupported.append(str(exc))
            return v
        if p.suffix.lower() in (".txt", ".md", ".json", ".yaml", ".yml", ".csv"):
            return p.read_text(encoding="utf-8-sig")
        unsupported.append(f"{where}: var file {v!r} ({p.suffix}) is not read here")
    return v


def _cases_from_file(ref: str, base: Path, unsupported: list[str]) -> list[dict]:
    try:
        paths = _paths(ref, base, "tests")
    except ValidationError as exc:
        unsupported.append(str(exc))
        return []
    cases: list[dict] = []
    for p in paths:
        ext = p.suffix.lower()
        if ext in (".yaml", ".yml"):
            data = _load_yaml(p, "tests")
            cases += data if isinstance(data, list) else []
            continue
        if ext not in (".csv", ".tsv", ".jsonl", ".json"):
            unsupported.append(f"tests: {p.name} ({ext or 'no extension'}) is not a CSV/JSONL/JSON/YAML file")
            continue
        parsed = read_file(p.read_bytes(), p.name)
        for row, asserts, desc in zip(parsed.rows, parsed.asserts, parsed.descriptions, strict=True):
            cases.append({"vars": dict(row), "assert": list(asserts), **({"description": desc} if desc else {})})
    return cases


def _assert(a: Any, where: str, judge: str | None, report: ImportReport) -> dict | None:
    if not isinstance(a, dict) or not isinstance(a.get("type"), str):
        report.unsupported.append(f"{where}: assertion {json.dumps(a, default=str)[:60]} has no type")
        return None
    if a.get("type") == "assert-set":
        report.unsupported.append(f"{where}: assert-set (nested assertions)")
        return None
    if a.get("weight") not in (None, 1):
        report.unsupported.append(f"{where}: {a['type']} weight {a['weight']} ignored (every assertion counts)")
    try:
        spec = spec_from_dict({k: v for k, v in a.items() if k not in ("weight", "metric")})
    except ValueError as exc:
        report.unsupported.append(f"{where}: {exc}")
        return None
    if spec.type == "unsupported":
        report.unsupported.append(f"{where}: assertion type {a['type']!r}")
        return None
    d = spec.to_dict()
    if spec.type == "judge" and not spec.model:
        if judge:
            d["model"] = judge
        else:
            report.needs_judge = True
    return d


def collect_tests(raw: Any, default: dict, base: Path, judge: str | None, report: ImportReport) -> list[dict]:
    """promptfoo `tests` + `defaultTest` to [{vars, assert, description}] rows, asserts mapped."""
    items: list[Any] = []
    for entry in raw if isinstance(raw, list) else [raw] if raw else []:
        if isinstance(entry, str):
            items += _cases_from_file(entry, base, report.unsupported)
        else:
            items.append(entry)
    d_vars = default.get("vars") or {}
    d_asserts = [x for i, a in enumerate(default.get("assert") or [], start=1)
                 if (x := _assert(a, f"defaultTest assert {i}", judge, report)) is not None]
    rows: list[dict] = []
    for n, case in enumerate(items, start=1):
        where = f"tests: case {n}"
        if not isinstance(case, dict):
            report.unsupported.append(f"{where} is not an object")
            continue
        extra = sorted(set(case) - _TEST_KEYS)
        if extra:
            report.unsupported.append(f"{where}: {', '.join(extra)} ignored")
        if (case.get("options") or {}).keys() - {"provider"}:
            report.unsupported.append(f"{where}: options {', '.join(sorted(case['options']))} ignored")
        asserts = [x for i, a in enumerate(case.get("assert") or [], start=1)
                   if (x := _assert(a, f"{where} assert {i}", judge, report)) is not None]
        merged = {**d_vars, **(case.get("vars") or {})}
        merged = {str(k): _var_value(v, base, where, report.unsupported) for k, v in merged.items()}
        for vars_ in _expand(merged):
            row = {"vars": vars_, "assert": d_asserts + asserts}
            if case.get("description"):
                row["description"] = str(case["description"])
            rows.append(row)
    return rows


# ---------------------------------------------------------------- the import

def import_promptfoo(*, session: Session, actor: Identity, path: str | Path, name: str | None = None,
                     judge_model: str | None = None) -> ImportReport:
    """Read a promptfoo config and store its prompts, endpoints and tests; flushes, the caller commits.

    Needs prompt and dataset writes; endpoints it has to create need an admin (checked before storing)."""
    require(actor, PROMPT_WRITE)
    require(actor, DATASET_WRITE)
    path = Path(path)
    config = _load_yaml(path, "config")
    if not isinstance(config, dict):
        raise ValidationError(f"{path.name}: a promptfoo config is a mapping with prompts, providers and tests")
    base = path.parent
    report = ImportReport()
    for key in sorted(set(config) - _KNOWN_TOP):
        report.unsupported.append(f"{key}: not imported")
    default = config.get("defaultTest") or {}
    if isinstance(default, str):
        default = _load_yaml(_paths(default, base, "defaultTest")[0], "defaultTest") or {}
    judge = judge_model
    pending: dict[str, dict] = {}
    provider_opt = (default.get("options") or {}).get("provider")
    if judge is None and provider_opt:
        mapped = _provider(session, provider_opt, report, pending)
        judge = mapped[0] if mapped else None
    report.judge_model = judge
    prompts = collect_prompts(config.get("prompts"), base, report.unsupported)
    providers = config.get("providers", config.get("targets"))
    if isinstance(providers, str) and providers.startswith("file://"):
        providers = _load_yaml(_paths(providers, base, "providers")[0], "providers")
    if isinstance(providers, dict):
        providers = [{k: v} for k, v in providers.items()]
    overrides: dict[str, dict] = {}
    for item in providers if isinstance(providers, list) else [providers] if providers else []:
        mapped = _provider(session, item, report, pending)
        if mapped and mapped[0] not in report.models:
            report.models.append(mapped[0])
            if mapped[1]:
                overrides[mapped[0]] = mapped[1]
    rows = collect_tests(config.get("tests"), default, base, judge, report)
    base_name = slug(name or config.get("description") or path.parent.name or path.stem).lower()[:60]
    base_name = re.sub(r"[^a-z0-9_-]+", "-", base_name).strip("-_") or "promptfoo"
    if report.needs_judge and not judge:
        report.unsupported.append("llm-rubric without a provider: pass --judge-model (here or to batch run)")
    report.rows = len(rows)
    if not (prompts and report.models and rows):
        # nothing runnable: store nothing, say what is missing
        for what, have in (("prompt", prompts), ("provider", report.models), ("test case", rows)):
            if not have:
                report.unsupported.append(f"no {what} could be imported")
        report.models, report.rows = [], 0
        return report
    if pending:
        require(actor, ENDPOINT_WRITE)  # before anything is stored
    for ep in pending.values():
        add_endpoint(session=session, actor=actor, **ep)
        report.endpoints_created.append(ep["name"])
    report.prompt = base_name
    for p in prompts:
        kw = {"name": base_name, "messages": p["messages"], "template_format": p["format"] or "mustache",
              "model": report.models[0] if report.models else None, "model_overrides": overrides or None,
              "commit_message": f"promptfoo: {p['label']}"}
        if not prompt_exists(session=session, name=base_name):
            v = create_prompt(session=session, actor=actor, description=f"imported from {path.name}", **kw)
        else:
            v, _ = save_version(session=session, actor=actor, **kw)
        if v.number not in report.versions:
            report.versions.append(v.number)
    data = json.dumps(rows, ensure_ascii=False).encode()
    ds = store_parsed(session=session, actor=actor, parsed=read_file(data, f"{base_name}.json"), name=base_name)
    report.dataset, report.rows = ds.name, ds.row_count
    return report
