"""Shared pieces of the network-server tests: cities, a kernel in a task, MQTT helpers.

Every test uses its own application id / topic root (a uuid), so tests never see each
other's messages on the shared Mosquitto, and removes any persistent session it made.
"""

from __future__ import annotations

import asyncio
import base64
import json
import socket
import sqlite3
import textwrap
import uuid

import aiomqtt

from hromada.city import load_city
from hromada.runtime import Kernel

BROKER = ("127.0.0.1", 1883)
PG_DSN = "host=127.0.0.1 port=5432 dbname=test user=postgres"

# Two LPP climate sensors the city knows (ids as ChirpStack writes DevEUIs).
DEV_A = "70b3d57ed0000001"
DEV_B = "70b3d57ed0000002"
DEV_UNKNOWN = "70b3d57ed00000ff"

# LPP: channel 1 temperature 21.5 Cel, channel 2 humidity 40 %RH
LPP_A = bytes.fromhex("016700d7026850")
# LPP: channel 1 temperature -4.1 Cel
LPP_B = bytes.fromhex("0167ffd7")


def uid():
    return uuid.uuid4().hex[:12]


def run(coro, timeout=30):
    """Run a test coroutine with an upper bound on its time."""
    return asyncio.run(asyncio.wait_for(coro, timeout))


def write_city(tmp_path, body, devices=((DEV_A, "cayenne/lpp"), (DEV_B, "cayenne/lpp")),
               plugin=None, name="Netville"):
    """city.toml with the given source/service/sink tables; returns its path."""
    devs = "".join(f'\n[[devices]]\nid = "{d[0]}"\nmodel = "{d[1]}"\n'
                   + "".join(f"{line}\n" for line in d[2:]) for d in devices)
    plugins = ""
    if plugin is not None:
        (tmp_path / "localplug.py").write_text(textwrap.dedent(plugin))
        plugins = '[plugins]\nmodules = ["localplug.py"]\n'
    text = (f'[city]\nname = "{name}"\n\n[kernel]\nmax_latency = 0.01\n\n{plugins}\n'
            f'{textwrap.dedent(body)}\n{devs}')
    path = tmp_path / "city.toml"
    path.write_text(text)
    return path


class CityRun:
    """A city's kernel running in a task of the current loop."""

    def __init__(self, path):
        self.city = load_city(path)
        self.kernel = Kernel(self.city)
        self.task = None

    async def __aenter__(self):
        self.task = asyncio.create_task(self.kernel.run())
        return self

    async def __aexit__(self, *exc):
        if not self.task.done():
            self.kernel.stop()
        await asyncio.wait_for(asyncio.shield(self.task), 15)

    async def source(self, name, ready=True, timeout=5):
        """The running source object; waits until it is connected when ``ready``."""
        async def get():
            while name not in self.kernel.sources:
                if self.task.done():
                    self.task.result()
                    raise AssertionError(f"city ended before source {name} started")
                await asyncio.sleep(0.01)
            src = self.kernel.sources[name][0]
            if ready:
                while getattr(src, "connected", None) is None:
                    await asyncio.sleep(0.01)
                await src.connected.wait()
            return src

        return await asyncio.wait_for(get(), timeout)

    async def until(self, predicate, timeout=5, what="condition"):
        async def poll():
            while not predicate(self.kernel):
                if self.task.done():
                    self.task.result()
                    raise AssertionError(f"city ended before {what}")
                await asyncio.sleep(0.01)

        try:
            await asyncio.wait_for(poll(), timeout)
        except TimeoutError:
            k = self.kernel
            raise AssertionError(f"timed out waiting for {what}: frames={k.frames} "
                                 f"readings={k.readings} errors={dict(k.errors)}") from None

    async def stop(self):
        self.kernel.stop()
        return await asyncio.wait_for(asyncio.shield(self.task), 15)


class Proxy:
    """A TCP proxy to Mosquitto that the test can cut, like a broker restart."""

    def __init__(self):
        self.port = 0
        self.server = None
        self.writers = set()

    async def start(self):
        self.server = await asyncio.start_server(self._conn, "127.0.0.1", self.port)
        self.port = self.server.sockets[0].getsockname()[1]

    async def _conn(self, reader, writer):
        up_reader, up_writer = await asyncio.open_connection(*BROKER)
        self.writers |= {writer, up_writer}

        async def pipe(r, w):
            try:
                while data := await r.read(65536):
                    w.write(data)
                    await w.drain()
            except (ConnectionError, asyncio.CancelledError):
                pass
            finally:
                w.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    async def cut(self):
        self.server.close()
        for w in self.writers:
            w.transport.abort()
        self.writers.clear()
        await self.server.wait_closed()


def client(**kw):
    return aiomqtt.Client(*BROKER, **kw)


async def publish_all(messages, qos=1):
    """Publish [(topic, payload)] with a fresh client, each acknowledged (QoS 1)."""
    async with client() as c:
        for topic, payload in messages:
            if not isinstance(payload, bytes | str):
                payload = json.dumps(payload)
            await c.publish(topic, payload, qos=qos)


async def forget_session(client_id):
    """Remove a persistent session from the broker (connect clean, disconnect)."""
    async with client(identifier=client_id, clean_session=True):
        pass


class Collector:
    """Subscribes to topics and keeps what arrives (for downlinks and the mqtt sink)."""

    def __init__(self, *topics):
        self.topics = topics
        self.messages = []
        self._client = None
        self._task = None

    async def __aenter__(self):
        self._client = client()
        await self._client.__aenter__()
        for t in self.topics:
            await self._client.subscribe(t, qos=1)
        self._task = asyncio.create_task(self._read())
        return self

    async def _read(self):
        async for m in self._client.messages:
            self.messages.append((m.topic.value, m.payload))

    async def wait(self, n, timeout=5):
        async def poll():
            while len(self.messages) < n:
                await asyncio.sleep(0.01)

        try:
            await asyncio.wait_for(poll(), timeout)
        except TimeoutError:
            raise AssertionError(f"expected {n} messages on {self.topics}, got "
                                 f"{len(self.messages)}") from None
        return self.messages

    async def __aexit__(self, *exc):
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        await self._client.__aexit__(None, None, None)


def b64(data):
    return base64.b64encode(data).decode()


def chirpstack_up(dev_eui, fcnt, payload, *, fport=1, time="2026-03-01T10:00:00.5+00:00",
                  app="00000000-0000-0000-0000-000000000000", rx=None, obj=None):
    """An uplink event as ChirpStack v4's MQTT integration publishes it (JSON)."""
    doc = {
        "deduplicationId": str(uuid.uuid4()),
        "time": time,
        "deviceInfo": {
            "tenantId": "52f14cd4-c6f1-4fbd-8f87-4025e1d49242",
            "tenantName": "ChirpStack",
            "applicationId": app,
            "applicationName": "city sensors",
            "deviceProfileId": "14855bf7-d10d-4aee-b618-ebfcb64dc7ad",
            "deviceProfileName": "Cayenne LPP",
            "deviceName": f"sensor-{dev_eui[-4:]}",
            "devEui": dev_eui,
            "tags": {},
        },
        "devAddr": "00189440",
        "adr": True,
        "dr": 5,
        "fCnt": fcnt,
        "fPort": fport,
        "confirmed": False,
        "data": b64(payload),
        "rxInfo": rx if rx is not None else [
            {"gatewayId": "0016c001f153a14c", "uplinkId": 4217106255, "rssi": -97,
             "snr": 4.5, "context": "E3OWOQ==", "crcStatus": "CRC_OK"},
            {"gatewayId": "0016c001f153a14d", "uplinkId": 1, "rssi": -80, "snr": 9.0,
             "context": "AAAA", "crcStatus": "CRC_OK"},
        ],
        "txInfo": {"frequency": 868100000,
                   "modulation": {"lora": {"bandwidth": 125000, "spreadingFactor": 7,
                                           "codeRate": "CR_4_5"}}},
    }
    if obj is not None:
        doc["object"] = obj
    return doc


def chirpstack_device_info(dev_eui, app="00000000-0000-0000-0000-000000000000"):
    return {"tenantId": "52f14cd4-c6f1-4fbd-8f87-4025e1d49242", "applicationId": app,
            "deviceName": "x", "devEui": dev_eui}


def tts_up(dev_eui, fcnt, payload, *, device_id=None, app="city-sensors", fport=1,
           received_at="2026-03-01T10:00:00.25Z", decoded=None):
    """An uplink message as The Things Stack v3 publishes it (MQTT and webhook)."""
    up = {
        "session_key_id": "AYkShgXPr1d96xw2yeZRdQ==",
        "f_port": fport,
        "f_cnt": fcnt,
        "frm_payload": b64(payload),
        "rx_metadata": [
            {"gateway_ids": {"gateway_id": "city-hall-gw", "eui": "B827EBFFFE000001"},
             "time": "2026-03-01T10:00:00.1Z", "rssi": -101, "channel_rssi": -101,
             "snr": 2.25, "uplink_token": "CiIKIAoU"},
        ],
        "settings": {"data_rate": {"lora": {"bandwidth": 125000, "spreading_factor": 9}},
                     "frequency": "868300000"},
        "received_at": received_at,
        "consumed_airtime": "0.164864s",
    }
    if decoded is not None:
        up["decoded_payload"] = decoded
    return {
        "end_device_ids": {
            "device_id": device_id or f"eui-{dev_eui.lower()}",
            "application_ids": {"application_id": app},
            "dev_eui": dev_eui.upper(),
            "join_eui": "0000000000000000",
            "dev_addr": "260B1234",
        },
        "correlation_ids": ["as:up:01H5KE4Q5M2JD5YHWTFBR7R2Y7"],
        "received_at": "2026-03-01T10:00:00.3Z",
        "uplink_message": up,
    }


def rows(db, query):
    with sqlite3.connect(db) as conn:
        return conn.execute(query).fetchall()


def readings(db):
    return rows(db, "select device, time, quantity, value, unit from readings "
                    "order by device, time, quantity")


def raw_http(port, data):
    """Send raw bytes to an HTTP server on loopback; its whole answer as text."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(data)
        out = b""
        while chunk := s.recv(65536):
            out += chunk
    return out.decode()
