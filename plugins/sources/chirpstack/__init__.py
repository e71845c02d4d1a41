"""The ``chirpstack`` source: uplinks from a ChirpStack v4 network server over MQTT.

ChirpStack's MQTT integration publishes one JSON document per device event on
``{topic_prefix}/{application_id}/device/{devEui}/event/{type}``.  Uplinks (``up``)
carry the application payload base64 in ``data``; the city's device with that DevEUI
(case-insensitive) decodes it with its model, so ChirpStack needs no payload codec.
A device whose model is ``chirpstack/object`` takes ChirpStack's own decoded ``object``
instead.  ``join``, ``ack``, ``txack``, ``status`` and ``log`` events become hromada
events (``lorawan.join`` ...).  Downlinks from services go out as ChirpStack downlink
commands on ``.../device/{devEui}/command/down``.

See README.md next to this file for a city example.
"""

from __future__ import annotations

import json

import hromada
from hromada import Event, Option, SourceType, lorawan

from .. import _mqtt

_mqtt.require_aiomqtt("chirpstack")

OBJECT_MODEL = "chirpstack/object"

_LOG_SEVERITY = {"INFO": "info", "WARNING": "warning", "ERROR": "warning"}


class ChirpStackSource:
    """One application of one ChirpStack server."""

    def __init__(self, name, options, city):
        self.name = name
        self.recent = _mqtt.Redeliveries()
        self.prefix = options["topic_prefix"].strip("/")
        self.app = options["application_id"]
        if not self.app or any(c in self.app for c in "/+#"):
            raise ValueError(f"sources.{name}.application_id: {self.app!r} is not an "
                             "application id (no '/', '+' or '#')")
        self.base = f"{self.prefix}/{self.app}/device"
        self.with_events = options["events"]
        self.sub = _mqtt.Subscriber(f"chirpstack source {name}", options,
                                    [f"{self.base}/+/event/+"])
        self.ctx = None
        self.object_devices = frozenset(
            d.id for d in city.devices.values() if d.model == OBJECT_MODEL)
        self.devices = city.devices

    @property
    def connected(self):
        """Set while subscribed to the broker (tests and benchmarks wait for it)."""
        return self.sub.connected

    async def run(self, ctx):
        self.ctx = ctx
        self.report = _mqtt.Reporter(ctx, f"chirpstack source {self.name}")
        await self.sub.run(ctx, self.handle)

    def handle(self, messages):
        """MQTT messages -> packed ring records (events emitted on the way)."""
        records = []
        for m in messages:
            topic = m.topic.value
            kind = topic.rsplit("/", 1)[-1]
            try:
                doc = _mqtt.load_json(m.payload)
                if not isinstance(doc, dict):
                    raise ValueError(f"a JSON {type(doc).__name__}, not an object")
            except ValueError as exc:
                self.report.bad(f"message on {topic} is not a ChirpStack event: {exc}")
                continue
            try:
                if kind == "up":
                    rec = self.uplink(doc, topic)
                    if rec is not None:
                        records.append(rec)
                elif self.with_events:
                    self.event(kind, doc, topic)
            except _mqtt.MESSAGE_ERRORS as exc:
                self.report.bad(f"{kind} event on {topic}: {type(exc).__name__}: {exc}")
        return records

    def _dev_eui(self, doc, topic):
        info = doc.get("deviceInfo")
        eui, field = (info.get("devEui"), "deviceInfo.devEui") if isinstance(info, dict) \
            else (None, "")
        if not eui:
            # Older documents carry it top-level; the topic always has it.
            eui, field = doc.get("devEui") or topic.split("/")[-3], "devEui"
        if not isinstance(eui, str):
            raise ValueError(f"{field} {eui!r:.40} is not a string")
        return eui.lower()

    def uplink(self, doc, topic):
        dev = self._dev_eui(doc, topic)
        fport = _mqtt.frame_int(doc.get("fPort"), "fPort", 255)
        fcnt = _mqtt.frame_int(doc.get("fCnt"), "fCnt", 0xFFFFFFFF)
        if not fport:
            # No port: a MAC-only uplink; port 0: the payload is MAC commands.  Neither
            # is application data for the device's model.
            return None
        if dev in self.object_devices:
            obj = doc.get("object")
            if obj is None:
                self.report.bad(f"uplink of {dev} has no 'object' (its model "
                                f"{OBJECT_MODEL} needs a codec in ChirpStack)", device=dev)
                return None
            payload = json.dumps(obj, separators=(",", ":")).encode()
        else:
            data = doc.get("data")
            payload = _mqtt.unb64(data) if data else b""
        t = _mqtt.iso_time(doc["time"]) if doc.get("time") else _mqtt.now()
        if self.recent.again(dev, fcnt, payload, doc.get("deduplicationId") or doc.get("time")):
            self.ctx.count_error("duplicate")  # a QoS 1 redelivery, already in the ring
            return None
        rx = _mqtt.best_rx(doc.get("rxInfo") or (), lambda e: e.get("gatewayId"))
        return self.ctx.pack(payload, network="lorawan", device=dev, fport=fport,
                             fcnt=fcnt, time=t, rx=rx)

    def event(self, kind, doc, topic):
        dev = self._dev_eui(doc, topic)
        if dev not in self.devices:
            return  # the city does not know it; its uplinks are reported by the kernel
        t = _mqtt.iso_time(doc["time"]) if doc.get("time") else _mqtt.now()
        severity = "info"
        if kind == "join":
            kind, data = "lorawan.join", {"dev_addr": doc.get("devAddr")}
        elif kind == "ack":
            acked = bool(doc.get("acknowledged"))
            kind, data = "lorawan.ack", {"acknowledged": acked,
                                         "fcnt_down": doc.get("fCntDown", 0),
                                         "queue_item_id": doc.get("queueItemId")}
            severity = "info" if acked else "warning"
        elif kind == "txack":
            kind, data = "lorawan.txack", {"fcnt_down": doc.get("fCntDown", 0),
                                           "gateway": doc.get("gatewayId"),
                                           "queue_item_id": doc.get("queueItemId")}
        elif kind == "status":
            kind, data = "lorawan.status", {
                "margin": doc.get("margin", 0),
                "battery_level": doc.get("batteryLevel"),
                "external_power_source": bool(doc.get("externalPowerSource")),
                "battery_level_unavailable": bool(doc.get("batteryLevelUnavailable"))}
        elif kind == "log":
            severity = _LOG_SEVERITY.get(doc.get("level", "INFO"), "warning")
            kind, data = "lorawan.log", {"code": doc.get("code"),
                                         "description": doc.get("description"),
                                         "context": doc.get("context") or {}}
        else:
            return  # location, integration: nothing a city service uses yet
        self.ctx.emit(Event(kind, severity, dev, t, data, self.name))

    async def send(self, command):
        """Queue a downlink in ChirpStack (bytes already encoded by the model)."""
        problem = lorawan.app_fport_problem(command.device, command.fport)
        if problem is not None:
            self.ctx.count_error("downlink", problem, device=command.device)
            return
        dev = command.device.lower()
        body = {"devEui": dev, "confirmed": bool(command.confirmed),
                "fPort": command.fport, "data": _mqtt.b64(command.payload or b"")}
        await self.sub.publish(f"{self.base}/{dev}/command/down",
                               json.dumps(body, separators=(",", ":")).encode())


@hromada.hookimpl
def hromada_sources():
    return [
        SourceType(
            name="chirpstack",
            factory=ChirpStackSource,
            downlinks=True,
            help="Uplinks and device events from a ChirpStack v4 network server (MQTT "
                 "integration); downlinks as ChirpStack commands.",
            options=(
                Option("url", "str", default="mqtt://127.0.0.1:1883",
                       help="broker: mqtt://host:port, or mqtts://host:port for TLS"),
                Option("application_id", "str",
                       help="ChirpStack application id (the UUID in the topics)"),
                Option("topic_prefix", "str", default="application",
                       help="first topic level (ChirpStack's event_topic prefix)"),
                Option("events", "bool", default=True,
                       help="turn join, ack, txack, status and log events into hromada "
                            "events (lorawan.*)"),
                *_mqtt.broker_options(qos_default=1),
            ),
        )
    ]


@hromada.hookimpl
def hromada_device_models():
    return [_mqtt.server_json_model(OBJECT_MODEL, "ChirpStack's codec 'object'")]
