"""The shared MQTT plumbing and message parsing: URLs, TLS, secrets, late
acknowledgement (a message not yet in the ring is redelivered), frame metadata, the
webhook's HTTP edge cases, and the message when an optional library is missing."""

import asyncio
import json
import ssl
import subprocess
import sys
import textwrap

import msgpack
import pytest
from nethelpers import (
    DEV_A,
    LPP_A,
    chirpstack_up,
    forget_session,
    publish_all,
    raw_http,
    run,
    tts_up,
    uid,
)

from conftest import need_service
from hromada import DecodeError
from hromada.options import validate_options
from hromada_plugins.sources import _mqtt, chirpstack, tts
from hromada_plugins.sources.tts import webhook as http


def test_broker_urls():
    u = _mqtt.parse_url("mqtt://broker.example:1884")
    assert (u.host, u.port, u.tls, str(u)) == ("broker.example", 1884, False,
                                              "mqtt://broker.example:1884")
    u = _mqtt.parse_url("mqtts://user:pw@broker.example")
    assert (u.host, u.port, u.tls, u.username, u.password) == (
        "broker.example", 8883, True, "user", "pw")
    assert str(u) == repr(u) == "mqtts://broker.example:8883"  # no credentials shown
    assert _mqtt.parse_url("tcp://[::1]").port == 1883
    with pytest.raises(ValueError) as exc:
        _mqtt.parse_url("broker.example:1883")
    assert str(exc.value) == ("url: broker.example:// is not a broker URL; use "
                              "mqtt://host:port or mqtts://host:port (TLS)")
    with pytest.raises(ValueError) as exc:
        _mqtt.parse_url("mqtt://host:99999", "sources.cs.url")
    assert str(exc.value).startswith("sources.cs.url: not a broker URL (Port out of range")


def test_tls_context_and_secrets(tmp_path, monkeypatch):
    ctx = _mqtt.tls_context(_mqtt.parse_url("mqtts://h"))
    assert isinstance(ctx, ssl.SSLContext)
    assert ctx.check_hostname and ctx.verify_mode == ssl.CERT_REQUIRED
    assert _mqtt.tls_context(_mqtt.parse_url("mqtt://h")) is None
    with pytest.raises(ValueError) as exc:
        _mqtt.tls_context(_mqtt.parse_url("mqtt://h"), ca_file=tmp_path / "ca.pem")
    assert str(exc.value) == "TLS files given but the broker URL mqtt://h:1883 is not mqtts://"
    monkeypatch.setenv("HROMADA_TEST_KEY", "NNSXS.abc")
    assert _mqtt.secret("env:HROMADA_TEST_KEY") == "NNSXS.abc"
    assert _mqtt.secret("plain") == "plain"
    with pytest.raises(ValueError) as exc:
        _mqtt.secret("env:HROMADA_TEST_NOPE")
    assert str(exc.value) == ("environment variable HROMADA_TEST_NOPE (named by a secret "
                              "option) is not set")


def test_times_rx_and_server_decoded_json():
    assert _mqtt.iso_time("2022-07-18T09:33:28.823500726+00:00") == 1658136808.8235
    assert _mqtt.iso_time("2026-03-01T10:00:00.25Z") == 1772359200.25
    assert _mqtt.iso_time("2026-03-01T12:00:00+02:00") == 1772359200.0
    assert _mqtt.iso_time("2026-03-01T10:00:00") == 1772359200.0  # no zone: UTC
    assert _mqtt.best_rx([{"gatewayId": "a", "rssi": -110, "snr": -3.0},
                          {"gatewayId": "b", "rssi": -90, "snr": 7.5}, "junk"],
                         lambda e: e.get("gatewayId")) == {
        "gateways": 3, "gateway": "b", "rssi": -90, "snr": 7.5}
    assert _mqtt.best_rx([], lambda e: None) == {}
    assert _mqtt.decode_server_json(b'{"a": {"b": [1, {"c": 2}]}, "d": null}', 1,
                                    {"units": {"a_b_0": "m"}}) == [
        ("a_b_0", 1, "m"), ("a_b_1_c", 2, "")]
    with pytest.raises(DecodeError) as exc:
        _mqtt.decode_server_json(b"\xff", 1, {})
    assert str(exc.value).startswith("decoded payload is not JSON: ")
    with pytest.raises(DecodeError) as exc:
        _mqtt.decode_server_json(b"[1]", 1, {})
    assert str(exc.value) == "decoded payload is a JSON list, not an object"


class StubCtx:
    """Just enough of a SourceContext to run a source's message handling."""

    def __init__(self, devices=()):
        self.name = "src"
        self.stopping = asyncio.Event()
        self.errors = []
        self.events = []
        self.records = []
        self._packer = msgpack.Packer(use_bin_type=True)

    def pack(self, payload, *, network, device=None, fport=None, fcnt=None, time=None,
             rx=None):
        return self._packer.pack([network, device, fport, fcnt, time, payload, rx or {},
                                  self.name])

    async def put(self, records):
        self.records.extend(records)

    def count_error(self, kind, message=None, device=None):
        self.errors.append((kind, message))

    def emit(self, event):
        self.events.append(event)


class _Msg:
    def __init__(self, topic, doc):
        class T:
            value = topic
        self.topic = T
        self.payload = json.dumps(doc).encode()


class _City:
    def __init__(self, devices):
        self.devices = devices
        self.name = "x"


def _source(factory, options, devices=()):
    from hromada import Device

    opts, problems = validate_options(factory_options(factory), options, "sources.src")
    assert problems == []
    return opts, {d: Device(d, "cayenne/lpp") for d in devices}


def factory_options(name):
    mod = {"chirpstack": chirpstack, "tts": tts}[name]
    return mod.hromada_sources()[0].options


def test_chirpstack_frame_metadata():
    opts, devices = _source("chirpstack", {"application_id": "app1"}, [DEV_A])

    async def main():
        src = chirpstack.ChirpStackSource("src", opts, _City(devices))
        ctx = StubCtx()
        src.ctx, src.report = ctx, _mqtt.Reporter(ctx, "chirpstack source src")
        doc = chirpstack_up(DEV_A.upper(), 4242, LPP_A, fport=5)
        empty = chirpstack_up(DEV_A, 1, b"", fport=0)  # MAC-only: nothing to decode
        del empty["data"]
        return src.handle([_Msg(f"application/app1/device/{DEV_A}/event/up", doc),
                           _Msg(f"application/app1/device/{DEV_A}/event/up", empty)])

    records = run(main())
    assert [msgpack.unpackb(r) for r in records] == [
        ["lorawan", DEV_A, 5, 4242, 1772359200.5, LPP_A,
         {"gateways": 2, "gateway": "0016c001f153a14d", "rssi": -80, "snr": 9.0}, "src"]]


def test_tts_frame_metadata_and_ids():
    opts, devices = _source("tts", {"application_id": "app1", "webhook": "127.0.0.1:0",
                                    "api_key": "NNSXS.K"}, [DEV_A, "my-meter"])

    async def main():
        src = tts.TTSSource("src", opts, _City(devices))
        src.ctx = StubCtx()
        doc = tts_up(DEV_A, 77, LPP_A, fport=9, device_id="kitchen")
        meter = tts_up("0000000000000001", 3, LPP_A, device_id="My-Meter")
        del meter["end_device_ids"]["dev_eui"]  # ABP devices may have none
        return [src.handle_doc(doc), src.handle_doc(meter)], src.tts_ids

    records, ids = run(main())
    assert [msgpack.unpackb(r) for r in records] == [
        ["lorawan", DEV_A, 9, 77, 1772359200.25, LPP_A,
         {"gateways": 1, "gateway": "city-hall-gw", "rssi": -101, "snr": 2.25}, "src"],
        ["lorawan", "my-meter", 1, 3, 1772359200.25, LPP_A,
         {"gateways": 1, "gateway": "city-hall-gw", "rssi": -101, "snr": 2.25}, "src"]]
    assert ids == {DEV_A: "kitchen", "my-meter": "My-Meter"}


def test_tts_broker_credentials_and_option_errors():
    opts, devices = _source("tts", {"application_id": "app1", "tenant": "city",
                                    "url": "mqtts://eu1.cloud.thethings.network:8883",
                                    "api_key": "NNSXS.SECRET"})

    async def main():
        src = tts.TTSSource("src", opts, _City(devices))
        return src.sub

    sub = run(main())
    assert (sub.username, sub._password) == ("app1@city", "NNSXS.SECRET")
    assert sub.topics == ["v3/app1@city/devices/+/up", "v3/app1@city/devices/+/join",
                          "v3/app1@city/devices/+/down/ack",
                          "v3/app1@city/devices/+/down/nack",
                          "v3/app1@city/devices/+/down/sent",
                          "v3/app1@city/devices/+/down/failed"]
    assert "SECRET" not in repr(sub) and sub.tls is not None
    opts, _ = _source("tts", {"application_id": "app1"})
    with pytest.raises(ValueError) as exc:
        tts.TTSSource("src", opts, _City({}))
    assert str(exc.value) == "sources.src: give url (MQTT), webhook (HTTP), or both"
    opts, _ = _source("chirpstack", {"application_id": "a", "clean_session": False})
    with pytest.raises(ValueError) as exc:
        run(_make(chirpstack.ChirpStackSource, opts))
    assert str(exc.value) == ("clean_session = false needs a fixed client_id (the broker "
                              "keeps the session under that id)")
    opts, _ = _source("chirpstack", {"application_id": "a/#"})
    with pytest.raises(ValueError) as exc:
        run(_make(chirpstack.ChirpStackSource, opts))
    assert str(exc.value) == ("sources.src.application_id: 'a/#' is not an application id "
                              "(no '/', '+' or '#')")


async def _make(factory, opts):
    return factory("src", opts, _City({}))


def test_a_message_not_yet_in_the_ring_is_redelivered_after_a_stop():
    """Acknowledged only after ctx.put: a stop before that leaves it at the broker."""
    need_service("mosquitto")
    app = uid()
    client_id = f"hromada-test-{app}"
    topic = f"application/{app}/device/{DEV_A}/event/up"
    opts, _ = _source("chirpstack", {"application_id": app, "client_id": client_id,
                                     "clean_session": False})

    class Stuck(StubCtx):
        async def put(self, records):
            self.records.extend(records)
            await asyncio.Event().wait()  # the ring never takes it (the city stops)

    async def main():
        try:
            first = chirpstack.ChirpStackSource("src", opts, _City({}))
            stuck = Stuck()
            task = asyncio.create_task(first.run(stuck))
            await asyncio.wait_for(first.connected.wait(), 5)
            await publish_all([(topic, chirpstack_up(DEV_A, 1, LPP_A, app=app))])
            while not stuck.records:
                await asyncio.sleep(0.01)
            task.cancel()  # what the kernel does to a source that does not end
            await asyncio.gather(task, return_exceptions=True)

            second = chirpstack.ChirpStackSource("src", opts, _City({}))
            ctx = StubCtx()
            task = asyncio.create_task(second.run(ctx))
            while not ctx.records:
                await asyncio.sleep(0.01)
            ctx.stopping.set()
            await asyncio.wait_for(task, 5)
            return stuck.records, ctx.records
        finally:
            await forget_session(client_id)

    before, after = run(main(), timeout=15)
    assert len(before) == 1 and after == before


def test_webhook_http_edge_cases():
    async def handler(req):
        return 200, f"{req.method} {req.target} {len(req.body)}"

    async def main():
        server = http.HttpServer(handler, "127.0.0.1", 0, "test")
        await server.start()
        try:
            port = server.port
            return await asyncio.to_thread(lambda: [
                raw_http(port, b"POST /a HTTP/1.1\r\nHost: x\r\n\r\n"),
                raw_http(port, b"POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"),
                raw_http(port, b"POST /a HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n"),
                raw_http(port, b"POST /a HTTP/1.1\r\nContent-Length: x\r\n\r\n"),
                raw_http(port, b"nonsense\r\n\r\n"),
                raw_http(port, b"POST /a HTTP/1.0\r\nContent-Length: 3\r\n\r\nabc"),
                raw_http(port, b"POST /a HTTP/1.1\r\nBad header\r\n\r\n"),
            ])
        finally:
            await server.close()

    answers = run(main())
    first_lines = [a.split("\r\n", 1)[0] for a in answers]
    assert first_lines == ["HTTP/1.1 411 Length Required", "HTTP/1.1 501 Not Implemented",
                           "HTTP/1.1 413 Content Too Large", "HTTP/1.1 400 Bad Request",
                           "HTTP/1.1 400 Bad Request", "HTTP/1.1 200 OK",
                           "HTTP/1.1 400 Bad Request"]
    assert answers[5].endswith("\r\n\r\nPOST /a 3")  # HTTP/1.0: answered, then closed
    assert http.parse_listen("[::1]:8090") == ("::1", 8090)
    assert http.parse_listen(":8090") == (None, 8090)
    with pytest.raises(ValueError) as exc:
        http.parse_listen("localhost", "sources.t.webhook")
    assert str(exc.value) == ("sources.t.webhook: 'localhost' is not host:port (e.g. "
                              "127.0.0.1:8090)")


MISSING = textwrap.dedent("""
    import sys
    for name in {blocked!r}:
        sys.modules[name] = None   # import of it fails, as if not installed
    import importlib
    try:
        importlib.import_module({module!r})
    except ImportError as exc:
        print(exc)
    from hromada.plugins import PluginHost
    host = PluginHost()
    print(sorted(host.sinks), sorted(host.sources))
    for plugin, message in host.errors:
        print(plugin, "|", message)
""")


@pytest.mark.parametrize("module, blocked, message", [
    ("hromada_plugins.sources.chirpstack", ["aiomqtt"],
     "the chirpstack plugin needs aiomqtt, which is not installed: pip install "
     "'hromada[mqtt]'"),
    ("hromada_plugins.sources.tts", ["aiomqtt"],
     "the tts plugin needs aiomqtt, which is not installed: pip install 'hromada[mqtt]'"),
    ("hromada_plugins.sinks.postgres", ["psycopg"],
     "the postgres sink needs psycopg 3, which is not installed: pip install "
     "'hromada[postgres]'"),
    ("hromada_plugins.sinks.mqtt", ["paho", "paho.mqtt", "paho.mqtt.client"],
     "the mqtt sink needs paho-mqtt (installed with aiomqtt): pip install "
     "'hromada[mqtt]'"),
])
def test_a_missing_library_names_the_extra_and_the_other_plugins_load(
        tmp_path, module, blocked, message):
    # cwd: a checkout's own (possibly stale) egg-info must not stand in for the install
    out = subprocess.run([sys.executable, "-c", MISSING.format(module=module,
                                                               blocked=blocked)],
                         capture_output=True, text=True, timeout=60, check=True,
                         cwd=tmp_path).stdout
    lines = out.splitlines()
    assert lines[0] == message
    assert "sqlite" in lines[1] and "simulator" in lines[1]
    plugin = module.rsplit(".", 1)[1]
    assert f"{plugin} | failed to import {module}: ImportError: {message}" in lines[2:]


def test_refused_or_downgraded_subscriptions(caplog):
    opts, _ = _source("chirpstack", {"application_id": "app1", "qos": 1})

    async def main():
        return chirpstack.ChirpStackSource("src", opts, _City({})).sub

    sub = run(main())
    with pytest.raises(sub.aiomqtt.MqttError) as exc:
        sub._check_granted([0x80])
    assert str(exc.value) == ("the broker refused the subscription to "
                              "application/app1/device/+/event/+")
    sub._check_granted([1])
    assert caplog.text == ""
    sub._check_granted([0])
    sub._check_granted([0])
    assert caplog.text.count("granted QoS 0, not 1") == 1


class _Raw:
    """An MQTT message whose payload is given as bytes (not JSON-encoded here)."""

    def __init__(self, topic, payload):
        self.topic = _Msg(topic, None).topic
        self.payload = payload


DEEP = b"[" * 100_000 + b"]" * 100_000


def test_one_malformed_chirpstack_message_costs_only_itself_not_its_batch():
    opts, devices = _source("chirpstack", {"application_id": "app1"}, [DEV_A])
    topic = f"application/app1/device/{DEV_A}/event/up"
    port0 = chirpstack_up(DEV_A, 7, b"\x03\x01", fport=0)  # MAC commands, not app data
    del port0["fPort"]  # proto3 JSON leaves a zero port out

    async def main():
        src = chirpstack.ChirpStackSource("src", opts, _City(devices))
        ctx = StubCtx()
        src.ctx, src.report = ctx, _mqtt.Reporter(ctx, "cs")
        records = src.handle([
            _Msg(topic, chirpstack_up(DEV_A, 10**30, LPP_A)),
            _Msg(topic, {"deviceInfo": {"devEui": 123}, "fPort": 1, "data": "AA=="}),
            _Msg(topic, chirpstack_up(DEV_A, 3, LPP_A, fport="x")),
            _Msg(topic, chirpstack_up(DEV_A, 4, LPP_A, fport=True)),
            _Msg(topic, chirpstack_up(DEV_A, 5, LPP_A, rx=[{"gatewayId": "g",
                                                              "rssi": 10**30}])),
            _Raw(topic, DEEP),
            _Msg(topic, port0),
            _Msg(topic, chirpstack_up(DEV_A, 6, LPP_A, fport=2))])
        return [msgpack.unpackb(r)[:5] for r in records], ctx.errors

    records, errors = run(main())
    assert records == [["lorawan", DEV_A, 2, 6, 1772359200.5]]
    assert errors == [
        ("frame", f"cs: up event on {topic}: ValueError: fCnt "
                  "1000000000000000000000000000000 is not an integer 0..4294967295"),
        ("frame", f"cs: up event on {topic}: ValueError: deviceInfo.devEui 123 is not "
                  "a string"),
        ("frame", f"cs: up event on {topic}: ValueError: fPort 'x' is not an integer "
                  "0..255"),
        ("frame", f"cs: up event on {topic}: ValueError: fPort True is not an integer "
                  "0..255"),
        ("frame", f"cs: up event on {topic}: OverflowError: Integer value out of range"),
        ("frame", f"cs: message on {topic} is not a ChirpStack event: JSON nested too "
                  "deeply"),
    ]


def test_one_malformed_tts_message_costs_only_itself_not_its_batch():
    opts, devices = _source("tts", {"application_id": "app1", "webhook": "127.0.0.1:0"},
                            [DEV_A])
    topic = "v3/app1@ttn/devices/x/up"
    anonymous = tts_up(DEV_A, 1, LPP_A)
    del anonymous["end_device_ids"]["dev_eui"], anonymous["end_device_ids"]["device_id"]
    port0 = tts_up(DEV_A, 9, b"\x03\x01", fport=0)
    no_payload = tts_up(DEV_A, 10, b"", fport=4)
    del no_payload["uplink_message"]["frm_payload"]

    async def main():
        src = tts.TTSSource("src", opts, _City(devices))
        ctx = StubCtx()
        src.ctx, src.report = ctx, _mqtt.Reporter(ctx, "tts")
        records = src.handle([
            _Msg(topic, tts_up(DEV_A, 10**30, LPP_A)),
            _Msg(topic, anonymous),
            _Msg(topic, tts_up(DEV_A, 2, LPP_A, fport=256)),
            _Raw(topic, DEEP),
            _Msg(topic, port0),
            _Msg(topic, no_payload),
            _Msg(topic, tts_up(DEV_A, 3, LPP_A, fport=2))])
        return [msgpack.unpackb(r)[:6] for r in records], ctx.errors

    records, errors = run(main())
    assert records == [["lorawan", DEV_A, 4, 10, 1772359200.25, b""],
                       ["lorawan", DEV_A, 2, 3, 1772359200.25, LPP_A]]
    assert errors == [
        ("frame", f"tts: message on {topic}: ValueError: f_cnt "
                  "1000000000000000000000000000000 is not an integer 0..4294967295"),
        ("frame", f"tts: message on {topic}: ValueError: end_device_ids has neither "
                  "dev_eui nor device_id"),
        ("frame", f"tts: message on {topic}: ValueError: f_port 256 is not an integer "
                  "0..255"),
        ("frame", f"tts: message on {topic} is not a The Things Stack message: JSON "
                  "nested too deeply"),
    ]


def test_a_content_length_of_non_ascii_digits_is_a_bad_request():
    async def handler(req):
        return 200, "ok"

    async def main():
        server = http.HttpServer(handler, "127.0.0.1", 0, "test")
        await server.start()
        try:
            # '\xb2' (superscript two) passes str.isdigit() but is no decimal number
            return await asyncio.to_thread(
                raw_http, server.port,
                b"POST /a HTTP/1.1\r\nContent-Length: \xb2\r\n\r\nab")
        finally:
            await server.close()

    assert run(main()).split("\r\n", 1)[0] == "HTTP/1.1 400 Bad Request"


def test_broker_url_errors_never_repeat_a_password_and_credentials_are_unquoted():
    with pytest.raises(ValueError) as exc:
        _mqtt.parse_url("mqtt://hromada:s3cr#t@broker:1883", "sinks.bus.url")
    assert str(exc.value) == (
        "sinks.bus.url: not a broker URL (the port is not a number); use "
        "mqtt://host:port or mqtts://host:port, with '/', '?', '#' and '@' in a user "
        "name or password percent-encoded (%2F, %3F, %23, %40)")
    u = _mqtt.parse_url("mqtts://city%40lns:s3cr%23t%2F@broker")
    assert (u.username, u.password, u.host) == ("city@lns", "s3cr#t/", "broker")
