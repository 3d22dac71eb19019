"""The providers' keep-alive HTTP/1.1 connections (`lib.client.providers.http1`) against loopback servers that
misbehave on purpose: reuse, stale and closed connections, framing (length, chunked, end of connection), caps,
encodings, malformed replies, cancellation, the connection limit and TLS."""

from __future__ import annotations

import asyncio
import datetime
import gzip
import ipaddress
import ssl
import zlib

import httpx
import pytest

from lib.client.providers.http1 import MAX_HEADERS, BodyTooLarge, Http1Pool

CAP = 10_000
OK_BODY = b'{"ok": true}'


class RawServer:
    """A loopback TCP server; `reply(request_bytes, n)` gives the bytes to send (None: close without replying)."""

    def __init__(self, reply, tls: ssl.SSLContext | None = None) -> None:
        self.reply, self.tls = reply, tls
        self.requests: list[bytes] = []
        self.connections = 0
        self.open_now = self.max_open = 0
        self.server: asyncio.Server | None = None
        self.writers: list[asyncio.StreamWriter] = []

    async def __aenter__(self) -> RawServer:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0, ssl=self.tls)
        return self

    async def __aexit__(self, *exc) -> None:
        for w in self.writers:
            w.close()
        self.server.close()
        await asyncio.wait_for(self.server.wait_closed(), 5)

    @property
    def url(self) -> str:
        port = self.server.sockets[0].getsockname()[1]
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{port}/v1/chat/completions?x=1"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.open_now += 1
        self.max_open = max(self.max_open, self.open_now)
        self.writers.append(writer)
        try:
            while True:
                try:
                    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
                except (asyncio.IncompleteReadError, ConnectionError, TimeoutError):
                    return
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                body = await reader.readexactly(length) if length else b""
                self.requests.append(head + body)
                out = self.reply(head + body, len(self.requests))
                if asyncio.iscoroutine(out):
                    out = await out
                if out is None:
                    return
                writer.write(bytes(out))
                await writer.drain()
                if isinstance(out, Cut) or b"connection: close" in out.lower():
                    return
        finally:
            self.open_now -= 1
            writer.close()


class Cut(bytes):
    """Bytes the server sends before it closes the connection."""


def response(body: bytes = OK_BODY, *, status: int = 200, headers: str = "") -> bytes:
    return (f"HTTP/1.1 {status} OK\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n{headers}"
            "\r\n").encode() + body


def chunked(parts: list[bytes], headers: str = "") -> bytes:
    out = f"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n{headers}\r\n".encode()
    for p in parts:
        out += f"{len(p):x}\r\n".encode() + p + b"\r\n"
    return out + b"0\r\n\r\n"


async def get(pool: Http1Pool, url: str, body: bytes | None = b"{}", headers: dict | None = None, cap: int = CAP):
    return await asyncio.wait_for(pool.request("POST", url, body, headers or {"authorization": "Bearer k"}, cap), 10)


async def test_one_connection_carries_many_requests_and_the_request_is_what_was_asked():
    async with RawServer(lambda req, n: response(b'{"n": %d}' % n)) as srv:
        pool = Http1Pool(4)
        for i in range(1, 6):
            status, headers, body = await get(pool, srv.url, b'{"q": 1}')
            assert (status, body, headers["content-type"]) == (200, b'{"n": %d}' % i, "application/json")
        assert srv.connections == 1
        first = srv.requests[0]
        assert first.startswith(b"POST /v1/chat/completions?x=1 HTTP/1.1\r\n")
        port = srv.url.split(":")[2].split("/")[0]
        assert f"host: 127.0.0.1:{port}\r\n".encode() in first and b"authorization: Bearer k\r\n" in first
        assert b"content-length: 8\r\n" in first and first.endswith(b'\r\n\r\n{"q": 1}')
        await pool.aclose()


async def test_connection_close_and_a_server_that_drops_idle_connections_cost_a_new_connection_not_an_error():
    async with RawServer(lambda req, n: response(headers="connection: close\r\n")) as srv:
        pool = Http1Pool(4)
        for _ in range(3):
            assert (await get(pool, srv.url))[0] == 200
        assert srv.connections == 3

    async with RawServer(lambda req, n: response()) as srv:
        pool = Http1Pool(4)
        assert (await get(pool, srv.url))[0] == 200
        for w in srv.writers:  # the server closes the idle keep-alive connection
            w.close()
        await asyncio.sleep(0.2)
        assert (await get(pool, srv.url))[0] == 200
        assert srv.connections == 2


async def test_chunked_and_end_of_connection_bodies_are_read_whole():
    async with RawServer(lambda req, n: chunked([b'{"a": ', b'"x"', b"}"])) as srv:
        assert (await get(Http1Pool(2), srv.url))[2] == b'{"a": "x"}'
    eof = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n" + OK_BODY
    async with RawServer(lambda req, n: eof) as srv:
        pool = Http1Pool(2)
        assert (await get(pool, srv.url))[2] == OK_BODY
        assert (await get(pool, srv.url))[2] == OK_BODY  # not reused: a fresh connection
        assert srv.connections == 2


async def test_gzip_and_deflate_bodies_are_decoded():
    big = b'{"text": "' + b"a" * 5000 + b'"}'
    async with RawServer(lambda req, n: response(gzip.compress(big), headers="content-encoding: gzip\r\n")) as srv:
        assert (await get(Http1Pool(2), srv.url))[2] == big
    async with RawServer(lambda req, n: response(zlib.compress(big), headers="content-encoding: deflate\r\n")) as srv:
        assert (await get(Http1Pool(2), srv.url))[2] == big
    assert b"accept-encoding: gzip, deflate\r\n" in srv.requests[0]


@pytest.mark.parametrize("reply", [
    response(b"x" * (CAP + 1)),  # announced over the cap
    chunked([b"x" * 4000] * 3),  # received over the cap
    response(gzip.compress(b"x" * (CAP * 50)), headers="content-encoding: gzip\r\n"),  # a small bomb
], ids=["announced", "chunked", "gzip-bomb"])
async def test_a_body_over_the_cap_is_refused_with_its_first_bytes(reply):
    async with RawServer(lambda req, n: reply) as srv:
        pool = Http1Pool(2)
        with pytest.raises(BodyTooLarge) as info:
            await get(pool, srv.url)
        assert info.value.status == 200 and info.value.first.startswith(b"x") and len(info.value.first) <= 64 * 1024
        assert (await get(pool, srv.url, cap=CAP * 100))[0] == 200  # the pool still works (a new connection)


@pytest.mark.parametrize("reply, message", [
    (b"HTTP/1.1 200 OK\r\n" + b"".join(b"x-h%d: v\r\n" % i for i in range(MAX_HEADERS + 1)) + b"\r\n",
     "headers too large"),
    (b"NOT HTTP AT ALL\r\n\r\n", "malformed HTTP response"),
    (Cut(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n" + b"{" * 10), "before the response was complete"),
    (None, "without sending a response"),
    (response(b"zz", headers="content-encoding: br\r\n"), "unsupported content-encoding"),
], ids=["headers", "garbage", "cut-body", "no-reply", "encoding"])
async def test_malformed_replies_fail_clearly_and_close_the_connection(reply, message):
    async def behave(req, n):
        return reply if n == 1 else response()

    async with RawServer(behave) as srv:
        pool = Http1Pool(2)
        with pytest.raises(httpx.HTTPError, match=message):
            await get(pool, srv.url)
        assert (await get(pool, srv.url)) == (200, {"content-type": "application/json", "content-length": "12"},
                                              OK_BODY)
        assert srv.connections == 2


async def test_a_connection_refused_is_a_connect_error_naming_the_reason():
    srv = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = srv.sockets[0].getsockname()[1]
    srv.close()
    await srv.wait_closed()
    with pytest.raises(httpx.ConnectError, match="(?i)refused"):
        await get(Http1Pool(2), f"http://127.0.0.1:{port}/v1")


async def test_line_breaks_in_a_header_are_refused_before_anything_is_sent():
    async with RawServer(lambda req, n: response()) as srv:
        with pytest.raises(httpx.LocalProtocolError, match="line breaks"):
            await get(Http1Pool(2), srv.url, headers={"x-note": "a\r\nx-injected: 1"})
        assert srv.requests == []


async def test_a_cancelled_request_never_hands_its_late_reply_to_the_next_one():
    async def behave(req, n):
        if n == 1:
            await asyncio.sleep(0.5)
            return response(b'{"late": true}')
        return response(b'{"n": %d}' % n)

    async with RawServer(behave) as srv:
        pool = Http1Pool(2)
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(pool.request("POST", srv.url, b"{}", {}, CAP), 0.1)
        assert (await get(pool, srv.url))[2] == b'{"n": 2}'
        await asyncio.sleep(0.6)  # the late reply arrives on the closed connection, not on the live one
        assert (await get(pool, srv.url))[2] == b'{"n": 3}'


async def test_at_most_limit_connections_are_open_and_every_request_completes():
    async def behave(req, n):
        await asyncio.sleep(0.05)
        return response()

    async with RawServer(behave) as srv:
        pool = Http1Pool(2)
        results = await asyncio.gather(*[get(pool, srv.url) for _ in range(8)])
        assert [r[0] for r in results] == [200] * 8
        assert srv.max_open <= 2 and srv.connections <= 2


def test_urls_with_credentials_or_other_schemes_are_not_taken():
    pool = Http1Pool(2)
    assert pool.accepts("http://127.0.0.1:9/v1") and pool.accepts("https://api.example.com/v1")
    assert not pool.accepts("http://user:pw@127.0.0.1:9/v1")
    assert not pool.accepts("unix:///tmp/sock") and not pool.accepts("http://127.0.0.1:99999/")


async def test_https_with_a_trusted_certificate_works_and_an_untrusted_one_is_refused(tmp_path):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)

    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now - datetime.timedelta(minutes=1))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(cert_file, key_file)
    trusting = ssl.create_default_context(cafile=str(cert_file))

    async with RawServer(lambda req, n: response(), tls=server_ctx) as srv:
        assert srv.url.startswith("https://")
        assert (await get(Http1Pool(2, tls=trusting), srv.url))[2] == OK_BODY
        with pytest.raises(httpx.ConnectError, match="TLS"):
            await get(Http1Pool(2), srv.url)  # the system's CAs do not know this certificate
