"""The chirpstack source against the real Mosquitto: ChirpStack v4 integration events in,
readings stored in SQLite, service commands out as ChirpStack downlink commands."""

import json
import logging

from nethelpers import (
    DEV_A,
    DEV_B,
    DEV_UNKNOWN,
    LPP_A,
    LPP_B,
    CityRun,
    Collector,
    Proxy,
    b64,
    chirpstack_device_info,
    chirpstack_up,
    forget_session,
    publish_all,
    readings,
    rows,
    run,
    uid,
    write_city,
)

from conftest import need_service

T0 = 1772359200.5  # 2026-03-01T10:00:00.5Z


def source_table(app, **extra):
    extra.setdefault("url", "mqtt://127.0.0.1:1883")
    opts = "".join(f"{k} = {json.dumps(v)}\n" for k, v in extra.items())
    return (f'[sources.cs]\nplugin = "chirpstack"\n'
            f'application_id = "{app}"\n{opts}\n'
            '[sinks.db]\nplugin = "sqlite"\npath = "out.db"\n')


def test_uplinks_and_device_events_become_readings_and_events(tmp_path):
    need_service("mosquitto")
    app = uid()
    base = f"application/{app}/device"
    path = write_city(tmp_path, source_table(app))
    published = [
        (f"{base}/{DEV_A}/event/up", chirpstack_up(DEV_A, 1, LPP_A, app=app)),
        # DevEUI in capitals: matched case-insensitively
        (f"{base}/{DEV_B}/event/up",
         chirpstack_up(DEV_B.upper(), 7, LPP_B, app=app, time="2026-03-01T10:00:01.5Z")),
        (f"{base}/{DEV_UNKNOWN}/event/up", chirpstack_up(DEV_UNKNOWN, 1, LPP_B, app=app)),
        (f"{base}/{DEV_UNKNOWN}/event/up", chirpstack_up(DEV_UNKNOWN, 2, LPP_B, app=app)),
        (f"{base}/{DEV_A}/event/up", b"this is not json"),
        (f"{base}/{DEV_A}/event/join", {"deduplicationId": "d1",
                                        "time": "2026-03-01T09:59:00Z",
                                        "deviceInfo": chirpstack_device_info(DEV_A, app),
                                        "devAddr": "00189440"}),
        (f"{base}/{DEV_A}/event/status", {"deduplicationId": "d2",
                                          "time": "2026-03-01T10:01:00Z",
                                          "deviceInfo": chirpstack_device_info(DEV_A, app),
                                          "margin": 7, "batteryLevel": 87.5}),
        (f"{base}/{DEV_B}/event/ack", {"deduplicationId": "d3",
                                       "time": "2026-03-01T10:02:00Z",
                                       "deviceInfo": chirpstack_device_info(DEV_B, app),
                                       "queueItemId": "q-1", "acknowledged": False,
                                       "fCntDown": 4}),
        (f"{base}/{DEV_B}/event/txack", {"downlinkId": 12, "time": "2026-03-01T10:03:00Z",
                                         "deviceInfo": chirpstack_device_info(DEV_B, app),
                                         "queueItemId": "q-2", "fCntDown": 5,
                                         "gatewayId": "0016c001f153a14c"}),
        (f"{base}/{DEV_B}/event/log", {"time": "2026-03-01T10:04:00Z",
                                       "deviceInfo": chirpstack_device_info(DEV_B, app),
                                       "level": "ERROR", "code": "UPLINK_CODEC",
                                       "description": "js error", "context": {"k": "v"}}),
        # events of a device the city does not know are not the city's business
        (f"{base}/{DEV_UNKNOWN}/event/join", {"time": "2026-03-01T10:05:00Z",
                                              "deviceInfo": chirpstack_device_info(
                                                  DEV_UNKNOWN, app), "devAddr": "01"}),
        # another application's traffic is not subscribed to
        (f"application/other-{app}/device/{DEV_A}/event/up",
         chirpstack_up(DEV_A, 9, LPP_B, app="other")),
    ]

    async def main():
        async with CityRun(path) as city:
            src = await city.source("cs")
            await publish_all(published)
            await city.until(lambda k: src.sub.received == len(published) - 1
                             and k.frames == 4, what="11 messages, 4 frames")
            return await city.stop()

    summary = run(main())
    assert summary["frames"] == 4
    assert summary["readings"] == 3
    assert summary["errors_by_kind"] == {"unknown_device": 2, "frame": 1}
    db = tmp_path / "out.db"
    assert readings(db) == [
        (DEV_A, T0, "relative_humidity_2", 40.0, "%RH"),
        (DEV_A, T0, "temperature_1", 21.5, "Cel"),
        (DEV_B, T0 + 1, "temperature_1", -4.1, "Cel"),
    ]
    events = rows(db, "select kind, severity, device, time, source, data from events "
                      "order by time, kind")
    decoded = [(k, s, d, t, src, json.loads(data)) for k, s, d, t, src, data in events]
    bad = [e for e in decoded if e[0] == "frame.error"]
    assert [e for e in decoded if e[0] != "frame.error"] == [
        ("lorawan.join", "info", DEV_A, T0 - 60.5, "cs", {"dev_addr": "00189440"}),
        ("device.unknown", "warning", DEV_UNKNOWN, T0, "cs",
         {"message": f"frame from device {DEV_UNKNOWN!r}, which is not in the city's "
                     "device list", "network": "lorawan"}),
        ("lorawan.status", "info", DEV_A, T0 + 59.5, "cs",
         {"margin": 7, "battery_level": 87.5, "external_power_source": False,
          "battery_level_unavailable": False}),
        ("lorawan.ack", "warning", DEV_B, T0 + 119.5, "cs",
         {"acknowledged": False, "fcnt_down": 4, "queue_item_id": "q-1"}),
        ("lorawan.txack", "info", DEV_B, T0 + 179.5, "cs",
         {"fcnt_down": 5, "gateway": "0016c001f153a14c", "queue_item_id": "q-2"}),
        ("lorawan.log", "warning", DEV_B, T0 + 239.5, "cs",
         {"code": "UPLINK_CODEC", "description": "js error", "context": {"k": "v"}}),
    ]
    assert len(bad) == 1 and bad[0][5]["message"].startswith(
        f"chirpstack source cs: message on {base}/{DEV_A}/event/up is not a ChirpStack "
        "event: Expecting value")


# A service that answers each temperature with a downlink: fPort 10, [1, degrees].
COMMANDER = '''
import hromada
from hromada import Command, ServiceType

class Commander:
    def __init__(self, name, options, city):
        self.sent = set()
    def process(self, readings, ctx):
        for r in readings:
            if r.quantity == "temperature_1" and r.device not in self.sent:
                self.sent.add(r.device)
                ctx.command(Command(r.device, fport=10,
                                    payload=bytes([1, int(r.value) & 0xFF]),
                                    confirmed=True))

@hromada.hookimpl
def hromada_services():
    return [ServiceType("commander", Commander)]
'''


def test_service_command_becomes_chirpstack_downlink(tmp_path):
    need_service("mosquitto")
    app = uid()
    base = f"application/{app}/device"
    body = source_table(app) + '\n[services.cmd]\nplugin = "commander"\n'
    path = write_city(tmp_path, body, plugin=COMMANDER)

    async def main():
        async with Collector(f"{base}/+/command/down") as down:
            async with CityRun(path) as city:
                await city.source("cs")
                await publish_all([(f"{base}/{DEV_A}/event/up",
                                    chirpstack_up(DEV_A, 1, LPP_A, app=app))])
                got = await down.wait(1)
                summary = await city.stop()
        return got, summary

    got, summary = run(main())
    assert summary["commands"] == 1
    assert len(got) == 1
    topic, payload = got[0]
    assert topic == f"{base}/{DEV_A}/command/down"
    assert json.loads(payload) == {"devEui": DEV_A, "confirmed": True, "fPort": 10,
                                   "data": b64(bytes([1, 21]))}


def test_persistent_session_keeps_frames_published_while_the_city_is_away(tmp_path):
    need_service("mosquitto")
    app = uid()
    client_id = f"hromada-test-{app}"
    base = f"application/{app}/device"
    path = write_city(tmp_path, source_table(app, client_id=client_id, clean_session=False))

    def up(fcnt, second):
        return (f"{base}/{DEV_A}/event/up",
                chirpstack_up(DEV_A, fcnt, LPP_B, app=app,
                              time=f"2026-03-01T10:00:{second:02d}Z"))

    async def main():
        try:
            async with CityRun(path) as city:
                await city.source("cs")
                await publish_all([up(1, 1)])
                await city.until(lambda k: k.frames == 1, what="the first frame")
                first = await city.stop()
            # hromada is away: the broker queues these for the persistent session
            await publish_all([up(2, 2), up(3, 3), up(4, 4)], qos=1)
            async with CityRun(path) as city:
                await city.source("cs")
                await city.until(lambda k: k.frames == 3, what="the queued frames")
                second = await city.stop()
        finally:
            await forget_session(client_id)
        return first, second

    first, second = run(main())
    assert (first["frames"], second["frames"]) == (1, 3)
    assert second["errors"] == 0
    assert [r[1] for r in readings(tmp_path / "out.db")] == [
        1772359201.0, 1772359202.0, 1772359203.0, 1772359204.0]


def test_reconnects_with_backoff_and_loses_nothing_when_the_broker_goes_away(
        tmp_path, caplog):
    need_service("mosquitto")
    app = uid()
    client_id = f"hromada-test-{app}"
    base = f"application/{app}/device"
    proxy = Proxy()

    def up(fcnt):
        return (f"{base}/{DEV_A}/event/up",
                chirpstack_up(DEV_A, fcnt, LPP_B, app=app,
                              time=f"2026-03-01T10:00:{fcnt:02d}Z"))

    async def main():
        await proxy.start()
        path = write_city(tmp_path, source_table(
            app, url=f"mqtt://127.0.0.1:{proxy.port}", client_id=client_id,
            clean_session=False, username="city", password="s3cret-pw",
            reconnect_min=0.1, reconnect_max=0.2))
        try:
            async with CityRun(path) as city:
                src = await city.source("cs")
                await publish_all([up(1)])
                await city.until(lambda k: k.frames == 1, what="the first frame")
                await proxy.cut()
                # published while the connection is down: kept by the broker
                await publish_all([up(2), up(3)])
                await city.until(lambda k: k.errors["connection"] >= 3,
                                 what="failed reconnection attempts")
                assert not src.connected.is_set()
                await proxy.start()
                await city.until(lambda k: k.frames == 3, what="frames after reconnecting")
                assert src.sub.connects == 2
                summary = await city.stop()
        finally:
            await forget_session(client_id)
            proxy.server.close()
        return summary

    with caplog.at_level(logging.INFO, logger="hromada.mqtt"):
        summary = run(main())
    assert summary["frames"] == 3
    assert summary["readings"] == 3
    assert summary["errors_by_kind"]["connection"] >= 3
    # QoS 1 is at least once: when the cut took frame 1's PUBACK with it, the broker
    # sends frame 1 again; the source knows it (a "duplicate") and stores it once.
    assert set(summary["errors_by_kind"]) <= {"connection", "duplicate"}
    events = rows(tmp_path / "out.db", "select kind, data from events")
    # one event per outage (the first failure), the retries are only counted
    assert [k for k, _ in events] == ["connection.error"]
    message = json.loads(events[0][1])["message"]
    assert message.startswith(f"chirpstack source cs: broker mqtt://127.0.0.1:{proxy.port} "
                              "connection lost (")
    assert message.endswith("retrying in 0.1s")
    assert "unreachable" in caplog.text and "connected to" in caplog.text
    assert "s3cret" not in caplog.text and "s3cret" not in json.dumps(summary)


def test_device_with_the_object_model_takes_chirpstacks_decoded_object(tmp_path):
    need_service("mosquitto")
    app = uid()
    base = f"application/{app}/device"
    path = write_city(tmp_path, source_table(app), devices=[
        (DEV_A, "chirpstack/object", 'units = { temperature = "Cel", humidity = "%RH" }'),
        (DEV_B, "chirpstack/object")])
    obj = {"temperature": 19.25, "humidity": 55, "door": {"open": True}, "note": "ok"}

    async def main():
        async with CityRun(path) as city:
            await city.source("cs")
            await publish_all([
                (f"{base}/{DEV_A}/event/up", chirpstack_up(DEV_A, 1, b"\x00", app=app,
                                                           obj=obj)),
                # no codec in ChirpStack, so no object: counted, not decoded
                (f"{base}/{DEV_B}/event/up", chirpstack_up(DEV_B, 1, b"\x00", app=app)),
            ])
            await city.until(lambda k: k.frames == 1 and k.errors["frame"] == 1,
                             what="one frame and one error")
            return await city.stop()

    summary = run(main())
    assert summary["errors_by_kind"] == {"frame": 1}
    assert readings(tmp_path / "out.db") == [
        (DEV_A, T0, "door_open", 1, ""),
        (DEV_A, T0, "humidity", 55, "%RH"),
        (DEV_A, T0, "note", "ok", ""),
        (DEV_A, T0, "temperature", 19.25, "Cel"),
    ]
    message = json.loads(rows(tmp_path / "out.db", "select data from events where kind = "
                                                   "'frame.error'")[0][0])["message"]
    assert message == (f"chirpstack source cs: uplink of {DEV_B} has no 'object' (its "
                       "model chirpstack/object needs a codec in ChirpStack)")
