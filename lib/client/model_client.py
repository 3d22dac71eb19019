"""The one model client every screen uses: generate() and stream(), with sync wrappers.

One `ModelClient` per process and engine (`get_client()`).  All provider I/O, limits and
retries run on one event loop, so async callers on any loop, the CLI and the Streamlit
script thread (several at once) share the same pooled connections and per-endpoint limits.
That loop is a background thread of the client's own, or, once the HTTP API has called
`adopt_loop()` from it, the web server's loop: the gateway's calls then run with no hop
between threads, and everyone else hands their calls to that loop.  Bad input (unknown endpoint, missing
variables, empty messages) raises a WorkbenchError before any call; provider failures
never raise: they come back as a RunResult with status "error" or "incomplete".
Every call is recorded as one Run row (batched by `lib.runlog`) unless record=False;
then `result.row` is the row as a dict (cheap to bulk-insert) and `result.run` builds the
unsaved Run on demand.  High-throughput callers can run their coroutines on `client.loop`
(e.g. `client.run(coro)` or run_coroutine_threadsafe) to skip the hop between loops.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
from sqlalchemy.engine import Engine

from lib.credentials import get_secret
from lib.db import get_engine, session_scope
from lib.errors import ProviderError, ValidationError, WorkbenchError
from lib.identity import RUN, Identity, require
from lib.models import Prompt
from lib.prompts import count_text, merge_params, render, render_messages
from lib.runs import CallSpec, RunLogWriter, RunResult, storable
from lib.settings import get_settings

from . import endpoints as endpoints_mod
from .executor import Executor, scrub
from .health import health_error, health_kind
from .limits import EndpointLimiter
from .providers import make_provider, provider_class
from .providers.base import EndpointConfig, Provider
from .retry import DEFAULT_POLICY, RetryPolicy
from .streaming import END, SyncStream, pump
from .types import ClientStats, StreamEvent

__all__ = ["ModelClient", "RunResult", "StreamEvent", "SyncStream", "get_client", "reset_clients"]

log = logging.getLogger(__name__)
ROLES = ("system", "user", "assistant", "developer", "tool")
CONFIG_TTL_S = 3.0

TransportArg = httpx.AsyncBaseTransport | Callable[[EndpointConfig], httpx.AsyncBaseTransport | None] | None


class ModelClient:
    """Providers, retries, limits, cost, cache and the run log behind generate()/stream()."""

    def __init__(self, engine: Engine | None = None, *, policy: RetryPolicy = DEFAULT_POLICY,
                 transport: TransportArg = None, sleep: Callable[[float], Awaitable[None]] | None = None,
                 clock: Callable[[], float] = time.monotonic, rng: random.Random | None = None) -> None:
        self.engine = engine or get_engine()
        self.policy = policy
        self._transport = transport
        self._sleep = sleep or asyncio.sleep
        self._clock = clock
        self._rng = rng or random.Random()
        self.stats = ClientStats()
        self.runlog = RunLogWriter(self.engine)
        self._configs: dict[str, tuple[float, int, EndpointConfig]] = {}
        self._providers: dict[str, Provider] = {}
        self._limiters: dict[str, EndpointLimiter] = {}
        self._prompt_names: dict[int, str] = {}
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._adopted = False  # the loop is a server's (adopt_loop), not our own thread's
        self._thread: threading.Thread | None = None
        self.executor = Executor(engine=self.engine, providers=self._provider, limiters=self._limiter,
                                 runlog=self.runlog, policy=policy, clock=clock, sleep=self._sleep, rng=self._rng,
                                 stats=self.stats)

    # -- the client's event loop ------------------------------------------------------------
    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The loop the client runs on: an adopted server loop while it runs, else its own (started on first
        use, in a daemon thread)."""
        loop = self._loop
        if loop is not None and not (self._adopted and not loop.is_running()):
            return loop
        with self._lock:
            if self._loop is not None and self._adopted and not self._loop.is_running():
                self._drop_loop_state()  # the adopted loop stopped (the server shut down): start our own
            if self._loop is None:
                loop = asyncio.new_event_loop()
                ready = threading.Event()

                def run() -> None:
                    asyncio.set_event_loop(loop)
                    loop.call_soon(ready.set)
                    loop.run_forever()

                self._thread = threading.Thread(target=run, name="model-client", daemon=True)
                self._thread.start()
                # Load the token encoding off the loop now, so the first call's latency is not skewed.
                threading.Thread(target=count_text, args=("warm up",), daemon=True).start()
                ready.wait(10)
                self._loop = loop
        return self._loop

    def adopt_loop(self) -> bool:
        """Run calls on the running loop (a web server's) when the client has no loop yet; True when calls made
        from this loop now run on it, with no hop to another thread and back (the gateway's hot path).

        Sync callers (pages, CLI, workers) then hand their calls to this loop; once it stops, the client
        starts a loop of its own again."""
        running = asyncio.get_running_loop()
        if self._loop is running:
            return True
        with self._lock:
            if self._loop is not None and self._adopted and not self._loop.is_running():
                self._drop_loop_state()
            if self._loop is None:
                self._loop, self._adopted = running, True
                threading.Thread(target=count_text, args=("warm up",), daemon=True).start()
        return self._loop is running

    def _drop_loop_state(self) -> None:
        """Forget what belonged to a stopped adopted loop: its pools and the limiters' waiters live there."""
        self._providers.clear()
        self._limiters.clear()
        self._loop, self._adopted = None, False

    def _on_loop(self) -> bool:
        try:
            return asyncio.get_running_loop() is self._loop
        except RuntimeError:
            return False

    def run(self, coro: Awaitable[Any], timeout: float | None = None) -> Any:
        """Run a coroutine on the client's loop from a sync caller and return its result."""
        if self._on_loop():
            raise RuntimeError("ModelClient.run() called from the client's own loop; await instead")
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)  # type: ignore[arg-type]

    async def _close_providers(self) -> None:
        me = asyncio.current_task()
        pending = [t for t in asyncio.all_tasks() if t is not me] if not self._adopted else []
        for t in pending:  # our own loop only: an adopted loop's other tasks are the server's
            t.cancel()
        if pending:  # let streams in flight record themselves before the loop stops
            await asyncio.wait(pending, timeout=5)
        for p in list(self._providers.values()):
            with contextlib.suppress(Exception):  # closing is best effort
                await p.aclose()
        self._providers.clear()

    def close(self) -> None:
        """Close pooled connections, flush the run log and stop the loop thread (an adopted loop keeps running)."""
        loop = self._loop
        if loop is not None and self._adopted:
            if loop.is_running() and not self._on_loop():
                with contextlib.suppress(Exception):
                    asyncio.run_coroutine_threadsafe(self._close_providers(), loop).result(10)
            self._drop_loop_state()
        elif loop is not None and self._thread is not None and self._thread.is_alive():
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(self._close_providers(), loop).result(10)
            loop.call_soon_threadsafe(loop.stop)
            self._thread.join(10)
            loop.close()
        self._loop = None
        self.runlog.close()

    # -- configuration ----------------------------------------------------------------------
    def endpoint_config(self, name: str) -> EndpointConfig:
        """The endpoint's config, re-read from the database every few seconds."""
        now = time.monotonic()
        gen = endpoints_mod.config_generation()
        hit = self._configs.get(name)
        if hit and hit[1] == gen and now - hit[0] < CONFIG_TTL_S:
            return hit[2]
        with session_scope(self.engine) as s:
            cfg = endpoints_mod.load_config(session=s, name=name)
        if hit and hit[2] == cfg:
            cfg = hit[2]  # unchanged: keep the same object, so the provider and limiter lookups stay identity checks
        self._configs[name] = (now, gen, cfg)
        return cfg

    def invalidate(self, name: str | None = None) -> None:
        """Forget cached endpoint configs (after an edit) so the next call re-reads them."""
        if name is None:
            self._configs.clear()
        else:
            self._configs.pop(name, None)

    def _provider(self, cfg: EndpointConfig) -> Provider:
        prov = self._providers.get(cfg.name)
        if prov is not None and prov.config is cfg:
            return prov
        if prov is not None and prov.config == cfg:  # re-read but unchanged: the next lookups are identity checks
            prov.config = cfg
            return prov
        if prov is not None:  # the endpoint changed: close the old pool on the loop
            asyncio.ensure_future(prov.aclose())
        transport = self._transport
        if transport is not None and not isinstance(transport, httpx.AsyncBaseTransport):
            transport = transport(cfg)
        env = cfg.api_key_env
        prov = make_provider(cfg, api_key=(lambda: get_secret(env)) if env else None,
                             transport=transport)  # type: ignore[arg-type]
        self._providers[cfg.name] = prov
        return prov

    def _limiter(self, cfg: EndpointConfig) -> EndpointLimiter:
        lim = self._limiters.get(cfg.name)
        if lim is None:
            lim = self._limiters[cfg.name] = EndpointLimiter(cfg.max_concurrency, cfg.rpm, cfg.tpm, self._clock)
        elif (lim.max_concurrency, lim.rpm_value, lim.tpm_value) != (cfg.max_concurrency, cfg.rpm, cfg.tpm):
            lim.reconfigure(cfg.max_concurrency, cfg.rpm, cfg.tpm)
        return lim

    def _prompt_name(self, prompt_id: int | None) -> str | None:
        if prompt_id is None:
            return None
        if prompt_id not in self._prompt_names:
            from sqlmodel import Session

            with Session(self.engine) as s:
                p = s.get(Prompt, prompt_id)
            self._prompt_names[prompt_id] = p.name if p else ""
        return self._prompt_names[prompt_id] or None

    def prepare(self, *, actor: Identity, model: str | None = None, messages: list[dict] | None = None,
                version: Any = None, variables: dict | None = None, params: dict | None = None, source: str = "cli",
                cache: bool = False, deadline_s: float | None = None, record: bool = True,
                batch_job_id: int | None = None, compare_id: str | None = None,
                cache_ttl_s: float | None = None, parent_run_id: int | None = None,
                on_behalf_of: str | None = None) -> CallSpec:
        """Check the actor may run (costs money), resolve model, render messages, merge params.

        The Run row's `actor` is the actor's label, or `on_behalf_of` (a batch run: who started the job).
        With a `version`, its messages are rendered with `variables` unless `messages` holds them
        already rendered (a batch renders first, to fail an item before any call).
        Raises PermissionDeniedError / WorkbenchError before anything is sent."""
        require(actor, RUN)
        variables = dict(variables or {})
        if model is not None and not isinstance(model, str):
            raise ValidationError(f"model: expected a string like 'endpoint/model', got {type(model).__name__}")
        if version is not None:
            model = model or version.model
            rendered = [dict(m) for m in messages] if messages is not None else render(version, variables)
        elif messages is not None:
            rendered = (render_messages(messages, variables) if variables
                        else [dict(m) for m in messages])
        else:
            raise ValidationError("nothing to send: give messages or a prompt version")
        merged = merge_params(version, model, params)
        if not model:
            raise ValidationError("no model: pass model='endpoint/model' (e.g. echo/echo)")
        if not rendered:
            raise ValidationError("no messages to send")
        # what is sent is what the Run row stores: NUL removed, lone surrogates replaced (lib.runs.storable)
        rendered, variables = storable(rendered), storable(variables)
        limit = get_settings().max_message_bytes
        for i, m in enumerate(rendered, 1):
            if not isinstance(m, dict) or m.get("role") not in ROLES:
                raise ValidationError(f"message {i}: role must be one of {', '.join(ROLES)}")
            size = _text_bytes(m.get("content"))
            if size > limit:
                raise ValidationError(f"message {i} ({m['role']}): {size:,} bytes of text, over the "
                                      f"{limit:,}-byte limit (WORKBENCH_MAX_MESSAGE_BYTES)")
        mode = str(merged.pop("mode", "chat"))
        if mode not in ("chat", "completion"):
            raise ValidationError(f"mode {mode!r}: expected chat or completion")
        ep, model_name = endpoints_mod.split_model_ref(model)
        cfg = self.endpoint_config(ep)
        if cfg.kind == "echo" or cfg.tpm:
            count_text("")  # load the encoding here, not inside the call's measured latency
        spec = CallSpec(endpoint=ep, model=model_name, config=cfg, messages=rendered, params=merged,
                        variables=variables, mode=mode, source=source, cache=cache,
                        deadline_s=float(deadline_s or cfg.timeout_s or 60.0), record=record,
                        batch_job_id=batch_job_id, compare_id=compare_id,
                        actor=(on_behalf_of or actor.label)[:200], parent_run_id=parent_run_id)
        if cache_ttl_s:
            spec.cache_ttl_s = cache_ttl_s
        if version is not None:
            spec.version_id, spec.prompt_id, spec.version_number = version.id, version.prompt_id, version.number
            spec.prompt_name = self._prompt_name(version.prompt_id)
        return spec

    # -- public API ---------------------------------------------------------------------------
    async def generate(self, **kw: Any) -> RunResult:
        """One call (see the module docstring); usable from any event loop."""
        spec = self.prepare(**kw)
        if self._on_loop():
            return await self.executor.complete(spec)
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(self.executor.complete(spec), self.loop))

    async def _on_client_loop(self, coro: Awaitable[Any]) -> Any:
        """Await a coroutine on the client's loop (where the providers' pools live) from any loop."""
        if self._on_loop():
            return await coro
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self.loop))  # type: ignore[arg-type]

    async def embed_call(self, *, model: str, inputs: list[str], actor: Identity, source: str = "eval",
                         batch_job_id: int | None = None, record: bool = True, deadline_s: float | None = None,
                         on_behalf_of: str | None = None) -> tuple[list[list[float]], RunResult]:
        """Embedding vectors and the RunResult of the call (one Run row unless record=False); a failed call
        raises its ProviderError after its row is written. The actor must be allowed to run (costs money)."""
        require(actor, RUN)
        ep, model_name = endpoints_mod.split_model_ref(model)
        cfg = self.endpoint_config(ep)
        if not provider_class(cfg.kind).has_embeddings:
            raise ValidationError(f"endpoint {ep!r} ({cfg.kind}) has no embeddings API; use an OpenAI-compatible one")
        spec = CallSpec(endpoint=ep, model=model_name, config=cfg, messages=[],
                        params={"mode": "embeddings", "inputs": len(inputs)}, variables={}, source=source,
                        deadline_s=float(deadline_s or cfg.timeout_s or 60.0), record=record,
                        batch_job_id=batch_job_id, actor=(on_behalf_of or actor.label)[:200])
        return await self._on_client_loop(self.executor.embed(spec, list(inputs)))

    async def embed(self, *, model: str, inputs: list[str], **kw: Any) -> list[list[float]]:
        """One vector per input text from `endpoint/model`; a failed call raises its ProviderError."""
        return (await self.embed_call(model=model, inputs=inputs, **kw))[0]

    async def provider_request(self, endpoint: str, fn: Callable[[Provider], Awaitable[Any]], *,
                               deadline_s: float | None = None) -> Any:
        """A non-chat provider request (Batch API) under the endpoint's limiter and the retry policy."""
        cfg = self.endpoint_config(endpoint)
        return await self._on_client_loop(self.executor.request(cfg, fn, deadline_s=deadline_s))

    def generate_sync(self, **kw: Any) -> RunResult:
        """generate() for sync callers (CLI, Streamlit script thread, worker threads)."""
        spec = self.prepare(**kw)
        return self.run(self.executor.complete(spec))

    async def stream(self, **kw: Any) -> AsyncIterator[StreamEvent]:
        """Text deltas, then one `done` event with the RunResult; usable from any event loop."""
        spec = self.prepare(**kw)
        if self._on_loop():
            async for ev in self.executor.stream(spec):
                yield ev
            return
        caller = asyncio.get_running_loop()
        q: asyncio.Queue = asyncio.Queue()
        cf = asyncio.run_coroutine_threadsafe(
            pump(self.executor.stream(spec), lambda item: caller.call_soon_threadsafe(q.put_nowait, item)), self.loop)
        try:
            while True:
                item = await q.get()
                if item is END:
                    break
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            if not cf.done():
                cf.cancel()

    def stream_sync(self, **kw: Any) -> SyncStream:
        """A sync iterator of text chunks; `.result` holds the RunResult once it is exhausted."""
        return self.executor.sync_stream(self.prepare(**kw), self.loop)

    def health(self, name: str, timeout_s: float = 10.0) -> dict:
        """Check an endpoint: its models, the latency of the check, and whether its key is set."""
        self.invalidate(name)
        cfg = self.endpoint_config(name)
        t0 = time.perf_counter()
        out: dict[str, Any] = {"endpoint": name, "kind": cfg.kind, "base_url": cfg.base_url,
                               "api_key_env": cfg.api_key_env,
                               "key_present": (get_secret(cfg.api_key_env) is not None) if cfg.api_key_env else None}

        async def check() -> list[str]:
            return await asyncio.wait_for(self._provider(cfg).list_models(), timeout_s)

        try:
            models = self.run(check(), timeout_s + 5)
            out.update(ok=True, models=models, error=None, error_kind="")
        except (ProviderError, TimeoutError) as exc:
            out.update(ok=False, models=[], error=scrub(health_error(exc, cfg, timeout_s), cfg),
                       error_kind=health_kind(exc))
        out["latency_ms"] = round((time.perf_counter() - t0) * 1000, 1)
        return out

    def client_stats(self) -> dict[str, dict[str, Any]]:
        """Per-endpoint requests, success rate, mean/p95 latency, cache hit rate."""
        return self.stats.snapshot()


_clients: dict[str, ModelClient] = {}
_clients_lock = threading.Lock()


def _text_bytes(content: Any) -> int:
    """UTF-8 size of a message's text (a string, or the text parts of a list; attachments have their own cap)."""
    if isinstance(content, str):
        return len(content) if content.isascii() else len(content.encode("utf-8", "surrogatepass"))
    if isinstance(content, list):
        return sum(_text_bytes(p.get("text")) for p in content if isinstance(p, dict))
    return 0


def get_client(engine: Engine | None = None) -> ModelClient:
    """The process-wide client for `engine` (default: the configured database)."""
    engine = engine or get_engine()
    key = str(engine.url)
    with _clients_lock:
        client = _clients.get(key)
        if client is None or client.engine is not engine:
            if client is not None:
                client.close()
            client = _clients[key] = ModelClient(engine)
        return client


def reset_clients() -> None:
    """Close every process-wide client (tests, forked workers)."""
    with _clients_lock:
        for c in _clients.values():
            c.close()
        _clients.clear()


def invalidate_endpoint(name: str | None = None) -> None:
    """Make every process-wide client re-read an endpoint's config on its next call (after an edit)."""
    with _clients_lock:
        clients = list(_clients.values())
    for c in clients:
        c.invalidate(name)


def generate_sync(**kw: Any) -> RunResult:
    """Shortcut: `get_client().generate_sync(...)`."""
    return get_client().generate_sync(**kw)


_ = WorkbenchError  # re-exported for callers that catch input errors from prepare()


def health(name: str, engine: Engine | None = None, timeout_s: float = 10.0) -> dict:
    """Check an endpoint: reachable, key present, its models and the latency of the check."""
    return get_client(engine).health(name, timeout_s=timeout_s)
