"""The ``tts`` source: uplinks from The Things Stack v3 (The Things Network, TTI).

Two ways in, either or both:

* MQTT (``url``): The Things Stack's MQTT server publishes each uplink on
  ``v3/{application_id}@{tenant}/devices/{device_id}/up``; the user name is
  ``{application_id}@{tenant}`` and the password an API key.  Downlinks are published
  to ``.../devices/{device_id}/down/push`` (or ``down/replace``).
* Webhook (``webhook = "127.0.0.1:8090"``): The Things Stack POSTs the same JSON to a
  small HTTP server here.  Without MQTT, downlinks go to the push URL and API key the
  webhook requests carry (``X-Downlink-Push``, ``X-Downlink-Apikey``).

The application payload (``uplink_message.frm_payload``) is decoded by the city's
device with that DevEUI (``end_device_ids.dev_eui``, case-insensitive) or, for devices
without one, that device id.  A device whose model is ``tts/decoded`` takes The Things
Stack's ``decoded_payload`` instead.  Join, downlink ack/nack/sent/failed messages
become hromada events (``lorawan.*``).  See README.md for a city example.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import re

import hromada
from hromada import Event, Option, SourceType, lorawan

from .. import _mqtt
from . import webhook as http

_mqtt.require_aiomqtt("tts")

log = logging.getLogger("hromada.tts")

DECODED_MODEL = "tts/decoded"
PRIORITIES = ("LOWEST", "LOW", "BELOW_NORMAL", "NORMAL", "ABOVE_NORMAL", "HIGH", "HIGHEST")
_EUI = re.compile(r"^[0-9a-f]{16}$")
_EVENT_TOPICS = ("join", "down/ack", "down/nack", "down/sent", "down/failed")


class BadMessage(ValueError):
    """A message that is not a The Things Stack message (counted, not fatal)."""


class TTSSource:
    """One application of one The Things Stack deployment."""

    def __init__(self, name, options, city):
        self.name = name
        self.recent = _mqtt.Redeliveries()
        self.label = f"tts source {name}"
        app, tenant = options["application_id"], options["tenant"]
        for what, v in (("application_id", app), ("tenant", tenant)):
            if any(c in v for c in "/+#@"):
                raise ValueError(f"sources.{name}.{what}: {v!r} may not contain '/', '+', "
                                 "'#' or '@'")
        if not app:
            raise ValueError(f"sources.{name}.application_id: empty")
        # The Things Stack Open Source has no tenants: then ids are the bare application id.
        self.app_id = f"{app}@{tenant}" if tenant else app
        self.base = f"v3/{self.app_id}/devices"
        self.with_events = options["events"]
        self.priority = options["priority"]
        self.down = options["downlink"]
        self.api_key = _mqtt.secret(options["api_key"]) if options["api_key"] else ""
        self.sub = None
        if options["url"]:
            topics = [f"{self.base}/+/up"]
            if self.with_events:
                topics += [f"{self.base}/+/{t}" for t in _EVENT_TOPICS]
            self.sub = _mqtt.Subscriber(self.label, options, topics,
                                        username=self.app_id, password=self.api_key or "")
        self.listen = http.parse_listen(options["webhook"], f"sources.{name}.webhook") \
            if options["webhook"] else None
        if self.sub is None and self.listen is None:
            raise ValueError(f"sources.{name}: give url (MQTT), webhook (HTTP), or both")
        token = options["webhook_token"]
        self._token = _mqtt.secret(token).encode() if token else None
        self.server = None
        self.listening = None
        self.devices = city.devices
        self.decoded_devices = frozenset(
            d.id for d in city.devices.values() if d.model == DECODED_MODEL)
        # city device id -> The Things Stack device id (downlink topics use the latter)
        self.tts_ids = {}
        # city device id -> (push URL, replace URL, API key) from webhook requests
        self.webhook_down = {}
        self.ctx = None

    @property
    def connected(self):
        """Set once every configured way in is up (tests and benchmarks wait for it)."""
        return self.sub.connected if self.sub is not None else self.listening

    @property
    def webhook_port(self):
        return self.server.port if self.server is not None else None

    async def run(self, ctx):
        self.ctx = ctx
        self.report = _mqtt.Reporter(ctx, self.label)
        self.listening = asyncio.Event()
        tasks = []
        if self.listen is not None:
            self.server = http.HttpServer(self._webhook, *self.listen, self.label)
            await self.server.start()
            self.listening.set()
            log.info("%s: webhook listening on %s:%d", self.label, self.listen[0] or "*",
                     self.server.port)
            tasks.append(asyncio.ensure_future(ctx.stopping.wait()))
        if self.sub is not None:
            tasks.append(asyncio.ensure_future(self.sub.run(ctx, self.handle)))
        try:
            await asyncio.gather(*tasks)
        finally:
            for t in tasks:
                t.cancel()
            if self.server is not None:
                await self.server.close()

    # -- uplinks -----------------------------------------------------------------------

    def handle(self, messages):
        """MQTT messages -> packed ring records."""
        records = []
        for m in messages:
            try:
                rec = self.handle_json(m.payload, m.topic.value)
            except BadMessage as exc:
                self.report.bad(str(exc))
                continue
            if rec is not None:
                records.append(rec)
        return records

    def handle_json(self, body, where, headers=None):
        """One message body -> a packed record or None; BadMessage when malformed."""
        try:
            doc = _mqtt.load_json(body)
            if not isinstance(doc, dict):
                raise ValueError(f"a JSON {type(doc).__name__}, not an object")
        except ValueError as exc:
            raise BadMessage(f"message on {where} is not a The Things Stack message: "
                             f"{exc}") from None
        try:
            return self.handle_doc(doc, headers)
        except _mqtt.MESSAGE_ERRORS as exc:
            raise BadMessage(f"message on {where}: {type(exc).__name__}: {exc}") from None

    def _device(self, doc):
        ids = doc["end_device_ids"]
        tts_id = ids.get("device_id") or ""
        eui = (ids.get("dev_eui") or "").lower()
        if not eui and not tts_id:
            raise ValueError("end_device_ids has neither dev_eui nor device_id")
        dev = eui if eui and (eui in self.devices or tts_id.lower() not in self.devices) \
            else tts_id.lower()
        if tts_id:
            self.tts_ids[dev] = tts_id
        return dev

    def handle_doc(self, doc, headers=None):
        """One message (MQTT or webhook) -> a packed record, or None (event, ignored)."""
        dev = self._device(doc)
        if headers and dev in self.devices and "x-downlink-push" in headers:
            self.webhook_down[dev] = (headers["x-downlink-push"],
                                      headers.get("x-downlink-replace"),
                                      headers.get("x-downlink-apikey"))
        up = doc.get("uplink_message")
        if up is not None:
            return self._uplink(doc, up, dev)
        if self.with_events and dev in self.devices:
            self._event(doc, dev)
        return None

    def _uplink(self, doc, up, dev):
        fport = _mqtt.frame_int(up.get("f_port"), "f_port", 255)
        fcnt = _mqtt.frame_int(up.get("f_cnt"), "f_cnt", 0xFFFFFFFF)
        if not fport:
            return None  # MAC-only uplink, or MAC commands on port 0: no application data
        if dev in self.decoded_devices:
            obj = up.get("decoded_payload")
            if obj is None:
                self.report.bad(f"uplink of {dev} has no decoded_payload (its model "
                                f"{DECODED_MODEL} needs a payload formatter)", device=dev)
                return None
            payload = json.dumps(obj, separators=(",", ":")).encode()
        else:
            data = up.get("frm_payload")
            payload = _mqtt.unb64(data) if data else b""
        if self.recent.again(dev, fcnt, payload,
                             up.get("received_at") or doc.get("received_at")):
            self.ctx.count_error("duplicate")  # a redelivery (QoS 1, webhook retry)
            return None
        when = up.get("received_at") or doc.get("received_at")
        t = _mqtt.iso_time(when) if when else _mqtt.now()
        rx = _mqtt.best_rx(up.get("rx_metadata") or (),
                           lambda e: (e.get("gateway_ids") or {}).get("gateway_id"))
        return self.ctx.pack(payload, network="lorawan", device=dev, fport=fport,
                             fcnt=fcnt, time=t, rx=rx)

    def _event(self, doc, dev):
        when = doc.get("received_at")
        t = _mqtt.iso_time(when) if when else _mqtt.now()
        severity = "info"
        if "join_accept" in doc:
            kind = "lorawan.join"
            data = {"dev_addr": doc["end_device_ids"].get("dev_addr")}
        elif "downlink_ack" in doc or "downlink_nack" in doc:
            acked = "downlink_ack" in doc
            msg = doc.get("downlink_ack") or doc.get("downlink_nack") or {}
            kind = "lorawan.ack"
            data = {"acknowledged": acked, "fcnt_down": msg.get("f_cnt", 0),
                    "f_port": msg.get("f_port", 0)}
            severity = "info" if acked else "warning"
        elif "downlink_sent" in doc:
            msg = doc["downlink_sent"]
            kind = "lorawan.txack"
            data = {"fcnt_down": msg.get("f_cnt", 0), "f_port": msg.get("f_port", 0)}
        elif "downlink_failed" in doc:
            failed = doc["downlink_failed"]
            err = failed.get("error") or {}
            kind, severity = "lorawan.downlink_failed", "warning"
            data = {"f_port": (failed.get("downlink") or {}).get("f_port", 0),
                    "error": err.get("message_format") or err.get("name") or ""}
        else:
            return
        self.ctx.emit(Event(kind, severity, dev, t, data, self.name))

    async def _webhook(self, req):
        if req.method != "POST":
            return 405, "POST The Things Stack webhook messages here"
        if self._token is not None:
            given = req.headers.get("authorization", "").encode("latin-1")
            if not hmac.compare_digest(given, b"Bearer " + self._token):
                self.ctx.count_error("webhook", f"{self.label}: request without the "
                                                "webhook token refused (401)")
                return 401, "missing or wrong Authorization: Bearer token"
        if self.ctx.stopping.is_set():
            return 503, "stopping"
        try:
            rec = self.handle_json(req.body, f"webhook {req.target}", req.headers)
        except BadMessage as exc:
            self.report.bad(str(exc))
            return 400, str(exc)
        if rec is None:
            return 204, ""
        # Answer only once the frame is in the ring: a failed request is retried by
        # The Things Stack, a lost one is not.
        await self.ctx.put([rec])
        return 204, ""

    # -- downlinks ---------------------------------------------------------------------

    async def send(self, command):
        """Push a downlink (bytes already encoded by the model)."""
        problem = lorawan.app_fport_problem(command.device, command.fport)
        if problem is not None:
            self.ctx.count_error("downlink", problem, device=command.device)
            return
        dev = command.device.lower()
        body = json.dumps({"downlinks": [{
            "f_port": command.fport, "frm_payload": _mqtt.b64(command.payload or b""),
            "priority": self.priority, "confirmed": bool(command.confirmed)}]},
            separators=(",", ":")).encode()
        if self.sub is not None:
            tts_id = self.tts_ids.get(dev) or (f"eui-{dev}" if _EUI.match(dev) else dev)
            await self.sub.publish(f"{self.base}/{tts_id}/down/{self.down}", body)
            return
        target = self.webhook_down.get(dev)
        if target is None:
            raise RuntimeError(f"{self.label}: no way to send a downlink to {dev}: no MQTT "
                               "url, and no webhook request from it carried a push URL")
        push, replace, key = target
        url = replace if self.down == "replace" and replace else push
        key = key or self.api_key
        headers = [("Authorization", f"Bearer {key}")] if key else []
        status = await http.post_json(url, body, headers)
        if status >= 300:
            raise RuntimeError(f"{self.label}: downlink for {dev} refused by The Things "
                               f"Stack: HTTP {status}")


@hromada.hookimpl
def hromada_sources():
    return [
        SourceType(
            name="tts",
            factory=TTSSource,
            downlinks=True,
            help="Uplinks and device events from The Things Stack v3 (MQTT server and/or "
                 "webhook); downlinks pushed back.",
            options=(
                Option("application_id", "str", help="application id in The Things Stack"),
                Option("tenant", "str", default="ttn",
                       help="tenant id ('ttn' on The Things Network; empty for The Things "
                            "Stack Open Source)"),
                Option("url", "str", default="",
                       help="MQTT server, e.g. mqtts://eu1.cloud.thethings.network:8883 "
                            "(empty: no MQTT)"),
                Option("api_key", "str", default="", secret=True,
                       help="API key (the MQTT password); 'env:NAME' reads it from the "
                            "environment"),
                Option("webhook", "str", default="",
                       help="host:port to receive webhook POSTs on (empty: no webhook)"),
                Option("webhook_token", "str", default="", secret=True,
                       help="when set, webhook requests must carry 'Authorization: Bearer "
                            "TOKEN' (an additional header in the webhook's settings)"),
                Option("priority", "str", default="NORMAL", choices=PRIORITIES,
                       help="downlink priority"),
                Option("downlink", "str", default="push", choices=("push", "replace"),
                       help="push adds to the device's downlink queue, replace replaces it"),
                Option("events", "bool", default=True,
                       help="turn join and downlink ack/nack/sent/failed messages into "
                            "hromada events (lorawan.*)"),
                *_mqtt.broker_options(
                    qos_default=0, credentials=False,
                    qos_help="MQTT quality of service (The Things Stack's MQTT server "
                             "grants QoS 0 only; 1 for a broker that bridges it)"),
            ),
        )
    ]


@hromada.hookimpl
def hromada_device_models():
    return [_mqtt.server_json_model(DECODED_MODEL,
                                    "The Things Stack's payload formatter 'decoded_payload'")]
