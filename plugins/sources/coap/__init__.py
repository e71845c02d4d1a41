"""The ``coap`` source: a CoAP server (aiocoap) for NB-IoT devices and LwM2M clients.

Devices POST or PUT to ``/d/{device_id}`` (the ``path`` option names the first
segment):

* SenML JSON (content-format 110) or SenML CBOR (112), RFC 8428; the pack is checked
  here (a bad one is answered 4.00 Bad Request with the reason as text) and decoded by
  the device's model, normally ``senml/json`` or ``senml/cbor`` (which also map LwM2M
  names).  Without a device id in the path, the device comes from the pack's base name
  (``urn:dev:imei:356938035643809:`` -> device ``356938035643809`` or the whole URN,
  whichever the city lists); every base name of one pack must name the same device.
* Any other payload as application/octet-stream (42) or without a content format:
  passed to the device's model as it is (the device id must be in the path).

Answers: 2.04 Changed once the frame is in the kernel's ring, 4.00 with a text
diagnostic for a bad request, 4.04 for a device the city does not list (or a path
outside ``/d/``), 4.15 for a content format the device's model does not read.  Frames
are pushed with ``network = "nbiot"``.  Requires ``pip install 'hromada[coap]'``.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections import Counter

import hromada
from hromada import Option, SourceType, senml
from hromada.errors import DecodeError
from hromada_plugins.sources.nbiot_udp import MAX_EVENTS, parse_bind

log = logging.getLogger("hromada.coap")

SENML_FORMATS = {110: "json", 112: "cbor"}
OCTET_STREAM = 42
_URN_ID = re.compile(r"^urn:(?:dev:[A-Za-z]+|imei|esn|meid|uuid):([^:/]+)", re.IGNORECASE)


def base_name_candidates(bn):
    """Device ids a base name may stand for, most specific first."""
    text = bn.strip().rstrip(":/")
    if not text:
        return []
    out = [text.lower()]
    m = _URN_ID.match(text)
    if m:
        out.append(m.group(1).lower())
    else:
        first = text.lstrip("/").split("/", 1)[0]
        if first and not first.isdigit():
            out.append(first.lower())
    return list(dict.fromkeys(out))


class Reject(Exception):
    """A request answered with an error code and a text diagnostic."""

    def __init__(self, code, message, kind="malformed", device=None):
        super().__init__(message)
        self.code = code
        self.kind = kind
        self.device = device


class CoapSource:
    """A CoAP endpoint; see the module documentation."""

    def __init__(self, name, options, city):
        try:
            import aiocoap  # noqa: F401
        except ImportError:
            raise RuntimeError("the coap source needs aiocoap and cbor2: "
                               "pip install 'hromada[coap]'") from None
        self.name = name
        self.bind = parse_bind(options["bind"], f"sources.{name}.bind")
        self.prefix = tuple(p for p in options["path"].split("/") if p)
        self.use_base_name = options["base_name"]
        self.devices = city.devices if city is not None else {}
        self.stats = Counter()
        self.address = None
        self.ready = asyncio.Event()
        self.ctx = None
        self.context = None
        self._events = Counter()
        self._unknown = set()

    def _device_from_pack(self, records):
        found, unknown = [], []
        for bn in dict.fromkeys(r.base_name for r in records):
            cands = base_name_candidates(bn)
            dev = next((c for c in cands if c in self.devices), None)
            if dev is not None:
                if dev not in found:
                    found.append(dev)
            elif cands and bn.lower().startswith("urn:"):
                unknown.append(cands[-1])
        if len(found) > 1:
            raise Reject("BAD_REQUEST", "the pack holds records of more than one device "
                         f"({', '.join(found)}); send one request per device")
        if found:
            return found[0]
        if unknown:
            raise Reject("NOT_FOUND", f"unknown device {unknown[0]!r} (base name)",
                         "unknown_device", unknown[0])
        raise Reject("BAD_REQUEST", "no device id: POST to /"
                     + "/".join((*self.prefix, "{device_id}"))
                     + " or give the device in the SenML base name")

    def check(self, path, content_format, payload):
        """(device id, rx extras) of a request, or raise Reject."""
        n = len(self.prefix)
        if tuple(path[:n]) != self.prefix:
            raise Reject("NOT_FOUND", f"no resource /{'/'.join(path)}; POST to /"
                         + "/".join((*self.prefix, "{device_id}")))
        dev_id = "/".join(path[n:]).strip().lower() or None
        fmt = SENML_FORMATS.get(content_format)
        if fmt is None and content_format not in (None, OCTET_STREAM):
            raise Reject("UNSUPPORTED_CONTENT_FORMAT",
                         f"content-format {content_format} is not taken: send SenML JSON "
                         "(110), SenML CBOR (112) or application/octet-stream (42)")
        if fmt is not None:
            try:
                records = senml.loads(payload, fmt)
            except DecodeError as exc:
                raise Reject("BAD_REQUEST", f"SenML {fmt.upper()}: {exc}") from None
            if dev_id is None:
                if not self.use_base_name:
                    raise Reject("BAD_REQUEST", "no device id in the path: POST to /"
                                 + "/".join((*self.prefix, "{device_id}")))
                dev_id = self._device_from_pack(records)
        elif dev_id is None:
            raise Reject("BAD_REQUEST", "an opaque payload needs the device id in the path: "
                         "POST to /" + "/".join((*self.prefix, "{device_id}")))
        dev = self.devices.get(dev_id)
        if dev is None:
            raise Reject("NOT_FOUND", f"unknown device {dev_id!r}", "unknown_device", dev_id)
        if dev.model.startswith("senml/") and dev.model != f"senml/{fmt}":
            want = {"senml/json": "SenML JSON (110)", "senml/cbor": "SenML CBOR (112)"}.get(
                dev.model, dev.model)
            got = ("no content-format" if content_format is None
                   else f"content-format {content_format}")
            raise Reject("UNSUPPORTED_CONTENT_FORMAT",
                         f"device {dev_id} (model {dev.model}) sends {want}, not {got}",
                         "malformed", dev_id)
        return dev_id

    def _count(self, exc):
        kind = exc.kind
        self.stats[kind] += 1
        message = f"{self.name}: {exc}"
        if kind == "unknown_device":
            first = exc.device not in self._unknown
            self._unknown.add(exc.device)
            self.ctx.count_error(kind, message if first else None, device=exc.device)
        elif self._events[kind] < MAX_EVENTS:
            self._events[kind] += 1
            self.ctx.count_error(kind, message, device=exc.device)
        else:
            self.ctx.count_error(kind, device=exc.device)

    async def handle(self, request):
        """The response to one POST/PUT request."""
        import aiocoap

        self.stats["requests"] += 1
        cf = request.opt.content_format
        cf = None if cf is None else int(cf)
        path = tuple(request.opt.uri_path)
        try:
            dev_id = self.check(path, cf, request.payload)
        except Reject as exc:
            self._count(exc)
            return aiocoap.Message(code=getattr(aiocoap, exc.code),
                                   payload=str(exc).encode(), content_format=0)
        remote = request.remote
        host = getattr(remote, "hostinfo", None) or str(remote)
        rx = {"address": host, "path": "/" + "/".join(path)}
        if cf is not None:
            rx["content_format"] = cf
        await self.ctx.put([self.ctx.pack(bytes(request.payload), network="nbiot",
                                          device=dev_id, time=time.time(), rx=rx)])
        self.stats["frames"] += 1
        return aiocoap.Message(code=aiocoap.CHANGED)

    async def run(self, ctx):
        import aiocoap

        self.ctx = ctx
        self.context = await aiocoap.Context.create_server_context(
            _site(self), bind=self.bind, transports=["udp6"])
        self.address = (self.bind[0], _bound_port(self.context, self.bind[1]))
        self.ready.set()
        try:
            await ctx.stopping.wait()
        finally:
            await self.context.shutdown()
            self.context = None


def _bound_port(context, asked):
    """The UDP port the context listens on (the OS picks one for port 0)."""
    if asked:
        return asked
    for ri in context.request_interfaces:
        mi = getattr(getattr(ri, "token_interface", None), "message_interface", None)
        transport = getattr(mi, "transport", None)
        sock = transport.get_extra_info("socket") if transport is not None else None
        if sock is not None:
            return sock.getsockname()[1]
    return asked


def _site(source):
    import aiocoap.resource

    class Endpoint(aiocoap.resource.Resource):
        """Every path: the source checks it (aiocoap's Site would need one per device)."""

        async def render_post(self, request):
            return await source.handle(request)

        render_put = render_post

    return Endpoint()


@hromada.hookimpl
def hromada_sources():
    return [
        SourceType(
            name="coap",
            factory=CoapSource,
            help="CoAP server for NB-IoT devices and LwM2M clients: SenML JSON/CBOR or "
                 "opaque payloads POSTed to /d/{device_id} (needs hromada[coap]).",
            options=(
                Option("bind", "str", default="127.0.0.1:5683",
                       help="host:port to listen on (UDP; port 0: any free port)"),
                Option("path", "str", default="d",
                       help="first path segment(s) before the device id"),
                Option("base_name", "bool", default=True,
                       help="take the device from the SenML base name when the path has "
                            "no device id"),
            ),
        )
    ]
