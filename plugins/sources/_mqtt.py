"""MQTT plumbing shared by the network-server sources (``chirpstack``, ``tts``) and the
``mqtt`` sink: broker URLs, TLS, secrets from the environment, and a subscriber that
reconnects with backoff and acknowledges QoS 1/2 messages only once their frames are in
the kernel's ring.

Why acknowledge late: with a persistent session (fixed client id, clean session off) the
broker keeps every message this client has not acknowledged, across a broker restart or
a restart of hromada.  paho acknowledges on receipt by default, so a message received
but not yet handed to the ring would be lost when the process stops; acknowledging
after ``ctx.put`` closes that gap (at worst a message is delivered twice, and the sinks
that matter are idempotent on replay).

aiomqtt is imported lazily so that the sink and tests can use the URL helpers alone; a
plugin that needs it calls :func:`require_aiomqtt` at import time, which fails with the
extra to install.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import datetime as dt
import json
import logging
import math
import os
import random
import ssl
import time
from urllib.parse import unquote, urlsplit

from hromada import DecodeError, DeviceModel, Example, Option

log = logging.getLogger("hromada.mqtt")

DEFAULT_PORTS = {"mqtt": 1883, "tcp": 1883, "mqtts": 8883, "ssl": 8883, "tls": 8883}
TLS_SCHEMES = ("mqtts", "ssl", "tls")

#: Messages handed to the ring in one ``ctx.put`` at most (and acknowledged together).
MAX_BATCH = 512
#: Downlinks kept while the broker is away; more are refused (and counted).
MAX_PENDING = 1000
#: How many malformed messages are reported as events before they are only counted.
REPORT_LIMIT = 10


def require_aiomqtt(plugin):
    """The aiomqtt module, or an ImportError that names the extra to install."""
    try:
        import aiomqtt
    except ImportError:
        raise ImportError(f"the {plugin} plugin needs aiomqtt, which is not installed: "
                          "pip install 'hromada[mqtt]'") from None
    return aiomqtt


def secret(value):
    """A secret option's value: ``env:NAME`` reads the environment variable NAME.

    The city file then holds no secret at all; a missing variable is an error that
    names the variable, never the value.
    """
    if isinstance(value, str) and value.startswith("env:"):
        name = value[4:]
        if name not in os.environ:
            raise ValueError(f"environment variable {name} (named by a secret option) "
                             "is not set")
        return os.environ[name]
    return value


class BrokerURL:
    """``mqtt://host:port`` or ``mqtts://host:port``; credentials never shown."""

    __slots__ = ("host", "port", "tls", "username", "password")

    def __init__(self, host, port, tls, username=None, password=None):
        self.host, self.port, self.tls = host, port, tls
        self.username, self.password = username, password

    def __str__(self):
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"

    __repr__ = __str__


def parse_url(url, where="url"):
    """Parse a broker URL; ValueError names the option and what is allowed."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        # urlsplit quotes the "port" it could not read, and a password holding '/',
        # '?' or '#' ends the authority early, so that "port" is part of the password.
        reason = "the port is not a number" if "could not be cast" in str(exc) else exc
        raise ValueError(f"{where}: not a broker URL ({reason}); use mqtt://host:port or "
                         "mqtts://host:port, with '/', '?', '#' and '@' in a user name or "
                         "password percent-encoded (%2F, %3F, %23, %40)") from None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        shown = f"{scheme}://{parts.hostname or ''}" if scheme else "(no scheme)"
        raise ValueError(f"{where}: {shown} is not a broker URL; use mqtt://host:port or "
                         "mqtts://host:port (TLS)")
    user, password = parts.username, parts.password
    return BrokerURL(parts.hostname, port or DEFAULT_PORTS[scheme], scheme in TLS_SCHEMES,
                     unquote(user) if user is not None else None,
                     unquote(password) if password is not None else None)


def tls_context(url, ca_file=None, cert_file=None, key_file=None):
    """An SSLContext for ``mqtts://`` (system CAs unless ``ca_file``), else None."""
    if not url.tls:
        if ca_file or cert_file:
            raise ValueError(f"TLS files given but the broker URL {url} is not mqtts://")
        return None
    context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    if cert_file:
        # ChirpStack hands out per-application client certificates for its MQTT broker.
        context.load_cert_chain(str(cert_file), str(key_file) if key_file else None)
    return context


def broker_options(*, qos_default=1, qos_help="", credentials=True):
    """The options every MQTT-based component takes (beyond its own)."""
    creds = (
        Option("username", "str", default="", help="broker user name (empty: none)"),
        Option("password", "str", default="", secret=True,
               help="broker password; 'env:NAME' reads it from the environment"),
    ) if credentials else ()
    return (
        *creds,
        Option("qos", "int", default=qos_default, choices=(0, 1, 2),
               help=qos_help or "MQTT quality of service"),
        Option("client_id", "str", default="",
               help="fixed MQTT client id (needed for a persistent session); empty: a "
                    "random one"),
        Option("clean_session", "bool", default=True,
               help="false keeps a persistent session: the broker queues QoS 1 messages "
                    "while hromada is away (needs client_id)"),
        Option("keepalive", "int", default=60, min=5, help="MQTT keepalive, seconds"),
        Option("timeout", "duration", default="10s", min=0.1,
               help="longest wait for the broker to answer (connect, subscribe, publish)"),
        Option("reconnect_min", "duration", default="1s", min=0.01,
               help="first wait before reconnecting; doubles up to reconnect_max"),
        Option("reconnect_max", "duration", default="60s", min=0.01,
               help="longest wait between reconnection attempts"),
        Option("ca_file", "path", default=None, help="CA bundle for mqtts:// (default: "
                                                      "the system's CAs)"),
        Option("cert_file", "path", default=None, help="client certificate (mqtts://)"),
        Option("key_file", "path", default=None, help="client private key (mqtts://)"),
    )


def b64(data):
    return base64.b64encode(data).decode("ascii")


def unb64(text):
    return base64.b64decode(text, validate=True)


def frame_int(value, field, hi):
    """A port or frame counter from a network server's JSON: an integer 0..hi.

    Absent (None) is 0, as proto3 JSON leaves zero values out; anything else (a
    string, a bool, a number out of range) is a ValueError naming the field.
    """
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= hi:
        raise ValueError(f"{field} {value!r:.40} is not an integer 0..{hi}")
    return value


def load_json(payload):
    """A message's JSON; ValueError for bad JSON, also for JSON nested too deeply."""
    try:
        return json.loads(payload)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


#: Per-message failures that cost only that message (msgpack refuses ints over 64 bits
#: with OverflowError), never the batch it came in.
MESSAGE_ERRORS = (KeyError, TypeError, ValueError, AttributeError, OverflowError)


def iso_time(text):
    """POSIX seconds of an RFC 3339 time as network servers write it (ns precision)."""
    t = dt.datetime.fromisoformat(text)
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.UTC)
    return t.timestamp()


def best_rx(entries, gateway, rssi="rssi", snr="snr"):
    """Small rx metadata from a network server's per-gateway list: the best gateway."""
    best = None
    for e in entries:
        if not isinstance(e, dict):
            continue
        if best is None or e.get(rssi, -math.inf) > best.get(rssi, -math.inf):
            best = e
    if best is None:
        return {}
    rx = {"gateways": len(entries)}
    gw = gateway(best)
    if gw:
        rx["gateway"] = gw
    if rssi in best:
        rx["rssi"] = best[rssi]
    if snr in best:
        rx["snr"] = best[snr]
    return rx


class Redeliveries:
    """MQTT QoS 1 delivers at least once: a message whose acknowledgement was lost with a
    broken connection comes again after the reconnect (and a webhook sender retries a
    request whose answer it missed).  A network server has already removed radio
    duplicates, so the same (fCnt, payload, receive time) of a device again is such a
    redelivery.
    Remembers the last ``per_device`` uplinks of at most ``devices`` devices."""

    def __init__(self, per_device=16, devices=200_000):
        self.per_device = per_device
        self.devices = devices
        self._seen = collections.OrderedDict()

    def again(self, device, fcnt, payload, received=None):
        """True when this uplink was delivered before (and records it if not).

        ``received``: the server's receive time as it wrote it (or its deduplication id):
        a redelivery repeats it, while a device that restarted its counter (a rejoin, a
        reboot) and sends the same payload again does not."""
        key = (fcnt, payload, received)
        recent = self._seen.get(device)
        if recent is None:
            recent = self._seen[device] = collections.deque(maxlen=self.per_device)
            if len(self._seen) > self.devices:
                self._seen.popitem(last=False)
        else:
            self._seen.move_to_end(device)
            if key in recent:
                return True
        recent.append(key)
        return False


class Reporter:
    """Counts malformed input; reports the first few as events, then only counts."""

    def __init__(self, ctx, label):
        self.ctx, self.label, self.reported = ctx, label, 0

    def bad(self, message, device=None):
        if self.reported < REPORT_LIMIT:
            self.reported += 1
            more = "" if self.reported < REPORT_LIMIT else " (further ones only counted)"
            self.ctx.count_error("frame", f"{self.label}: {message}{more}", device=device)
        else:
            self.ctx.count_error("frame", device=device)


def _queue_class(holder):
    # aiomqtt builds its message queue from a class it is given; keeping the instance
    # lets the subscriber drain whole batches without one task per message.
    class Queue(asyncio.Queue):
        def __init__(self, maxsize=0):
            super().__init__(maxsize)
            holder.append(self)

    return Queue


class Subscriber:
    """One broker connection: subscribe, hand batches to the source, publish downlinks.

    ``run(ctx, handle)`` connects (retrying with exponential backoff and jitter),
    subscribes to ``topics`` and, per batch of messages, calls ``handle(messages)``
    (synchronous; returns packed ring records), awaits ``ctx.put`` and only then
    acknowledges the batch.  It returns when ``ctx.stopping`` is set; messages not
    yet handed over stay unacknowledged at the broker.
    """

    def __init__(self, label, options, topics, *, username=None, password=None):
        self.aiomqtt = require_aiomqtt(label.split()[0])
        self.label = label
        self.url = parse_url(options["url"], "url")
        self.username = username if username is not None else (
            options.get("username") or self.url.username or None)
        if password is None:
            password = secret(options.get("password") or self.url.password or "")
        self._password = password or None
        self.qos = options["qos"]
        self.client_id = options.get("client_id") or None
        self.clean_session = options.get("clean_session", True)
        if not self.clean_session and not self.client_id:
            raise ValueError("clean_session = false needs a fixed client_id (the broker "
                             "keeps the session under that id)")
        self.keepalive = options.get("keepalive", 60)
        self.timeout = options.get("timeout", 10.0)
        self.backoff = (options.get("reconnect_min", 1.0), options.get("reconnect_max", 60.0))
        self.tls = tls_context(self.url, options.get("ca_file"), options.get("cert_file"),
                               options.get("key_file"))
        self.topics = list(topics)
        self.connected = asyncio.Event()
        self.client = None
        self.connects = 0
        self.pending = collections.deque()
        self.received = 0
        self._warned_qos = False

    def __repr__(self):
        return f"<Subscriber {self.label} {self.url}>"

    def _client(self, holder):
        client = self.aiomqtt.Client(
            self.url.host, self.url.port, username=self.username, password=self._password,
            identifier=self.client_id, clean_session=self.clean_session,
            keepalive=self.keepalive, tls_context=self.tls, queue_type=_queue_class(holder),
            logger=log, timeout=self.timeout)
        paho = getattr(client, "_client", None)
        # aiomqtt does not expose manual acknowledgement; paho does.  Without it the
        # source still works, with paho's acknowledge-on-receipt.
        self._manual_ack = paho is not None and hasattr(paho, "manual_ack_set")
        if self._manual_ack:
            paho.manual_ack_set(True)
        self._paho = paho
        return client

    async def run(self, ctx, handle):
        aiomqtt = self.aiomqtt
        delay = self.backoff[0]
        streak = 0
        while not ctx.stopping.is_set():
            holder = []
            client = self._client(holder)
            state = "unreachable"
            try:
                async with client:
                    state = "subscription failed"
                    granted = await client.subscribe([(t, self.qos) for t in self.topics])
                    self._check_granted(granted)
                    state = "connection lost"
                    self.client = client
                    self.connects += 1
                    self.connected.set()
                    if streak:
                        log.info("%s: connected to %s again", self.label, self.url)
                    streak, delay = 0, self.backoff[0]
                    await self._flush(client)
                    await self._session(client, holder[0], ctx, handle)
            except aiomqtt.MqttError as exc:
                streak += 1
                msg = (f"{self.label}: broker {self.url} {state} ({exc}); "
                       f"retrying in {delay:.1f}s")
                log.warning("%s", msg)
                if streak == 1:
                    ctx.count_error("connection", msg)
                else:
                    ctx.count_error("connection")
            finally:
                self.connected.clear()
                self.client = None
            if ctx.stopping.is_set():
                break
            if streak:
                try:
                    await asyncio.wait_for(ctx.stopping.wait(),
                                           delay * random.uniform(0.8, 1.2))
                except TimeoutError:
                    pass
                delay = min(delay * 2, self.backoff[1])
        if self.pending:
            ctx.count_error("command", f"{self.label}: {len(self.pending)} downlink(s) not "
                                       f"sent: broker {self.url} not reachable before stop")
            self.pending.clear()

    def _check_granted(self, granted):
        codes = [getattr(g, "value", g) for g in granted or ()]
        refused = [t for t, c in zip(self.topics, codes, strict=False) if c >= 0x80]
        if refused:
            # An ACL said no: retrying with backoff is right (it may be fixed), and the
            # message must say which topic so the operator can fix it.
            raise self.aiomqtt.MqttError(f"the broker refused the subscription to "
                                         f"{', '.join(refused)}")
        lower = sorted({c for c in codes if c < self.qos})
        if lower and not self._warned_qos:
            self._warned_qos = True
            log.warning("%s: broker %s granted QoS %s, not %d: frames can be lost while "
                        "the connection is down", self.label, self.url,
                        "/".join(map(str, lower)), self.qos)

    async def _session(self, client, queue, ctx, handle):
        stop = asyncio.ensure_future(ctx.stopping.wait())
        messages = client.messages
        ack = self._paho.ack if self._manual_ack else None
        try:
            while True:
                get = asyncio.ensure_future(messages.__anext__())
                done, _ = await asyncio.wait((get, stop), return_when=asyncio.FIRST_COMPLETED)
                if get not in done:
                    get.cancel()
                    await asyncio.gather(get, return_exceptions=True)
                    return
                batch = [get.result()]
                while len(batch) < MAX_BATCH:
                    try:
                        batch.append(queue.get_nowait())
                    except asyncio.QueueEmpty:
                        break
                self.received += len(batch)
                try:
                    records = handle(batch)
                except Exception as exc:  # noqa: BLE001 - acknowledge anyway, or the
                    # broker would redeliver the batch that breaks us forever
                    ctx.count_error("plugin", f"{self.label}: {type(exc).__name__}: {exc}")
                    records = None
                if records:
                    await ctx.put(records)
                if ack is not None:
                    for m in batch:
                        if m.qos:
                            ack(m.mid, m.qos)
        finally:
            stop.cancel()

    async def publish(self, topic, payload):
        """Publish now when connected, else keep it for the next connection."""
        client = self.client
        if client is not None and self.connected.is_set():
            try:
                await client.publish(topic, payload, qos=self.qos)
                return
            except self.aiomqtt.MqttError:
                pass  # the connection dropped under us: keep it for the next one
        if len(self.pending) >= MAX_PENDING:
            raise RuntimeError(f"{self.label}: broker {self.url} unreachable and "
                               f"{MAX_PENDING} downlinks already waiting; downlink refused")
        self.pending.append((topic, payload))

    async def _flush(self, client):
        while self.pending:
            topic, payload = self.pending[0]
            await client.publish(topic, payload, qos=self.qos)
            self.pending.popleft()


# -- payloads decoded by the network server ----------------------------------------------

def flatten(obj, prefix=""):
    """``{"a": {"b": 1}, "c": [2, 3]}`` -> ``[("a_b", 1), ("c_0", 2), ("c_1", 3)]``."""
    out = []
    if isinstance(obj, dict):
        for key, value in obj.items():
            out.extend(flatten(value, f"{prefix}_{key}" if prefix else str(key)))
    elif isinstance(obj, list):
        for i, value in enumerate(obj):
            out.extend(flatten(value, f"{prefix}_{i}" if prefix else str(i)))
    elif obj is not None:
        out.append((prefix or "value", obj))
    return out


def decode_server_json(payload, fport, options):
    """Device-model decoder for payloads the network server already decoded.

    The source hands over the server's JSON object (ChirpStack ``object``, The Things
    Stack ``decoded_payload``) as UTF-8 bytes; each leaf becomes a reading, nested keys
    joined with ``_``; units come from the device option ``units`` (quantity -> unit).
    """
    try:
        obj = json.loads(payload)
    except (ValueError, RecursionError) as exc:
        raise DecodeError(f"decoded payload is not JSON: {exc}", offset=0) from None
    if not isinstance(obj, dict):
        raise DecodeError(f"decoded payload is a JSON {type(obj).__name__}, not an object",
                          offset=0)
    units = options.get("units") or {}
    return [(q, v, units.get(q, "")) for q, v in flatten(obj)]


def _json_example(obj, readings, description):
    return Example(json.dumps(obj, separators=(",", ":")).encode().hex(), 1, readings,
                   description=description)


def server_json_model(model_id, what):
    """The device model for payloads the network server decodes (``what`` names it)."""
    return DeviceModel(
        id=model_id,
        family="generic",
        decode=decode_server_json,
        options=(Option("units", "table", default={},
                        help="unit of each quantity (SenML names), e.g. "
                             "{ temperature = 'Cel' }"),),
        quantities={"*": ""},
        description=f"A device whose payload the network server already decodes ({what}): "
                    "every value becomes a reading, nested keys joined with '_'; units "
                    "from the device option 'units'.",
        examples=(
            _json_example({"temperature": 21.5, "humidity": 40},
                          [("temperature", 21.5, ""), ("humidity", 40, "")],
                          "a climate sensor's decoded payload"),
            _json_example({"door": {"open": True, "count": 7}},
                          [("door_open", True, ""), ("door_count", 7, "")],
                          "nested objects: keys joined with '_'"),
            _json_example({"levels": [10, 20], "status": "ok", "error": None},
                          [("levels_0", 10, ""), ("levels_1", 20, ""), ("status", "ok", "")],
                          "lists are numbered, null values are left out"),
        ),
    )


def now():
    return time.time()
