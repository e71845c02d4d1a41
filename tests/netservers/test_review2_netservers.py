"""Second review of the network-server sources: the webhook server refuses differing
Content-Length headers; chirpstack and tts refuse commands outside the LoRaWAN application
fPorts (1..223) instead of publishing them."""

import asyncio
import json

import pytest
from nethelpers import (
    DEV_A,
    LPP_A,
    CityRun,
    Collector,
    chirpstack_up,
    publish_all,
    raw_http,
    rows,
    run,
    tts_up,
    uid,
    write_city,
)

from conftest import need_service
from hromada_plugins.sources.tts import webhook as http

# -- the webhook server: repeated Content-Length ------------------------------------------


def test_webhook_differing_content_lengths_are_refused():
    async def handler(req):
        return 200, f"{req.method} {req.target} {req.body.decode()}"

    async def main():
        server = http.HttpServer(handler, "127.0.0.1", 0, "test")
        await server.start()
        try:
            port = server.port
            answers = await asyncio.to_thread(lambda: [
                raw_http(port, b"POST /a HTTP/1.1\r\nContent-Length: 3\r\n"
                                b"Content-Length: 5\r\nConnection: close\r\n\r\nabcde"),
                raw_http(port, b"POST /a HTTP/1.1\r\nContent-Length: 5\r\n"
                                b"content-length: 3\r\nConnection: close\r\n\r\nabcde"),
                raw_http(port, b"POST /a HTTP/1.1\r\nContent-Length: 3\r\n"
                                b"CONTENT-LENGTH:3\r\nConnection: close\r\n\r\nabc"),
            ])
            return answers, server.requests
        finally:
            await server.close()

    answers, requests = run(main())
    refused = ("HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n"
               "Content-Length: 34\r\nConnection: close\r\n\r\n"
               "conflicting Content-Length headers")
    assert answers[:2] == [refused, refused]
    # the same value repeated is one Content-Length
    assert answers[2].split("\r\n", 1)[0] == "HTTP/1.1 200 OK"
    assert answers[2].endswith("\r\n\r\nPOST /a abc")
    assert requests == 1   # the refused requests never reached the handler


# -- chirpstack and tts: commands outside the application fPorts ----------------------------

COMMANDER = '''
import hromada
from hromada import Command, ServiceType

class Commander:
    """On a device's first reading: commands on fPorts 224, 0 and 10, in that order."""
    def __init__(self, name, options, city):
        self.sent = set()
    def process(self, readings, ctx):
        for r in readings:
            if r.device not in self.sent:
                self.sent.add(r.device)
                for fport in (224, 0, 10):
                    ctx.command(Command(r.device, fport=fport, payload=bytes([fport])))

@hromada.hookimpl
def hromada_services():
    return [ServiceType("fport-commander", Commander)]
'''


def _chirpstack(app):
    base = f"application/{app}/device"
    table = (f'[sources.net]\nplugin = "chirpstack"\napplication_id = "{app}"\n'
             'url = "mqtt://127.0.0.1:1883"\n')
    return table, f"{base}/+/command/down", (f"{base}/{DEV_A}/event/up",
                                             chirpstack_up(DEV_A, 1, LPP_A, app=app))


def _tts(app):
    base = f"v3/{app}@ttn/devices"
    table = (f'[sources.net]\nplugin = "tts"\napplication_id = "{app}"\n'
             'url = "mqtt://127.0.0.1:1883"\n')
    return table, f"{base}/+/down/push", (f"{base}/eui-{DEV_A}/up", tts_up(DEV_A, 1, LPP_A,
                                                                           app=app))


@pytest.mark.parametrize("server", [_chirpstack, _tts], ids=["chirpstack", "tts"])
def test_commands_outside_the_application_fports_are_refused(tmp_path, server):
    need_service("mosquitto")
    table, down_topic, uplink = server(uid())
    body = (table + '\n[services.cmd]\nplugin = "fport-commander"\n\n'
            '[sinks.db]\nplugin = "sqlite"\npath = "out.db"\n')
    path = write_city(tmp_path, body, plugin=COMMANDER)

    async def main():
        async with Collector(down_topic) as down:
            async with CityRun(path) as city:
                await city.source("net")
                await publish_all([uplink])
                await down.wait(1)
                await city.until(lambda k: k.errors["downlink"] == 2,
                                 what="the refused commands")
                await asyncio.sleep(0.2)   # anything else published would arrive by now
                summary = await city.stop()
            return list(down.messages), summary

    got, summary = run(main())
    ports = [json.loads(p).get("fPort", json.loads(p).get("downlinks", [{}])[0].get("f_port"))
             for _t, p in got]
    assert ports == [10]
    assert summary["errors_by_kind"] == {"downlink": 2}
    events = rows(tmp_path / "out.db", "select kind, severity, device, source, data from "
                                       "events order by rowid")
    assert [(k, s, d, src, json.loads(data)) for k, s, d, src, data in events] == [
        ("downlink.error", "warning", DEV_A, "net", {"message": (
            f"command for device {DEV_A}: fPort {fport} is not an application port "
            "(1..223)")}) for fport in (224, 0)]
