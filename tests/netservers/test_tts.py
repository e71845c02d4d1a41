"""The tts source: The Things Stack v3 uplinks over MQTT (real Mosquitto) and over its
webhook receiver, readings in SQLite, downlinks pushed back the same ways."""

import asyncio
import http.client
import json

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
    publish_all,
    readings,
    rows,
    run,
    tts_up,
    uid,
    write_city,
)

from conftest import need_service
from hromada import Command
from hromada_plugins.sources.tts import webhook as http_server

T0 = 1772359200.25  # 2026-03-01T10:00:00.25Z, uplink_message.received_at

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
                ctx.command(Command(r.device, fport=15, payload=bytes([0xBE, 0xEF])))

@hromada.hookimpl
def hromada_services():
    return [ServiceType("commander", Commander)]
'''


def source_table(app, **extra):
    opts = "".join(f"{k} = {json.dumps(v)}\n" for k, v in extra.items())
    return (f'[sources.things]\nplugin = "tts"\napplication_id = "{app}"\n{opts}\n'
            '[sinks.db]\nplugin = "sqlite"\npath = "out.db"\n')


def test_mqtt_uplinks_become_readings_and_a_command_a_downlink_push(tmp_path):
    need_service("mosquitto")
    app = uid()
    base = f"v3/{app}@ttn/devices"
    body = source_table(app, url="mqtt://127.0.0.1:1883", api_key="NNSXS.SECRETKEY") + \
        '\n[services.cmd]\nplugin = "commander"\n'
    path = write_city(tmp_path, body, plugin=COMMANDER)
    ids = {"device_id": "street-light-7", "application_ids": {"application_id": app},
           "dev_eui": DEV_B.upper()}
    published = [
        (f"{base}/street-light-7/up", tts_up(DEV_B, 3, LPP_B, device_id="street-light-7",
                                             app=app)),
        (f"{base}/eui-{DEV_A}/up", tts_up(DEV_A, 12, LPP_A, app=app,
                                          received_at="2026-03-01T10:00:01.25Z")),
        (f"{base}/ghost/up", tts_up(DEV_UNKNOWN, 1, LPP_B, device_id="ghost", app=app)),
        (f"{base}/street-light-7/join", {"end_device_ids": {**ids, "dev_addr": "260B0001"},
                                         "received_at": "2026-03-01T09:00:00Z",
                                         "join_accept": {"session_key_id": "AYk="}}),
        (f"{base}/street-light-7/down/ack", {"end_device_ids": ids,
                                             "received_at": "2026-03-01T09:01:00Z",
                                             "downlink_ack": {"f_port": 15, "f_cnt": 2}}),
        (f"{base}/street-light-7/down/nack", {"end_device_ids": ids,
                                              "received_at": "2026-03-01T09:02:00Z",
                                              "downlink_nack": {"f_port": 15, "f_cnt": 3}}),
        (f"{base}/street-light-7/down/sent", {"end_device_ids": ids,
                                              "received_at": "2026-03-01T09:03:00Z",
                                              "downlink_sent": {"f_port": 15, "f_cnt": 4}}),
        (f"{base}/street-light-7/down/failed", {
            "end_device_ids": ids, "received_at": "2026-03-01T09:04:00Z",
            "downlink_failed": {"downlink": {"f_port": 15},
                                "error": {"name": "payload_too_long",
                                          "message_format": "payload too long"}}}),
        (f"{base}/street-light-7/up", b"[1, 2]"),
    ]

    async def main():
        async with Collector(f"{base}/+/down/push") as down:
            async with CityRun(path) as city:
                src = await city.source("things")
                await publish_all(published)
                got = await down.wait(2)
                await city.until(lambda k: src.sub.received == len(published),
                                 what="every message")
                summary = await city.stop()
        return got, summary

    got, summary = run(main())
    assert summary["frames"] == 3
    assert summary["readings"] == 3
    assert summary["errors_by_kind"] == {"unknown_device": 1, "frame": 1}
    assert summary["commands"] == 2
    db = tmp_path / "out.db"
    assert readings(db) == [
        (DEV_A, T0 + 1, "relative_humidity_2", 40.0, "%RH"),
        (DEV_A, T0 + 1, "temperature_1", 21.5, "Cel"),
        (DEV_B, T0, "temperature_1", -4.1, "Cel"),
    ]
    # downlinks go to The Things Stack's device id, learned from the uplinks
    push = {"downlinks": [{"f_port": 15, "frm_payload": b64(b"\xbe\xef"),
                           "priority": "NORMAL", "confirmed": False}]}
    assert sorted((t, json.loads(p)) for t, p in got) == [
        (f"{base}/eui-{DEV_A}/down/push", push),
        (f"{base}/street-light-7/down/push", push),
    ]
    events = [(k, s, d, t, json.loads(data)) for k, s, d, t, data in rows(
        db, "select kind, severity, device, time, data from events where kind like "
            "'lorawan.%' order by time")]
    assert events == [
        ("lorawan.join", "info", DEV_B, T0 - 3600.25, {"dev_addr": "260B0001"}),
        ("lorawan.ack", "info", DEV_B, T0 - 3540.25,
         {"acknowledged": True, "fcnt_down": 2, "f_port": 15}),
        ("lorawan.ack", "warning", DEV_B, T0 - 3480.25,
         {"acknowledged": False, "fcnt_down": 3, "f_port": 15}),
        ("lorawan.txack", "info", DEV_B, T0 - 3420.25, {"fcnt_down": 4, "f_port": 15}),
        ("lorawan.downlink_failed", "warning", DEV_B, T0 - 3360.25,
         {"f_port": 15, "error": "payload too long"}),
    ]
    bad = json.loads(rows(db, "select data from events where kind = 'frame.error'")[0][0])
    assert bad["message"] == (f"tts source things: message on {base}/street-light-7/up is "
                              "not a The Things Stack message: a JSON list, not an object")


def _post(port, body, headers=None, path="/tts/up", method="POST", conn=None):
    conn = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    conn.request(method, path, body=data if method == "POST" else None,
                 headers={"Content-Type": "application/json", **(headers or {})})
    resp = conn.getresponse()
    return resp.status, resp.read().decode(), conn


def test_webhook_takes_uplinks_checks_the_token_and_answers_errors(tmp_path):
    app = uid()
    path = write_city(tmp_path, source_table(app, webhook="127.0.0.1:0",
                                             webhook_token="tok-123"))
    auth = {"Authorization": "Bearer tok-123"}

    async def main():
        async with CityRun(path) as city:
            src = await city.source("things")
            port = src.webhook_port

            def client_side():
                out = []
                # two uplinks on one kept-alive connection
                s1, t1, conn = _post(port, tts_up(DEV_A, 1, LPP_A, app=app), auth)
                s2, t2, conn = _post(port, tts_up(DEV_B, 2, LPP_B, app=app), auth, conn=conn)
                out += [(s1, t1), (s2, t2)]
                out.append(_post(port, tts_up(DEV_A, 3, LPP_A, app=app),
                                 {"Authorization": "Bearer wrong"})[:2])
                out.append(_post(port, tts_up(DEV_A, 4, LPP_A, app=app))[:2])
                out.append(_post(port, b"{not json", auth)[:2])
                out.append(_post(port, b"", auth, method="GET")[:2])
                return out

            answers = await asyncio.to_thread(client_side)
            await city.until(lambda k: k.frames == 2, what="two frames")
            return answers, await city.stop(), src.server.requests

    answers, summary, requests = run(main())
    assert answers[:4] == [(204, ""), (204, ""),
                           (401, "missing or wrong Authorization: Bearer token"),
                           (401, "missing or wrong Authorization: Bearer token")]
    assert answers[4][0] == 400 and answers[4][1].startswith(
        "message on webhook /tts/up is not a The Things Stack message: Expecting")
    assert answers[5] == (405, "POST The Things Stack webhook messages here")
    assert requests == 6
    assert summary["frames"] == 2
    assert summary["errors_by_kind"] == {"webhook": 2, "frame": 1}
    assert readings(tmp_path / "out.db") == [
        (DEV_A, T0, "relative_humidity_2", 40.0, "%RH"),
        (DEV_A, T0, "temperature_1", 21.5, "Cel"),
        (DEV_B, T0, "temperature_1", -4.1, "Cel"),
    ]
    assert "tok-123" not in json.dumps(rows(tmp_path / "out.db", "select * from events"))


def test_webhook_only_downlink_goes_to_the_push_url_the_webhook_named(tmp_path):
    app = uid()
    body = source_table(app, webhook="127.0.0.1:0", priority="HIGH") + \
        '\n[services.cmd]\nplugin = "commander"\n'
    path = write_city(tmp_path, body, plugin=COMMANDER)
    pushed = []

    async def fake_tts(req):
        pushed.append((req.method, req.target, req.headers.get("authorization"),
                       json.loads(req.body)))
        return 200, "{}"

    async def main():
        tts = http_server.HttpServer(fake_tts, "127.0.0.1", 0, "fake tts")
        await tts.start()
        push_url = (f"http://127.0.0.1:{tts.port}/api/v3/as/applications/{app}/webhooks/"
                    f"hromada/devices/eui-{DEV_A}/down/push")
        try:
            async with CityRun(path) as city:
                src = await city.source("things")
                status = await asyncio.to_thread(
                    lambda: _post(src.webhook_port, tts_up(DEV_A, 1, LPP_A, app=app),
                                  {"X-Downlink-Push": push_url,
                                   "X-Downlink-Replace": push_url.replace("push", "replace"),
                                   "X-Downlink-Apikey": "NNSXS.DOWNLINKKEY"})[0])
                await city.until(lambda k: k.commands_sent == 1, what="the downlink")
                summary = await city.stop()
        finally:
            await tts.close()
        return status, summary

    status, summary = run(main())
    assert status == 204
    assert summary["commands"] == 1 and summary["errors"] == 0
    assert pushed == [("POST", f"/api/v3/as/applications/{app}/webhooks/hromada/devices/"
                               f"eui-{DEV_A}/down/push", "Bearer NNSXS.DOWNLINKKEY",
                       {"downlinks": [{"f_port": 15, "frm_payload": b64(b"\xbe\xef"),
                                       "priority": "HIGH", "confirmed": False}]})]


def test_decoded_payload_model_and_open_source_deployment_without_tenant(tmp_path):
    need_service("mosquitto")
    app = uid()
    base = f"v3/{app}/devices"
    path = write_city(tmp_path, source_table(app, url="mqtt://127.0.0.1:1883", tenant=""),
                      devices=[(DEV_A, "tts/decoded", 'units = { level = "%" }')])
    decoded = {"level": 63, "battery": {"voltage": 3.6}}

    async def main():
        async with CityRun(path) as city:
            await city.source("things")
            await publish_all([(f"{base}/eui-{DEV_A}/up",
                                tts_up(DEV_A, 1, b"\x01", app=app, decoded=decoded))])
            await city.until(lambda k: k.readings == 2, what="two readings")
            return await city.stop()

    summary = run(main())
    assert summary["errors"] == 0
    assert readings(tmp_path / "out.db") == [
        (DEV_A, T0, "battery_voltage", 3.6, ""), (DEV_A, T0, "level", 63, "%")]


def test_downlink_waits_for_the_broker_and_is_sent_on_connection(tmp_path):
    need_service("mosquitto")
    app = uid()
    base = f"v3/{app}@ttn/devices"
    proxy = Proxy()

    async def main():
        await proxy.start()
        await proxy.cut()  # the port is known but nothing listens yet
        path = write_city(tmp_path, source_table(
            app, url=f"mqtt://127.0.0.1:{proxy.port}", reconnect_min=0.05,
            reconnect_max=0.1))
        async with Collector(f"{base}/+/down/push") as down:
            async with CityRun(path) as city:
                src = await city.source("things", ready=False)
                await city.until(lambda k: k.errors["connection"] >= 1,
                                 what="a failed connection")
                await src.send(Command(DEV_A, fport=2, payload=b"\x07", confirmed=True))
                assert len(src.sub.pending) == 1
                await proxy.start()
                got = await down.wait(1)
                summary = await city.stop()
        proxy.server.close()
        return got, summary

    got, summary = run(main())
    assert [(t, json.loads(p)) for t, p in got] == [
        (f"{base}/eui-{DEV_A}/down/push",
         {"downlinks": [{"f_port": 2, "frm_payload": "Bw==", "priority": "NORMAL",
                         "confirmed": True}]})]
    assert set(summary["errors_by_kind"]) == {"connection"}
