"""Helpers for the gateway tests: a city running in the test's loop, keys, payloads.

Every wait is bounded, so a source that never answers fails the test within seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time

import msgpack

from hromada.city import load_city
from hromada.lorawan.gateway_sim import SimDevice, SimGateway
from hromada.runtime import Kernel

TIMEOUT = 5.0

# ABP device (keys of the LoRaWAN vectors' 1.0 data frames).
ABP_EUI = "0004a30b001c0530"
ABP_ADDR = "26011bda"
NWKSKEY = "44024241ed4ce9a68c6a8bc055233fd3"
APPSKEY = "ec925802ae430ca77fd3dd73cb2cc588"
# OTAA device.
OTAA_EUI = "70b3d57ed0000001"
JOIN_EUI = "70b3d57ed0000000"
APPKEY = "2b7e151628aed2a6abf7158809cf4f3c"
SECRETS = (NWKSKEY, APPSKEY, APPKEY)

GW_EUIS = ("aa555a0000000001", "aa555a0000000002", "aa555a0000000003")

# Cayenne LPP payloads and what they decode to.
LPP_A = bytes.fromhex("03670110056700ff")   # temperature_3 27.2, temperature_5 25.5
LPP_B = bytes.fromhex("016700e1026850")     # temperature_1 22.5, relative_humidity_2 40.0

CITY = """
[city]
name = "Gatewayville"
state_dir = "state"

[plugins]
modules = {modules}

[kernel]
max_latency = 0.01

[sources.gw]
plugin = "semtech-udp"
bind = "127.0.0.1:0"
dedup_window = 0.1
keys_file = "keys.csv"
{extra}

[sources.gw.keys.{otaa}]
appkey = "env:HROMADA_TEST_APPKEY"
join_eui = "{join_eui}"

[sinks.db]
plugin = "sqlite"
path = "city.db"

[[devices]]
id = "{abp}"
model = "cayenne/lpp"

[[devices]]
id = "{otaa}"
model = "cayenne/lpp"
{more}
"""

KEYS_CSV = f"dev_eui,dev_addr,nwkskey,appskey\n{ABP_EUI},{ABP_ADDR},env:HROMADA_TEST_NWKSKEY,{APPSKEY}\n"


def write_city(tmp_path, monkeypatch, *, extra="", more="", modules=(), plugin=None):
    monkeypatch.setenv("HROMADA_TEST_APPKEY", APPKEY)
    monkeypatch.setenv("HROMADA_TEST_NWKSKEY", NWKSKEY)
    (tmp_path / "keys.csv").write_text(KEYS_CSV)
    if plugin is not None:
        (tmp_path / "gwplug.py").write_text(plugin)
        modules = (*modules, "gwplug.py")
    if "state_interval" not in extra:
        extra += "\nstate_interval = 60"
    text = CITY.format(modules=list(modules), extra=extra, more=more, otaa=OTAA_EUI,
                       abp=ABP_EUI, join_eui=JOIN_EUI)
    (tmp_path / "city.toml").write_text(text)
    return tmp_path / "city.toml"


def rows(db, sql, *args):
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return conn.execute(sql, args).fetchall()


def saved_state(state_dir, source="gw"):
    """What a semtech-udp source saved in the city's state database, read with plain
    SQL: ``{"meta": {...}, "devices": {eui: {"session", "join", "queue"}}}``."""
    path = state_dir / "state.db"
    if not path.exists():
        return {"meta": None, "devices": {}}
    out = {"meta": None, "devices": {}}
    for key, value in rows(path, "select key, value from state where owner = ?",
                           f"source:{source}"):
        data = msgpack.unpackb(value, raw=False, strict_map_key=False)
        if key == "meta":
            out["meta"] = data
        else:
            out["devices"][key.removeprefix("device/")] = data
    return out


async def eventually(predicate, what, timeout=TIMEOUT):
    """Wait until ``predicate()`` is true (polling), or fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.005)


class RunningCity:
    """A city running in the current loop, with its semtech-udp source ``gw``.

    ``frames`` collects every ring record the source packs (unpacked), so tests can
    look at the rx metadata the sinks do not store.
    """

    def __init__(self, path):
        self.city = load_city(path)
        self.kernel = Kernel(self.city)
        self.task = None
        self.frames = []
        self.gateways = []

    async def start(self):
        self.task = asyncio.create_task(self.kernel.run())
        await eventually(lambda: "gw" in self.kernel.sources or self.task.done(),
                         "the source to be built")
        if self.task.done():
            self.task.result()
        src, ctx = self.kernel.sources["gw"]
        await asyncio.wait_for(src.ready.wait(), TIMEOUT)
        pack = ctx.pack

        def capture(payload, **kw):
            record = pack(payload, **kw)
            self.frames.append(msgpack.unpackb(record, raw=False))
            return record

        ctx.pack = capture
        return self

    @property
    def source(self):
        return self.kernel.sources["gw"][0]

    async def gateway(self, eui, *, pull=True, **kw):
        gw = await SimGateway.open(eui, self.source.address, **kw)
        self.gateways.append(gw)
        if pull:
            await gw.pull()
        return gw

    async def uplinks_done(self, n):
        """Wait until the source has taken ``n`` uplinks through its checks."""
        src = self.source
        await eventually(lambda: _decided(src) >= n, f"{n} uplinks to be processed")

    async def stop(self):
        for gw in self.gateways:
            gw.close()
        self.kernel.stop()
        return await asyncio.wait_for(self.task, 15)


def _decided(src):
    s = src.stats
    return sum(s[k] for k in ("uplinks", "replay", "mic", "unknown_dev_addr", "fcnt_gap",
                              "frame", "joins", "join_refused", "dev_nonce"))


def abp_device():
    return SimDevice(ABP_EUI, dev_addr=ABP_ADDR, nwkskey=NWKSKEY, appskey=APPSKEY)


def otaa_device():
    return SimDevice(OTAA_EUI, appkey=APPKEY, join_eui=JOIN_EUI)
