"""Helpers for the ingest tests: run a city in the test's event loop, talk UDP and CoAP.

Every wait is bounded: a source that never gets ready or a reply that never comes
fails the test within seconds instead of hanging it.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time

from hromada.city import load_city
from hromada.runtime import Kernel

TIMEOUT = 5.0


def rows(db, sql, *args):
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return conn.execute(sql, args).fetchall()


async def eventually(predicate, what, timeout=TIMEOUT):
    """Wait until ``predicate()`` is true (polling), or fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


class RunningCity:
    """A city running in the current loop: ``source(name)``, ``stop() -> summary``."""

    def __init__(self, path):
        self.city = load_city(path)
        self.kernel = Kernel(self.city)
        self.task = None

    async def start(self):
        self.task = asyncio.create_task(self.kernel.run())
        names = set(self.city.sources)
        await eventually(lambda: set(self.kernel.sources) == names or self.task.done(),
                         "the sources to be built")
        if self.task.done():
            self.task.result()
        for src, _ctx in self.kernel.sources.values():
            ready = getattr(src, "ready", None)
            if ready is not None:
                await asyncio.wait_for(ready.wait(), TIMEOUT)
        return self

    def source(self, name):
        return self.kernel.sources[name][0]

    async def stop(self):
        self.kernel.stop()
        return await asyncio.wait_for(self.task, 15)


class _UdpClient(asyncio.DatagramProtocol):
    def __init__(self):
        self.replies = asyncio.Queue()

    def datagram_received(self, data, addr):
        self.replies.put_nowait(data)


class UdpClient:
    """A device's UDP socket: ``send(data)``, ``await reply()``, ``port``."""

    def __init__(self, transport, proto, server):
        self.transport = transport
        self.proto = proto
        self.server = server
        self.port = transport.get_extra_info("sockname")[1]

    @classmethod
    async def open(cls, server=None):
        loop = asyncio.get_running_loop()
        transport, proto = await loop.create_datagram_endpoint(
            _UdpClient, local_addr=("127.0.0.1", 0))
        return cls(transport, proto, server)

    def send(self, data, server=None):
        self.transport.sendto(data, server or self.server)

    async def reply(self, timeout=TIMEOUT):
        return await asyncio.wait_for(self.proto.replies.get(), timeout)

    async def no_reply(self, wait=0.2):
        """Assert that nothing comes back within ``wait`` seconds."""
        try:
            data = await asyncio.wait_for(self.proto.replies.get(), wait)
        except TimeoutError:
            return
        raise AssertionError(f"unexpected reply {data.hex()}")

    def close(self):
        self.transport.close()


async def coap_post(port, path, payload, content_format=None, method="POST"):
    """(code string, payload) of one CoAP request to 127.0.0.1:port (aiocoap client)."""
    import aiocoap

    ctx = await aiocoap.Context.create_client_context()
    try:
        kw = {} if content_format is None else {"content_format": content_format}
        msg = aiocoap.Message(code=getattr(aiocoap, method), payload=payload,
                              uri=f"coap://127.0.0.1:{port}{path}", **kw)
        resp = await asyncio.wait_for(ctx.request(msg).response, TIMEOUT)
        return str(resp.code), resp.payload
    finally:
        await ctx.shutdown()
