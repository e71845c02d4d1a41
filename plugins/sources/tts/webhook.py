"""A small HTTP/1.1 server and client on asyncio streams, for The Things Stack webhooks.

The server takes ``POST`` requests with a ``Content-Length`` body (what The Things
Stack sends), keeps connections alive, and answers each request with what the
handler returns.  It is deliberately small: no chunked bodies (answered 411/501), no
TLS (put it behind the reverse proxy that terminates HTTPS), bounded header and body
sizes.  The client posts one JSON body (webhook downlinks to The Things Stack's push
URL) over HTTP or HTTPS.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from urllib.parse import urlsplit

MAX_HEADERS = 100
MAX_BODY = 1 << 20
IDLE_TIMEOUT = 60.0

REASONS = {200: "OK", 202: "Accepted", 204: "No Content", 400: "Bad Request",
           401: "Unauthorized", 404: "Not Found", 405: "Method Not Allowed",
           411: "Length Required", 413: "Content Too Large",
           431: "Request Header Fields Too Large", 500: "Internal Server Error",
           501: "Not Implemented", 503: "Service Unavailable"}


def parse_listen(text, where="webhook"):
    """``host:port`` (``[::1]:8090``, ``:8090`` for every interface) -> (host, port)."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"{where}: {text!r} is not host:port (e.g. 127.0.0.1:8090)")
    host = host.strip("[]") or None
    return host, int(port)


class Request:
    __slots__ = ("method", "target", "headers", "body")

    def __init__(self, method, target, headers, body):
        self.method, self.target, self.headers, self.body = method, target, headers, body


class HttpServer:
    """``handler(request) -> (status, text)`` (a coroutine function) behind HTTP/1.1."""

    def __init__(self, handler, host, port, label):
        self.handler, self.host, self.port, self.label = handler, host, port, label
        self.server = None
        self.connections = set()
        self.requests = 0

    async def start(self):
        self.server = await asyncio.start_server(self._connection, self.host, self.port)
        self.port = self.server.sockets[0].getsockname()[1]

    async def close(self):
        if self.server is None:
            return
        self.server.close()
        for task in list(self.connections):
            task.cancel()
        await asyncio.gather(*self.connections, return_exceptions=True)
        await self.server.wait_closed()

    async def _connection(self, reader, writer):
        task = asyncio.current_task()
        self.connections.add(task)
        try:
            while await self._one(reader, writer):
                pass
        except (asyncio.IncompleteReadError, ConnectionError, TimeoutError):
            pass
        finally:
            self.connections.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _one(self, reader, writer):
        """Serve one request; False when the connection is to be closed."""
        try:
            line = await asyncio.wait_for(reader.readline(), IDLE_TIMEOUT)
        except ValueError:  # a line over the stream limit
            return await self._reply(writer, 431, "request line too long", close=True)
        if not line:
            return False
        try:
            method, target, version = line.decode("latin-1").split()
        except ValueError:
            return await self._reply(writer, 400, "malformed request line", close=True)
        headers = {}
        while True:
            try:
                h = await asyncio.wait_for(reader.readline(), IDLE_TIMEOUT)
            except ValueError:
                return await self._reply(writer, 431, "header line too long", close=True)
            if h in (b"\r\n", b"\n"):
                break
            if not h:
                return False
            if len(headers) >= MAX_HEADERS:
                return await self._reply(writer, 431, "too many header lines", close=True)
            name, sep, value = h.decode("latin-1").partition(":")
            if not sep:
                return await self._reply(writer, 400, "malformed header line", close=True)
            name, value = name.strip().lower(), value.strip()
            if name == "content-length" and headers.get(name, value) != value:
                # RFC 9112 6.3: which length frames the body is unknown; the same value
                # repeated is one length
                return await self._reply(writer, 400, "conflicting Content-Length headers",
                                         close=True)
            headers[name] = value
        keep = (version == "HTTP/1.1" and headers.get("connection", "").lower() != "close")
        if "transfer-encoding" in headers:
            return await self._reply(writer, 501, "chunked bodies are not supported; send "
                                                  "Content-Length", close=True)
        length = headers.get("content-length")
        if length is None:
            if method == "POST":
                return await self._reply(writer, 411, "Content-Length required", close=True)
            length = "0"
        # isdigit() alone takes '\xb2' (superscript two), which int() refuses
        if not (length.isascii() and length.isdigit()):
            return await self._reply(writer, 400, "bad Content-Length", close=True)
        if int(length) > MAX_BODY:
            return await self._reply(writer, 413, f"body over {MAX_BODY} bytes", close=True)
        body = await asyncio.wait_for(reader.readexactly(int(length)), IDLE_TIMEOUT)
        self.requests += 1
        try:
            status, text = await self.handler(Request(method, target, headers, body))
        except Exception as exc:  # noqa: BLE001 - answer, and let the handler's owner count it
            status, text = 500, f"{type(exc).__name__}"
        return await self._reply(writer, status, text, close=not keep)

    async def _reply(self, writer, status, text, close=False):
        body = text.encode() if text else b""
        head = [f"HTTP/1.1 {status} {REASONS.get(status, 'Status')}"]
        if status == 405:
            head.append("Allow: POST")
        if status != 204:
            head.append("Content-Type: text/plain; charset=utf-8")
            head.append(f"Content-Length: {len(body)}")
        else:
            body = b""
        if close:
            head.append("Connection: close")
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)
        await writer.drain()
        return not close


async def post_json(url, body, headers=(), timeout=10.0):
    """POST ``body`` (bytes) to ``url``; the HTTP status.  Header values stay unlogged."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{parts.scheme}://{parts.hostname} is not an http(s) URL")
    tls = parts.scheme == "https"
    port = parts.port or (443 if tls else 80)
    context = ssl.create_default_context() if tls else None
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection(parts.hostname, port, ssl=context,
                                server_hostname=parts.hostname if tls else None), timeout)
    try:
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        lines = [f"POST {path} HTTP/1.1", f"Host: {parts.netloc.rpartition('@')[2]}",
                 "Content-Type: application/json", f"Content-Length: {len(body)}",
                 "Connection: close", *(f"{k}: {v}" for k, v in headers)]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), timeout)
        try:
            return int(status_line.split()[1])
        except (IndexError, ValueError):
            raise ConnectionError(f"{parts.hostname}:{port} sent no HTTP status line") from None
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()
