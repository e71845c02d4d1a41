"""JavaScript payload codecs (The Things Stack / ChirpStack contract), run in an
embedded engine.

Many vendors publish their payload decoders as JavaScript written to the contract of
The Things Stack and ChirpStack v4::

    decodeUplink({bytes, fPort, recvTime, variables}) -> {data, warnings, errors}
    encodeDownlink({data, variables})                 -> {bytes, fPort, warnings, errors}
    decodeDownlink({bytes, fPort, variables})         -> {data, warnings, errors}

:class:`JSCodec` runs such a file so that those vendors work on day one.  Older
decoders written as ``Decoder(bytes, port)`` (The Things Network v2) or
``Decode(fPort, bytes, variables)`` (ChirpStack v3) are accepted too, for uplinks only:
their return value becomes ``data``.

Isolation: every codec gets its own engine runtime (QuickJS, from the ``quickjs``
package: ``pip install 'hromada[js]'``), with no module loader, file or network access.
Each call runs under a CPU-time limit and the runtime's heap under a memory limit; a
script exception, a timeout or a memory blow-up raises
:class:`~hromada.errors.DecodeError` (``EncodeError`` for ``encode_downlink``) naming
the codec file and what happened, and the codec stays usable for the next call.

Values cross the boundary as JSON: what ``decode_uplink`` returns is the script's object
after ``JSON.stringify`` (so ``undefined`` members vanish, ``NaN`` becomes ``None``, a
``Date`` becomes its ISO string).  ``recvTime`` is given to the script as a ``Date``
(in a city, the frame's receive time: the kernel passes it to ``JSDecoder``).

A city declares a model backed by a codec file in ``city.toml`` alone, as a
``[models."vendor/device"]`` table (``hromada.city``; docs/plugins.md, "JavaScript
codecs").
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import threading
from pathlib import Path
from typing import Any

from ..errors import DecodeError, EncodeError, PluginError

#: Default CPU-time limit of one call, in seconds.
DEFAULT_TIMEOUT = 0.25
#: Default heap limit of one codec's runtime, in bytes.
DEFAULT_MEMORY_LIMIT = 16 * 1024 * 1024
#: Default JS stack limit, in bytes (deep recursion becomes an error, not a crash).
DEFAULT_STACK_LIMIT = 512 * 1024

# Payload bytes travel to the engine as a string whose code points are 0x100 + byte:
# quickjs passes Python strings as NUL-terminated UTF-8, so a plain latin-1 string would
# be cut at the first zero byte; offsetting every code point avoids NUL and is faster
# than building a JSON array.
_TO_JS = {i: 0x100 + i for i in range(256)}

# Installed after the vendor script, in the same global scope.  The names are
# prefixed so that they do not collide with a vendor's helpers.
_GLUE = r"""
(function (g) {
  function bytesOf(s) {
    var n = s.length, b = new Array(n);
    for (var i = 0; i < n; i++) b[i] = s.charCodeAt(i) - 256;
    return b;
  }
  function when(t) { return t === null ? undefined : new Date(t); }
  function legacy(data) { return {data: data, warnings: [], errors: []}; }
  var up = null;
  if (typeof g.decodeUplink === 'function') {
    up = function (input) { return g.decodeUplink(input); };
  } else if (typeof g.Decode === 'function') {
    up = function (input) { return legacy(g.Decode(input.fPort, input.bytes, input.variables)); };
  } else if (typeof g.Decoder === 'function') {
    up = function (input) { return legacy(g.Decoder(input.bytes, input.fPort)); };
  }
  g.__hromada_has = JSON.stringify({
    decodeUplink: up !== null,
    encodeDownlink: typeof g.encodeDownlink === 'function',
    decodeDownlink: typeof g.decodeDownlink === 'function'
  });
  g.__hromada_up = function (s, fPort, t, vars) {
    var input = {bytes: bytesOf(s), fPort: fPort, recvTime: when(t)};
    if (vars !== null) input.variables = JSON.parse(vars);
    return JSON.stringify(up(input));
  };
  g.__hromada_down_decode = function (s, fPort, vars) {
    var input = {bytes: bytesOf(s), fPort: fPort};
    if (vars !== null) input.variables = JSON.parse(vars);
    return JSON.stringify(g.decodeDownlink(input));
  };
  g.__hromada_down_encode = function (data, vars) {
    var input = {data: JSON.parse(data)};
    if (vars !== null) input.variables = JSON.parse(vars);
    return JSON.stringify(g.encodeDownlink(input));
  };
})(globalThis);
"""


# -- engines -------------------------------------------------------------------------
#
# An engine runs one script in its own runtime and calls its global functions with
# string/number arguments, returning a string.  It raises _Timeout, _OutOfMemory or
# _ScriptError; JSCodec turns them into hromada errors with the codec's name.


class _Timeout(Exception):
    pass


class _OutOfMemory(Exception):
    pass


class _ScriptError(Exception):
    pass


def _script_message(text, filename):
    """First line of a JS exception plus the innermost frame, with our file name.

    QuickJS gives "Error: msg\\n    at decodeUplink (<input>:4)\\n ..."; frames of our
    glue are left out.
    """
    lines = [ln.strip() for ln in str(text).splitlines() if ln.strip()]
    if not lines:
        return "an exception without a message"
    msg = lines[0]
    frames = [ln for ln in lines[1:] if ln.startswith("at ") and "__hromada" not in ln]
    if frames:
        msg += f" ({frames[0]})"
    return msg.replace("<input>", filename)


class _QuickJSEngine:
    name = "quickjs"

    def __init__(self, source, filename, timeout, memory_limit, stack_limit):
        import quickjs

        self._quickjs = quickjs
        self.filename = filename
        self.ctx = quickjs.Context()
        self.ctx.set_memory_limit(int(memory_limit))
        self.ctx.set_max_stack_size(int(stack_limit))
        self.ctx.set_time_limit(float(timeout))
        self._run(self.ctx.eval, source)
        self._run(self.ctx.eval, _GLUE)
        self._fns = {}

    def _run(self, fn, *args):
        qjs = self._quickjs
        try:
            return fn(*args)
        except qjs.StackOverflow as exc:
            raise _ScriptError("stack overflow (recursion too deep)") from exc
        except qjs.JSException as exc:
            text = str(exc)
            if text.startswith("InternalError: interrupted"):
                raise _Timeout() from None
            if text.startswith("InternalError: out of memory"):
                self._collect()
                raise _OutOfMemory() from None
            raise _ScriptError(_script_message(text, self.filename)) from None
        except MemoryError:
            self._collect()
            raise _OutOfMemory() from None

    def _collect(self):
        # Whatever the failed call left behind must not count against the next call.
        try:
            self.ctx.gc()
        except Exception:  # noqa: BLE001 - best effort after a failure
            pass

    def get(self, name):
        return self._run(self.ctx.get, name)

    def call(self, name, *args):
        fn = self._fns.get(name)
        if fn is None:
            fn = self._fns[name] = self.ctx.get(name)
        return self._run(fn, *args)


# mini-racer (V8) was tried as a second engine and left out: a call cost about 250 us
# against quickjs's 12 here, and dropping a context raced with its event-loop thread
# (unraisable "Event loop is closed" errors).  Another engine plugs in here.
_ENGINES = {"quickjs": ("quickjs", _QuickJSEngine)}


def available_engines() -> list[str]:
    """Names of the installed JS engines, preferred first."""
    import importlib.util

    return [name for name, (mod, _) in _ENGINES.items() if importlib.util.find_spec(mod)]


def _engine_class(engine):
    names = available_engines()
    if engine is None:
        engine = os.environ.get("HROMADA_JS_ENGINE") or (names[0] if names else None)
        if engine is None:
            raise PluginError("no JavaScript engine is installed: pip install 'hromada[js]' "
                              "(quickjs)")
    if engine not in _ENGINES:
        raise PluginError(f"unknown JavaScript engine {engine!r}; use one of {sorted(_ENGINES)}")
    if engine not in names:
        raise PluginError(f"JavaScript engine {engine!r} is not installed "
                          f"(pip install 'hromada[js]')")
    return _ENGINES[engine][1]


# -- the codec -------------------------------------------------------------------------


def _posix_ms(recv_time):
    if recv_time is None:
        return None
    if isinstance(recv_time, _dt.datetime):
        if recv_time.tzinfo is None:
            recv_time = recv_time.replace(tzinfo=_dt.UTC)
        return recv_time.timestamp() * 1000.0
    return float(recv_time) * 1000.0


def _mib(n):
    return f"{n / (1024 * 1024):g} MiB"


class JSCodec:
    """One JavaScript codec file, loaded into its own engine runtime.

    ``JSCodec(source, name="codec.js")`` or ``JSCodec.from_file(path)``.  ``timeout`` is
    the CPU-time limit of one call in seconds, ``memory_limit`` the heap limit of this
    codec's runtime in bytes (it applies to every call), ``variables`` the device
    variables given to the script as ``input.variables`` (ChirpStack).  Loading a script
    that does not parse, throws at top level or defines no uplink decoder raises
    :class:`~hromada.errors.PluginError`.

    Calls on one codec are serialised by a lock (an engine runtime is single-threaded);
    use one codec per thread for parallel decoding.  ``last_result`` is the object the
    last successful ``decode_uplink`` returned.
    """

    def __init__(self, source: str, *, name: str = "<codec>", timeout: float = DEFAULT_TIMEOUT,
                 memory_limit: int = DEFAULT_MEMORY_LIMIT,
                 stack_limit: int = DEFAULT_STACK_LIMIT, engine: str | None = None,
                 variables: dict | None = None):
        if timeout <= 0:
            raise ValueError(f"timeout must be positive, not {timeout!r}")
        if memory_limit < 1024 * 1024:
            raise ValueError(f"memory_limit must be at least 1 MiB, not {memory_limit!r}")
        self.name = name
        self.timeout = float(timeout)
        self.memory_limit = int(memory_limit)
        self.variables = None if variables is None else json.dumps(variables)
        self.last_result: dict | None = None
        self._lock = threading.Lock()
        cls = _engine_class(engine)
        try:
            self._engine = cls(source, name, self.timeout, self.memory_limit, stack_limit)
            has = json.loads(self._engine.get("__hromada_has"))
        except _Timeout:
            raise PluginError(f"JS codec {name}: loading the script took longer than "
                              f"{self.timeout * 1000:g} ms") from None
        except _OutOfMemory:
            raise PluginError(f"JS codec {name}: loading the script exceeded the memory "
                              f"limit of {_mib(self.memory_limit)}") from None
        except _ScriptError as exc:
            raise PluginError(f"JS codec {name}: loading the script failed: {exc}") from None
        if not has["decodeUplink"]:
            raise PluginError(f"JS codec {name}: the script defines no decodeUplink(input) "
                              "(nor a legacy Decode/Decoder) function")
        self.has_encode_downlink = has["encodeDownlink"]
        self.has_decode_downlink = has["decodeDownlink"]

    @classmethod
    def from_file(cls, path, **kwargs) -> JSCodec:
        """Load a codec file; its file name appears in every error message."""
        path = Path(path)
        try:
            source = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise PluginError(f"JS codec {path}: cannot read it: {exc.strerror}") from None
        except UnicodeDecodeError as exc:
            raise PluginError(f"JS codec {path}: not UTF-8 text ({exc.reason} at byte "
                              f"{exc.start})") from None
        kwargs.setdefault("name", path.name)
        return cls(source, **kwargs)

    @property
    def engine(self) -> str:
        """The name of the engine running this codec ("quickjs")."""
        return self._engine.name

    def __repr__(self):
        return f"<JSCodec {self.name} on {self.engine}>"

    # -- calls ---------------------------------------------------------------------------

    def _call(self, error, what, fn, *args):
        with self._lock:
            try:
                out = self._engine.call(fn, *args)
            except _Timeout:
                raise error(f"JS codec {self.name}: {what} timed out after "
                            f"{self.timeout * 1000:g} ms") from None
            except _OutOfMemory:
                raise error(f"JS codec {self.name}: {what} exceeded the memory limit of "
                            f"{_mib(self.memory_limit)}") from None
            except _ScriptError as exc:
                raise error(f"JS codec {self.name}: {what} threw {exc}") from None
        if out is None:
            raise error(f"JS codec {self.name}: {what} returned undefined, not an object")
        result = json.loads(out)
        if not isinstance(result, dict):
            raise error(f"JS codec {self.name}: {what} returned {type(result).__name__} "
                        f"{out[:60]}, not an object")
        return result

    def decode_uplink(self, data: bytes, fport: int, recv_time=None, *,
                      variables: dict | None = None) -> dict:
        """Run ``decodeUplink``; return its object (``data``, ``warnings``, ``errors``)
        as the script returned it.  ``recv_time`` is POSIX seconds or a datetime;
        ``variables`` (ChirpStack device variables) replace the codec's own for this call.

        A script exception, timeout or memory blow-up raises DecodeError; errors the
        script reports itself stay in the returned ``errors`` list.
        """
        what = f"decodeUplink(fPort {fport}, {len(data)} bytes)"
        result = self._call(DecodeError, what, "__hromada_up",
                            bytes(data).decode("latin-1").translate(_TO_JS), int(fport),
                            _posix_ms(recv_time),
                            self.variables if variables is None else json.dumps(variables))
        self.last_result = result
        return result

    def decode_downlink(self, data: bytes, fport: int) -> dict:
        """Run ``decodeDownlink`` (bytes of a downlink back to its object)."""
        if not self.has_decode_downlink:
            raise DecodeError(f"JS codec {self.name}: the script defines no decodeDownlink")
        what = f"decodeDownlink(fPort {fport}, {len(data)} bytes)"
        return self._call(DecodeError, what, "__hromada_down_decode",
                          bytes(data).decode("latin-1").translate(_TO_JS), int(fport),
                          self.variables)

    def encode_downlink(self, data: Any) -> dict:
        """Run ``encodeDownlink({data})``; return its object (``bytes``, ``fPort``,
        ``warnings``, ``errors``) as the script returned it.

        Failures raise :class:`~hromada.errors.EncodeError` (the codec is encoding).
        """
        if not self.has_encode_downlink:
            raise EncodeError(f"JS codec {self.name}: the script defines no encodeDownlink")
        try:
            payload = json.dumps(data)
        except (TypeError, ValueError) as exc:
            raise EncodeError(f"JS codec {self.name}: downlink data is not JSON: {exc}") from None
        return self._call(EncodeError, "encodeDownlink", "__hromada_down_encode", payload,
                          self.variables)

    def downlink_bytes(self, data: Any) -> tuple[int | None, bytes]:
        """``encode_downlink`` checked and converted: ``(fPort, payload)``.

        Raises EncodeError when the script reports errors or returns something that is
        not a list of bytes.
        """
        result = self.encode_downlink(data)
        errors = result.get("errors") or []
        if errors:
            raise EncodeError(f"JS codec {self.name}: encodeDownlink reported: "
                              + "; ".join(map(str, errors)))
        raw = result.get("bytes")
        if not isinstance(raw, list):
            raise EncodeError(f"JS codec {self.name}: encodeDownlink returned no bytes array")
        for i, b in enumerate(raw):
            if not isinstance(b, int) or isinstance(b, bool) or not 0 <= b <= 255:
                raise EncodeError(f"JS codec {self.name}: encodeDownlink bytes[{i}] is "
                                  f"{b!r}, not an integer 0..255")
        fport = result.get("fPort")
        return (int(fport) if fport is not None else None), bytes(raw)


# -- device models backed by a JS codec ------------------------------------------------


MAPPING_KEYS = ("quantity", "unit", "scale")


def mapping_entry(field, spec):
    """One entry of a mapping table: ``(path parts, field, quantity, unit, scale)``.

    ``field`` is a dotted path into ``data`` (numeric parts index arrays); ``spec`` is
    ``"quantity"``, ``"quantity unit"``, a sequence ``(quantity, unit, scale)`` (unit and
    scale optional) or a dict with the keys ``quantity``, ``unit`` and ``scale`` (all
    optional; the quantity defaults to the field's last name).  Raises ValueError saying
    what is wrong with the entry (without naming the field: the caller knows where).
    """
    from ..units import check_unit

    if not isinstance(field, str) or not all(field.split(".")):
        raise ValueError(f"{field!r} is not a field of data: names joined by '.' "
                         "(e.g. 'sensor.pm25' or 'values.0')")
    if isinstance(spec, str):
        words = spec.split()
        if len(words) not in (1, 2):
            raise ValueError(f"{spec!r}: write \"quantity\" or \"quantity unit\" (a unit "
                             "of hromada.units.UNITS), or a table of quantity, unit, scale")
        spec = dict(zip(("quantity", "unit"), words, strict=False))
    elif isinstance(spec, list | tuple):
        if len(spec) not in (1, 2, 3):
            raise ValueError(f"{list(spec)!r}: a list is [quantity, unit, scale], unit and "
                             "scale optional")
        spec = dict(zip(MAPPING_KEYS, spec, strict=False))
    elif isinstance(spec, dict):
        unknown = sorted(set(spec) - set(MAPPING_KEYS))
        if unknown:
            raise ValueError(f"unknown keys {unknown}; allowed: {', '.join(MAPPING_KEYS)}")
    else:
        raise ValueError(f"must be \"quantity unit\" or a table of quantity, unit, scale, "
                         f"not {type(spec).__name__} {spec!r}")
    quantity = spec.get("quantity") or field.rsplit(".", 1)[-1]
    if not isinstance(quantity, str) or quantity.split() != [quantity]:
        raise ValueError(f"quantity must be a name without spaces, not {quantity!r}")
    unit = spec.get("unit", "")
    if not isinstance(unit, str):
        raise ValueError(f"unit must be a string, not {type(unit).__name__} {unit!r}")
    check_unit(unit)
    scale = spec.get("scale", 1)
    if (not isinstance(scale, int | float) or isinstance(scale, bool)
            or not math.isfinite(scale) or scale == 0):
        raise ValueError(f"scale must be a finite non-zero number, not {scale!r}")
    return tuple(field.split(".")), field, quantity, unit, scale


def _parse_mapping(mapping):
    """Normalise a mapping table into [(path parts, dotted path, quantity, unit, scale)].

    Accepted forms, per ``data`` field (a dotted path; numeric parts index arrays)::

        {"temperature": "temperature Cel"}            # "quantity unit", or "quantity"
        {"temperature": ("temperature", "Cel")}
        {"sensor.pm25": ("pm2_5", "ug/m3", 0.1)}
        {"battery_mv": {"quantity": "battery", "unit": "V", "scale": 0.001}}
        [{"field": "temperature", "quantity": "temperature", "unit": "Cel"}]
    """
    items = []
    if isinstance(mapping, dict):
        pairs = list(mapping.items())
    else:
        pairs = []
        for entry in mapping:
            entry = dict(entry)
            pairs.append((entry.pop("field"), entry))
    for field, spec in pairs:
        try:
            items.append(mapping_entry(field, spec))
        except ValueError as exc:
            raise ValueError(f"mapping of {field!r}: {exc}") from None
    return items


_MISSING = object()


def _lookup(obj, parts):
    for part in parts:
        if isinstance(obj, dict):
            obj = obj.get(part, _MISSING)
        elif isinstance(obj, list) and part.isdigit() and int(part) < len(obj):
            obj = obj[int(part)]
        else:
            return _MISSING
        if obj is _MISSING:
            return _MISSING
    return obj


class JSDecoder:
    """The ``decode`` of a device model backed by a JS codec.

    Calling it returns readings ``[(quantity, value, unit)]`` from the fields named in the
    mapping table; fields the script did not return are skipped, numbers are multiplied
    by the field's scale, booleans and strings are kept as they are.  The raw object stays
    available: ``decode_raw`` returns ``(readings, raw)``, and ``codec.last_result`` is
    the last object ``decodeUplink`` returned.  Errors the script reports (``errors``)
    raise DecodeError.

    ``recv_time`` (POSIX seconds) becomes the script's ``input.recvTime``.  The kernel
    passes the frame's time because the call declares that keyword (see
    ``hromada.runtime.takes_recv_time``); other callers may leave it out.
    """

    def __init__(self, codec: JSCodec, mapping):
        self.codec = codec
        self.mapping = _parse_mapping(mapping)

    def decode_raw(self, payload, fport, options=None, *, recv_time=None):
        codec = self.codec
        # Per-device variables (ChirpStack) from the device's options; else the codec's.
        variables = options.get("variables") if options else None
        raw = codec.decode_uplink(payload, fport, recv_time, variables=variables)
        errors = raw.get("errors") or []
        if errors:
            raise DecodeError(f"JS codec {codec.name}: decodeUplink reported: "
                              + "; ".join(map(str, errors)))
        data = raw.get("data")
        if not isinstance(data, dict):
            raise DecodeError(f"JS codec {codec.name}: decodeUplink returned no data object")
        readings = []
        for parts, field, quantity, unit, scale in self.mapping:
            value = _lookup(data, parts)
            if value is _MISSING or value is None:
                continue
            if isinstance(value, int | float) and not isinstance(value, bool):
                if scale != 1:
                    value = value * scale
            elif not isinstance(value, bool | str):
                raise DecodeError(f"JS codec {codec.name}: data.{field} is "
                                  f"{type(value).__name__}, not a number, boolean or string",
                                  field=field)
            readings.append((quantity, value, unit))
        return readings, raw

    def __call__(self, payload, fport, options=None, *, recv_time=None):
        return self.decode_raw(payload, fport, options, recv_time=recv_time)[0]


def js_device_model(id, family, codec_path, mapping, *, examples=(), options=(),
                    description="", vendor_url="", network="lorawan",
                    timeout=DEFAULT_TIMEOUT, memory_limit=DEFAULT_MEMORY_LIMIT,
                    engine=None, variables=None):
    """A :class:`~hromada.DeviceModel` whose payloads a JavaScript codec decodes.

    ``codec_path`` is the codec file, or an already loaded :class:`JSCodec` (then
    ``timeout``, ``memory_limit``, ``engine`` and ``variables`` are the codec's own and
    these arguments are not used).  ``mapping`` turns fields of the script's ``data``
    into readings (see :class:`JSDecoder`); the model's ``quantities`` come from it.
    When the script defines ``encodeDownlink``, the model's ``encode_downlink(action,
    options)`` calls it and returns ``(fPort, bytes)``.  ``model.decode.codec`` is the
    :class:`JSCodec`.
    """
    from ..descriptors import DeviceModel, Example

    if isinstance(codec_path, JSCodec):
        codec = codec_path
    else:
        codec = JSCodec.from_file(codec_path, timeout=timeout, memory_limit=memory_limit,
                                  engine=engine, variables=variables)
    decoder = JSDecoder(codec, mapping)
    quantities = {}
    for _parts, _field, quantity, unit, _scale in decoder.mapping:
        quantities.setdefault(quantity, unit)
    encode_downlink = None
    if codec.has_encode_downlink:
        def encode_downlink(action, options=None):
            return codec.downlink_bytes(dict(action))
    examples = tuple(e if isinstance(e, Example) else Example(**e) for e in examples)
    return DeviceModel(id=id, family=family, decode=decoder, quantities=quantities,
                       encode_downlink=encode_downlink, options=tuple(options),
                       examples=examples, description=description, vendor_url=vendor_url,
                       network=network)
