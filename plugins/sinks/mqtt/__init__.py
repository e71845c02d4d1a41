"""The ``mqtt`` sink: republish readings and events to an MQTT broker.

Each reading goes to ``reading_topic`` (default ``hromada/{city}/{device}/{quantity}``)
and each event to ``event_topic`` (default ``hromada/{city}/events/{kind}``), as JSON or
msgpack maps::

    reading: {"device", "time", "quantity", "value", "unit"}
    event:   {"kind", "severity", "device", "time", "source", "data"}

``time`` is POSIX seconds (UTC).  Template fields: ``{city}``, ``{device}``,
``{quantity}``, ``{unit}`` for readings; ``{city}``, ``{kind}``, ``{severity}``,
``{device}``, ``{source}`` for events; ``/``, ``+``, ``#``, NUL and lone surrogates
inside a value become ``_`` so that a value never adds a topic level or a wildcard, nor
makes a topic the broker refuses.  In JSON a number that is not finite (NaN), also
inside a list or map, is written as null; msgpack keeps it.

With QoS 1 (the default) a batch is written when the broker has acknowledged every
message of it; a batch the broker does not acknowledge within ``timeout``
fails (the kernel reports it) while paho keeps the messages and sends them on the
next connection.  paho-mqtt comes with ``aiomqtt`` (``pip install 'hromada[mqtt]'``).
"""

from __future__ import annotations

import json
import logging
import math
import string
import threading
import time

import msgpack

import hromada
from hromada import Option, SinkType
from hromada_plugins.sources import _mqtt

try:
    import paho.mqtt.client as paho
    from paho.mqtt.enums import CallbackAPIVersion
except ImportError:
    raise ImportError("the mqtt sink needs paho-mqtt (installed with aiomqtt): "
                      "pip install 'hromada[mqtt]'") from None

log = logging.getLogger("hromada.mqtt")

READING_FIELDS = ("city", "device", "quantity", "unit")
EVENT_FIELDS = ("city", "kind", "severity", "device", "source")
MAX_INFLIGHT = 1000
MAX_QUEUED = 200_000
# '/', '+', '#' would add a topic level or a wildcard; MQTT forbids U+0000 in a topic
# (the broker drops the connection, and paho resends the message on every new one), and
# a lone surrogate cannot be sent as UTF-8 at all.
_CLEAN = {ord(c): "_" for c in "/+#\x00"} | {cp: "_" for cp in range(0xD800, 0xE000)}


def _check_template(template, fields, where):
    try:
        names = {f for _, f, _, _ in string.Formatter().parse(template) if f is not None}
    except ValueError as exc:
        raise ValueError(f"{where}: {template!r} is not a topic template: {exc}") from None
    unknown = sorted(n for n in names if n not in fields)
    if unknown:
        raise ValueError(f"{where}: unknown field(s) {', '.join(unknown)} in {template!r}; "
                         f"allowed: {', '.join(fields)}")
    if "+" in template or "#" in template:
        raise ValueError(f"{where}: {template!r}: a topic to publish to has no wildcards")
    return template


def _clean(v):
    return "" if v is None else str(v).translate(_CLEAN)


class MqttSink:
    def __init__(self, name, options, city):
        self.name = name
        self.label = f"mqtt sink {name}"
        self.url = _mqtt.parse_url(options["url"], f"sinks.{name}.url")
        self.username = options["username"] or self.url.username or None
        self._password = _mqtt.secret(options["password"] or self.url.password or "") or None
        self.qos = options["qos"]
        self.retain = options["retain"]
        self.client_id = options["client_id"] or ""
        self.clean_session = options["clean_session"]
        if not self.clean_session and not self.client_id:
            raise ValueError(f"sinks.{name}: clean_session = false needs a fixed client_id")
        self.keepalive = options["keepalive"]
        self.backoff = options["reconnect_min"], options["reconnect_max"]
        self.tls = _mqtt.tls_context(self.url, options["ca_file"], options["cert_file"],
                                     options["key_file"])
        self.reading_topic = _check_template(options["reading_topic"], READING_FIELDS,
                                             f"sinks.{name}.reading_topic")
        self.event_topic = _check_template(options["event_topic"], EVENT_FIELDS,
                                           f"sinks.{name}.event_topic")
        self.readings, self.events = options["readings"], options["events"]
        self.format = options["format"]
        # one option for both waits: the first connection, and a batch's acknowledgements
        self.timeout = self.connect_timeout = options["timeout"]
        self.city = _clean(city.name if city is not None else "")
        self.client = None
        self.published = 0
        self.dropped = 0
        self._cond = threading.Condition()
        self._acked = set()
        self._connected = threading.Event()

    def __repr__(self):
        return f"<MqttSink {self.name} {self.url}>"

    # -- connection (paho's network thread does the I/O and the reconnects) ---------------

    def open(self):
        c = paho.Client(CallbackAPIVersion.VERSION2, client_id=self.client_id,
                        clean_session=self.clean_session, protocol=paho.MQTTv311)
        if self.username:
            c.username_pw_set(self.username, self._password)
        if self.tls is not None:
            c.tls_set_context(self.tls)
        c.max_inflight_messages_set(MAX_INFLIGHT)
        c.max_queued_messages_set(MAX_QUEUED)
        c.reconnect_delay_set(max(1, round(self.backoff[0])), max(1, round(self.backoff[1])))
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.on_publish = self._on_publish
        c.connect_async(self.url.host, self.url.port, self.keepalive)
        c.loop_start()
        self.client = c
        if not self._connected.wait(self.connect_timeout):
            self.close()
            raise ConnectionError(f"{self.label}: broker {self.url} did not accept a "
                                  f"connection within {self.connect_timeout:g}s")

    def _on_connect(self, client, userdata, flags, reason_code, properties):
        if reason_code.is_failure:
            log.warning("%s: broker %s refused the connection: %s", self.label, self.url,
                        reason_code)
            return
        self._connected.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties):
        if self._connected.is_set() and self.client is not None:
            log.warning("%s: connection to %s lost (%s); paho reconnects", self.label,
                        self.url, reason_code)
        self._connected.clear()

    def _on_publish(self, client, userdata, mid, reason_code, properties):
        # Runs on paho's thread with paho's own locks held: only take ours, briefly.
        with self._cond:
            self._acked.add(mid)
            self._cond.notify()

    # -- writing --------------------------------------------------------------------------

    def _encode(self, doc):
        if self.format == "msgpack":
            return msgpack.packb(doc, use_bin_type=True, default=str)
        return json.dumps(doc, separators=(",", ":"), default=str, allow_nan=False)

    def messages(self, readings, events):
        """(topic, payload) of a batch, in order: readings first, then events."""
        city = self.city
        jsonish = self.format == "json"
        if self.readings:
            topic = self.reading_topic
            for r in readings:
                value = _finite(r.value) if jsonish else r.value
                yield (topic.format(city=city, device=_clean(r.device),
                                    quantity=_clean(r.quantity), unit=_clean(r.unit)),
                       self._encode({"device": r.device, "time": r.time,
                                     "quantity": r.quantity, "value": value,
                                     "unit": r.unit}))
        if self.events:
            topic = self.event_topic
            for e in events:
                data = dict(e.data)
                if jsonish:
                    data = _finite(data)
                yield (topic.format(city=city, kind=_clean(e.kind), severity=e.severity,
                                    device=_clean(e.device), source=_clean(e.source)),
                       self._encode({"kind": e.kind, "severity": e.severity,
                                     "device": e.device, "time": e.time, "source": e.source,
                                     "data": data}))

    def write(self, readings, events):
        publish, qos, retain = self.client.publish, self.qos, self.retain
        with self._cond:
            self._acked.clear()
        # Published without holding our lock: paho calls on_publish with its message
        # lock held, and publish() takes that lock, so holding ours here could deadlock.
        mids, dropped, n = [], 0, 0
        for topic, payload in self.messages(readings, events):
            n += 1
            info = publish(topic, payload, qos, retain)
            if info.rc == paho.MQTT_ERR_QUEUE_SIZE:
                dropped += 1
            elif qos:
                mids.append(info.mid)
        missing = set(mids)
        deadline = time.monotonic() + self.timeout
        with self._cond:
            while True:
                missing -= self._acked
                self._acked.clear()
                left = deadline - time.monotonic()
                if not missing or left <= 0:
                    break
                self._cond.wait(left)
        waiting = len(missing)
        self.published += n - dropped - waiting
        self.dropped += dropped
        if dropped or waiting:
            raise RuntimeError(
                f"{self.label}: {waiting} of {n} message(s) not acknowledged by {self.url} "
                f"within {self.timeout:g}s (kept for the next connection), {dropped} "
                f"dropped (over {MAX_QUEUED} waiting)")

    def close(self):
        c, self.client = self.client, None
        if c is not None:
            c.disconnect()
            c.loop_stop()


def _finite(obj):
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    if isinstance(obj, bytes | bytearray):
        return bytes(obj).hex()
    return obj


@hromada.hookimpl
def hromada_sinks():
    return [
        SinkType(
            name="mqtt",
            factory=MqttSink,
            help="Republish readings and events to an MQTT broker (topic templates, JSON "
                 "or msgpack, QoS 1).",
            options=(
                Option("url", "str", default="mqtt://127.0.0.1:1883",
                       help="broker: mqtt://host:port, or mqtts://host:port for TLS"),
                Option("reading_topic", "str", default="hromada/{city}/{device}/{quantity}",
                       help="topic of each reading; fields " + ", ".join(READING_FIELDS)),
                Option("event_topic", "str", default="hromada/{city}/events/{kind}",
                       help="topic of each event; fields " + ", ".join(EVENT_FIELDS)),
                Option("format", "str", default="json", choices=("json", "msgpack"),
                       help="payload encoding"),
                Option("readings", "bool", default=True, help="publish readings"),
                Option("events", "bool", default=True, help="publish events"),
                Option("retain", "bool", default=False,
                       help="retained messages (a dashboard sees the last value at once)"),
                *_mqtt.broker_options(qos_default=1),
            ),
        )
    ]
