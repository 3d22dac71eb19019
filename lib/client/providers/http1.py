"""Keep-alive HTTP/1.1 connections for the providers' non-streamed requests (the hot path).

A request is written whole and its response read whole, parsed by httptools (llhttp, the
parser uvicorn serves with).  At 0 ms server latency aiohttp's `ClientSession` spent about
90 us of Python per request on this machine and a connection here about 30
(`bench/client_throughput.py`), which is most of what separated the client from a bare
aiohttp loop.  Streams (SSE) stay on aiohttp, through httpx.

What a server sends is untrusted: at most MAX_HEADERS headers and MAX_HEADER_BYTES of them,
a body no larger than the caller's cap (announced or received, and after decompression);
anything malformed closes the connection.  Failures raise httpx's exception types (ConnectError,
RemoteProtocolError, ...) so the providers map them as they map aiohttp's.  No timer of its
own: every caller bounds the wait (a call's deadline); a cancelled request closes its connection.
No proxies and no credentials in URLs (the caller sends such URLs elsewhere: `accepts`).
"""

from __future__ import annotations

import asyncio
import os
import socket
import ssl
import zlib
from collections import deque
from typing import Any
from urllib.parse import urlsplit

import httptools
import httpx

__all__ = ["MAX_HEADER_BYTES", "MAX_HEADERS", "BodyTooLarge", "Http1Pool"]

MAX_HEADERS = 256
MAX_HEADER_BYTES = 64 * 1024
FIRST_BYTES = 64 * 1024  # kept of a body that is too large (the error shows its start)
_TARGETS_MAX = 256
_DEFAULTS = (("accept", "*/*"), ("accept-encoding", "gzip, deflate"))
_ssl_context: ssl.SSLContext | None = None


class BodyTooLarge(Exception):  # noqa: N818 - a condition the caller turns into its ProtocolError
    """The response body is over the cap: the status and the body's first bytes."""

    def __init__(self, status: int, first: bytes) -> None:
        super().__init__(f"response body over the cap (HTTP {status})")
        self.status, self.first = status, first


def _tls() -> ssl.SSLContext:
    global _ssl_context
    if _ssl_context is None:
        ctx = ssl.create_default_context()  # the system's CAs (and SSL_CERT_FILE), hostname checked
        ctx.set_alpn_protocols(["http/1.1"])
        _ssl_context = ctx
    return _ssl_context


def _reason(exc: OSError) -> str:
    """Why a connection failed, in the system's words ('Connection refused', 'Name or service not known')."""
    if isinstance(exc, socket.gaierror) or not exc.errno:
        return exc.strerror or type(exc).__name__
    return os.strerror(exc.errno)


class _Target:
    """Where a URL's requests go: host, port, TLS, the Host header and the request target."""

    __slots__ = ("host", "host_header", "key", "path", "tls")

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.tls = parts.scheme == "https"
        self.host = parts.hostname or ""
        port = parts.port or (443 if self.tls else 80)
        bracketed = f"[{self.host}]" if ":" in self.host else self.host
        default = port == (443 if self.tls else 80)
        self.host_header = bracketed if default else f"{bracketed}:{port}"
        self.path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self.key = (self.tls, self.host, port)

    @property
    def port(self) -> int:
        return self.key[2]

    def head(self, method: str, headers: dict[str, str], body: bytes | None) -> bytes:
        lines = [f"{method} {self.path} HTTP/1.1\r\nhost: {self.host_header}\r\n"]
        for k, v in _DEFAULTS:
            if k not in headers:
                lines.append(f"{k}: {v}\r\n")
        for k, v in headers.items():
            if "\r" in k or "\n" in k or ":" in k or "\r" in v or "\n" in v or "\x00" in v:
                raise httpx.LocalProtocolError(f"header {k[:40]!r}: line breaks are not allowed in a header")
            lines.append(f"{k}: {v}\r\n")
        lines.append(f"content-length: {len(body)}\r\n\r\n" if body is not None else "\r\n")
        try:
            return "".join(lines).encode("latin-1")
        except UnicodeEncodeError:
            raise httpx.LocalProtocolError("a header holds characters HTTP cannot carry (not Latin-1)") from None


class _Conn(asyncio.Protocol):
    """One connection: sends a request, parses its response, tells whether it can be reused."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.waiter: asyncio.Future | None = None
        self.lost = False
        self.keep = False
        self.cap = 0
        self.error: BaseException | None = None
        self._clear()

    def _clear(self) -> None:
        self.headers: dict[str, str] = {}
        self.body: list[bytes] = []
        self.size = self.header_bytes = self.nheaders = 0
        self.begun = self.headers_done = self.announced_large = False
        self.error = None

    def usable(self) -> bool:
        return not self.lost and self.transport is not None and not self.transport.is_closing()

    def exchange(self, data: bytes, cap: int) -> asyncio.Future:
        """Write a request; the future resolves to (status, headers, body)."""
        if not self.usable():
            raise httpx.RemoteProtocolError("server closed the connection")
        self._clear()
        self.cap, self.keep = cap, False
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(data)  # type: ignore[union-attr]
        return self.waiter

    def close(self) -> None:
        self.lost = True
        if self.transport is not None:
            self.transport.close()

    # -- asyncio.Protocol ---------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        w = self.waiter
        if w is None or w.done():  # bytes nobody asked for: the connection's state is unknown
            self.close()
            return
        try:
            self.parser.feed_data(data)
        except Exception as exc:  # noqa: BLE001 - a parse error or a cap a callback hit: the connection is done
            self._fail(self.error or httpx.RemoteProtocolError(f"malformed HTTP response ({type(exc).__name__})"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        w = self.waiter
        if w is None or w.done():
            return
        te = self.headers.get("transfer-encoding", "")
        if self.headers_done and "content-length" not in self.headers and "chunked" not in te.lower():
            try:
                self._complete()  # a body delimited by the end of the connection
            except Exception:  # noqa: BLE001 - a cap or a bad encoding: the waiter gets the error
                self._fail(self.error or httpx.RemoteProtocolError("malformed response body"))
            return
        w.set_exception(httpx.RemoteProtocolError(
            "server disconnected before the response was complete" if self.begun
            else "server disconnected without sending a response"))

    def _fail(self, error: BaseException) -> None:
        self.close()
        w = self.waiter
        if w is not None and not w.done():
            w.set_exception(error)

    def _abort(self, error: BaseException) -> None:
        self.error = error
        raise error

    # -- httptools callbacks --------------------------------------------------------------------------
    def on_message_begin(self) -> None:
        if self.waiter is None or self.waiter.done():  # a second response to one request
            self._abort(httpx.RemoteProtocolError("unexpected extra response"))
        self.begun = True  # the state is fresh: `exchange` made new objects for this response

    def on_header(self, name: bytes, value: bytes) -> None:
        self.nheaders += 1
        self.header_bytes += len(name) + len(value)
        if self.nheaders > MAX_HEADERS or self.header_bytes > MAX_HEADER_BYTES:
            self._abort(httpx.RemoteProtocolError(
                f"response headers too large (over {MAX_HEADERS} headers or {MAX_HEADER_BYTES:,} bytes)"))
        k, v = name.decode("latin-1").lower(), value.decode("latin-1")
        old = self.headers.get(k)
        self.headers[k] = v if old is None else f"{old}, {v}"

    def on_headers_complete(self) -> None:
        self.headers_done = True
        n = self.headers.get("content-length", "")
        self.announced_large = n.isdigit() and int(n) > self.cap

    def on_body(self, chunk: bytes) -> None:
        self.body.append(chunk)
        self.size += len(chunk)
        if self.size > self.cap or (self.announced_large and self.size >= FIRST_BYTES):
            self._abort(BodyTooLarge(self.parser.get_status_code(), b"".join(self.body)[:FIRST_BYTES]))

    def on_message_complete(self) -> None:
        self.keep = self.parser.should_keep_alive()
        self._complete()

    def _complete(self) -> None:
        status = self.parser.get_status_code()
        body = b"".join(self.body)
        enc = self.headers.get("content-encoding", "").strip().lower()
        if enc and enc != "identity":
            body = self._decoded(enc, body, status)
        w = self.waiter
        if w is not None and not w.done():
            w.set_result((status, self.headers, body))

    def _decoded(self, enc: str, body: bytes, status: int) -> bytes:
        if enc not in ("gzip", "x-gzip", "deflate"):
            self._abort(httpx.DecodingError(f"unsupported content-encoding {enc[:40]!r}"))
        if enc != "deflate":
            wbits = 16 + zlib.MAX_WBITS  # gzip
        else:  # zlib-wrapped, as the standard says, or raw deflate, as some servers send
            wbits = zlib.MAX_WBITS if body[:1] == b"\x78" else -zlib.MAX_WBITS
        d = zlib.decompressobj(wbits)
        try:
            out = d.decompress(body, self.cap + 1)
        except zlib.error:
            self._abort(httpx.DecodingError(f"{enc} body does not decompress"))
        if len(out) > self.cap or d.unconsumed_tail:
            self._abort(BodyTooLarge(status, out[:FIRST_BYTES]))
        return out


class Http1Pool:
    """Keep-alive connections per (scheme, host, port), at most `limit` open at once; runs on one loop."""

    def __init__(self, limit: int, *, tls: ssl.SSLContext | None = None) -> None:
        self.limit = max(1, int(limit))
        self._tls = tls  # None: the system's CAs
        self._idle: dict[Any, deque[_Conn]] = {}
        self._open = 0
        self._waiters: deque[asyncio.Future] = deque()
        self._targets: dict[str, _Target | None] = {}
        self._closed = False

    def accepts(self, url: str) -> bool:
        """Whether requests to `url` can go here: http(s) with a host and no credentials in the URL."""
        return self._target(url) is not None

    def _target(self, url: str) -> _Target | None:
        try:
            return self._targets[url]
        except KeyError:
            pass
        if len(self._targets) >= _TARGETS_MAX:
            self._targets.clear()
        try:
            parts = urlsplit(url)
            ok = parts.scheme in ("http", "https") and bool(parts.hostname) and not (parts.username or parts.password)
            t = _Target(url) if ok else None
        except ValueError:  # a bad port, say
            t = None
        self._targets[url] = t
        return t

    async def request(self, method: str, url: str, body: bytes | None, headers: dict[str, str],
                      cap: int) -> tuple[int, dict[str, str], bytes]:
        """(status, headers with lower-case names, body); raises httpx errors or BodyTooLarge."""
        t = self._target(url)
        if t is None:
            raise httpx.UnsupportedProtocol(f"not an http(s) URL this pool serves: {url[:80]!r}")
        data = t.head(method, headers, body)
        if body:
            data += body
        conn = await self._acquire(t)
        reuse = False
        try:
            try:
                result = await conn.exchange(data, cap)
            except (OSError, RuntimeError) as exc:  # a write on a transport that just closed
                raise httpx.WriteError(f"connection lost while sending ({type(exc).__name__})") from exc
            reuse = conn.keep and conn.usable()
            return result
        finally:
            self._release(t, conn, reuse)

    async def _acquire(self, t: _Target) -> _Conn:
        while True:
            idle = self._idle.get(t.key)
            while idle:
                c = idle.pop()
                if c.usable():
                    return c
                self._open -= 1
            if self._open < self.limit or self._close_an_idle():
                break
            fut = asyncio.get_running_loop().create_future()
            self._waiters.append(fut)
            try:
                await fut
            except BaseException:
                if fut.done() and not fut.cancelled():
                    self._wake()  # woken, then cancelled: pass the turn on
                elif fut in self._waiters:
                    self._waiters.remove(fut)
                raise
        self._open += 1
        try:
            return await self._connect(t)
        except BaseException:
            self._open -= 1
            self._wake()
            raise

    def _close_an_idle(self) -> bool:
        """Make room at the limit: close a connection idle for another host (or a dead one)."""
        for q in self._idle.values():
            if q:
                q.popleft().close()
                self._open -= 1
                return True
        return False

    async def _connect(self, t: _Target) -> _Conn:
        loop = asyncio.get_running_loop()
        try:
            _, conn = await loop.create_connection(_Conn, t.host, t.port, ssl=(self._tls or _tls()) if t.tls else None,
                                                   server_hostname=t.host if t.tls else None)
        except ssl.SSLError as exc:
            raise httpx.ConnectError(f"TLS handshake failed ({exc.reason or type(exc).__name__})") from exc
        except OSError as exc:
            raise httpx.ConnectError(_reason(exc)) from exc
        return conn

    def _release(self, t: _Target, conn: _Conn, reuse: bool) -> None:
        if reuse and not self._closed:
            self._idle.setdefault(t.key, deque()).append(conn)
        else:
            conn.close()
            self._open -= 1
        self._wake()

    def _wake(self) -> None:
        while self._waiters:
            fut = self._waiters.popleft()
            if not fut.done():
                fut.set_result(None)
                return

    async def aclose(self) -> None:
        """Close every idle connection; those in use close when their request ends."""
        self._closed = True
        for q in self._idle.values():
            while q:
                q.pop().close()
                self._open -= 1
        self._idle.clear()
