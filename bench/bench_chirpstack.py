"""MQTT ingest of ChirpStack uplink events: loopback publisher to stored readings.

A city with a ``chirpstack`` source (QoS 1) and a ``sqlite`` sink runs in this
process; a publisher on the same loop sends ChirpStack v4 uplink events (LPP payloads
of four values, 200 devices) to Mosquitto from its own process.  Timed from the first publish to the last
reading stored, so the figure is the whole path: broker, JSON, base64, ring, LPP
decode, SQLite.  The peer in the same run is a bare aiomqtt subscriber (QoS 1) that
only counts the same messages: the ceiling the broker, the publisher and the MQTT
client leave.

The publisher keeps at most ``--window`` messages ahead of the consumer, because
Mosquitto drops QoS 1 messages beyond its per-client queue (1000 by default).

Run: ``python bench/bench_chirpstack.py [--frames N] [--repeats N] [--json]``.  Needs
Mosquitto at 127.0.0.1:1883; bounded to a few seconds.
"""

import argparse
import asyncio
import base64
import json
import multiprocessing as mp
import platform
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import aiomqtt

from hromada import lpp
from hromada.city import load_city
from hromada.runtime import Kernel

BROKER = ("127.0.0.1", 1883)
DEVICES = [f"70b3d57ed{i:07x}" for i in range(200)]

CITY = """
[city]
name = "Benchville"

[kernel]
max_latency = 0.01

[sources.cs]
plugin = "chirpstack"
url = "mqtt://127.0.0.1:1883"
application_id = "{app}"

[sinks.db]
plugin = "sqlite"
path = "bench.db"
"""


def events(app, n):
    out = []
    for i in range(n):
        dev = DEVICES[i % len(DEVICES)]
        payload = lpp.encode({"temperature_1": 20.5, "relative_humidity_2": 41.0,
                              "barometric_pressure_3": 1013.2, "voltage_4": 3.61})
        doc = {"deduplicationId": str(uuid.UUID(int=i)),
               "time": f"2026-03-01T10:{i // 6000 % 60:02d}:{i // 100 % 60:02d}.{i % 100:02d}Z",
               "deviceInfo": {"tenantId": "t", "applicationId": app, "deviceName": dev,
                              "devEui": dev},
               "devAddr": "00189440", "dr": 5, "fCnt": i, "fPort": 1,
               "data": base64.b64encode(payload).decode(),
               "rxInfo": [{"gatewayId": "0016c001f153a14c", "rssi": -97, "snr": 4.5}],
               "txInfo": {"frequency": 868100000}}
        out.append((f"application/{app}/device/{dev}/event/up", json.dumps(doc)))
    return out


def publisher(messages, done, window, up, ready):
    """Child process: publish with QoS 1 (paho, pipelined), at most ``window`` messages
    ahead of ``done`` (a shared counter the consumer keeps up to date)."""
    import paho.mqtt.client as paho
    from paho.mqtt.enums import CallbackAPIVersion

    client = paho.Client(CallbackAPIVersion.VERSION2)
    client.max_inflight_messages_set(window)
    client.connect(*BROKER)
    client.loop_start()
    up.set()
    ready.wait()
    infos = []
    for i, (topic, payload) in enumerate(messages):
        while i - done.value >= window:
            time.sleep(0.0002)
        infos.append(client.publish(topic, payload, qos=1))
    for info in infos:
        info.wait_for_publish(30)
    client.disconnect()
    client.loop_stop()


class Publisher:
    """The loopback publisher in its own process, so that it does not share a core's
    time slices or the GIL with the consumer being measured."""

    def __init__(self, messages, window):
        ctx = mp.get_context("spawn")
        self.done = ctx.Value("q", 0, lock=False)
        self.up, self.ready = ctx.Event(), ctx.Event()
        self.proc = ctx.Process(target=publisher,
                                args=(messages, self.done, window, self.up, self.ready))
        self.proc.start()

    async def go(self):
        """Wait until the child is connected, then let it publish."""
        if not await asyncio.to_thread(self.up.wait, 30):
            raise RuntimeError("the publisher process did not connect")
        self.ready.set()

    def join(self):
        self.proc.join(60)
        assert self.proc.exitcode == 0, f"publisher exited with {self.proc.exitcode}"


async def hromada_run(n, window):
    app = uuid.uuid4().hex[:12]
    messages = events(app, n)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "city.toml"
        path.write_text(CITY.format(app=app))
        for dev in DEVICES:
            path.write_text(path.read_text() +
                            f'\n[[devices]]\nid = "{dev}"\nmodel = "cayenne/lpp"\n')
        kernel = Kernel(load_city(path))
        task = asyncio.create_task(kernel.run())
        while "cs" not in kernel.sources:
            await asyncio.sleep(0.01)
        src = kernel.sources["cs"][0]
        await asyncio.wait_for(src.connected.wait(), 5)
        pub = Publisher(messages, window)
        await pub.go()
        start = time.perf_counter()
        while kernel.sink_rows["db"] < 4 * n:
            if task.done():
                task.result()
            pub.done.value = kernel.frames
            await asyncio.sleep(0.0005)
        elapsed = time.perf_counter() - start
        await asyncio.to_thread(pub.join)
        kernel.stop()
        summary = await task
        with sqlite3.connect(Path(tmp) / "bench.db") as conn:
            rows = conn.execute("select count(*) from readings").fetchone()[0]
    assert summary["errors"] == 0, summary["errors_by_kind"]
    assert rows == 4 * n, f"stored {rows} readings of {4 * n}"
    return n / elapsed


async def bare_run(n, window):
    app = uuid.uuid4().hex[:12]
    messages = events(app, n)
    received = 0
    async with aiomqtt.Client(*BROKER) as sub:
        await sub.subscribe(f"application/{app}/device/+/event/+", qos=1)
        pub = Publisher(messages, window)
        await pub.go()
        start = time.perf_counter()
        async for _ in sub.messages:
            received += 1
            pub.done.value = received
            if received == n:
                break
        elapsed = time.perf_counter() - start
        await asyncio.to_thread(pub.join)
    return n / elapsed


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--frames", type=int, default=4000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--window", type=int, default=500)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    try:
        asyncio.run(asyncio.wait_for(asyncio.open_connection(*BROKER), 3))
    except OSError as exc:
        print(f"Mosquitto not reachable at {BROKER[0]}:{BROKER[1]}: {exc}", file=sys.stderr)
        return 2
    rates = {"hromada chirpstack -> sqlite": [], "bare aiomqtt subscriber": []}
    for _ in range(args.repeats):
        rates["hromada chirpstack -> sqlite"].append(
            asyncio.run(asyncio.wait_for(hromada_run(args.frames, args.window), 60)))
        rates["bare aiomqtt subscriber"].append(
            asyncio.run(asyncio.wait_for(bare_run(args.frames, args.window), 60)))
    medians = {k: statistics.median(v) for k, v in rates.items()}
    ratio = statistics.median(h / b for h, b in zip(*rates.values(), strict=True))
    result = {"frames": args.frames, "repeats": args.repeats, "frames_per_s": medians,
              "ratios": {"hromada/bare subscriber": ratio}}
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"ChirpStack uplinks over Mosquitto (loopback, QoS 1), {args.frames:,} frames of "
          f"4 LPP values, median of {args.repeats}; Python {platform.python_version()}, "
          f"aiomqtt {aiomqtt.__version__}")
    for name, rate in medians.items():
        print(f"  {name:<30} {rate:>10,.0f} frames/s")
    print(f"  hromada/bare subscriber        {ratio:10.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
