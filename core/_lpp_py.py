"""Cayenne Low Power Payload (LPP) codec, pure-Python twin of ``hromada._lpp``.

Cayenne LPP (myDevices) packs sensor values as records: channel (1 byte), type
(1 byte, IPSO object id - 3200), then the value, big-endian, with a size, sign and
resolution fixed by the type.  This module covers LPP v1 and the extended types that
the ElectronicCats "CayenneLPP" Arduino library and pycayennelpp define:

====  ===================  =====  ======================  ======  ==========
type  name                 bytes  resolution              signed  unit
====  ===================  =====  ======================  ======  ==========
0     digital_input        1      1                       no      (none)
1     digital_output       1      1                       no      (none)
2     analog_input         2      0.01                    yes     (none)
3     analog_output        2      0.01                    yes     (none)
100   generic_sensor       4      1                       no      (none)
101   illuminance          2      1 lx                    no      lx
102   presence             1      1                       no      bool
103   temperature          2      0.1 Cel                 yes     Cel
104   relative_humidity    1      0.5 %RH                 no      %RH
113   accelerometer        3x2    0.001 gn per axis       yes     gn
115   barometric_pressure  2      0.1 hPa                 no      hPa
116   voltage              2      0.01 V                  no      V
117   current              2      0.001 A                 no      A
118   frequency            4      1 Hz                    no      Hz
120   percentage           1      1 %                     no      %
121   altitude             2      1 m                     yes     m
122   load                 3      0.001 kg                yes     kg
125   concentration        2      1 ppm                   no      ppm
128   power                2      1 W                     no      W
130   distance             4      0.001 m                 no      m
131   energy               4      0.001 kWh               no      kWh
132   direction            2      1 deg                   no      deg
133   unixtime             4      1 s                     no      s
134   gyrometer            3x2    0.01 deg/s per axis     yes     deg/s
135   colour               3x1    r, g, b (0..255)        no      (none)
136   gps                  3x3    lat, lon 0.0001 deg;    yes     lat, lon, m
                                  alt 0.01 m
142   switch               1      1                       no      bool
====  ===================  =====  ======================  ======  ==========

Where the sources disagree (checked against the myDevices LPP document, the
ElectronicCats library header and JS decoder, TTN's go-cayenne-lib, pycayennelpp):

* Concentration and colour: recent ElectronicCats releases use 125 and 135 (IPSO 3325
  and 3335) as here; one earlier release used 143 ("PPM") and 144 ("RGB").  Only 125
  and 135 are decoded.
* Load (122, IPSO 3322, 3 bytes signed, 0.001 kg) is defined by pycayennelpp only.
* Direction is 2 bytes in the library header but 1 byte in an older ElectronicCats JS
  decoder (a bug fixed later); 2 bytes here.
* TTN's go-cayenne-lib reads humidity as signed int8 and pressure as signed int16,
  and its comments give voltage, current, frequency and energy other sizes; here the
  myDevices / ElectronicCats table wins (unsigned, sizes as above).
* The reference encoders truncate (``(int)(value * 10)``), so 42.3519 can become
  42.3518; :func:`encode` rounds to the nearest step instead.

API (the compiled twin has the same): :func:`decode`, :func:`decode_many`,
:func:`encode` and :data:`TYPES`.  Readings are ``(quantity, value, unit)`` with
quantity ``f"{type_name}_{channel}"`` (``temperature_3``), and one reading per axis
for multi-valued types (``accelerometer_7_x``, ``gps_1_latitude``, ``colour_4_r``).
Values are ints where the resolution is 1, otherwise ``raw / divisor`` as a float,
which is the double nearest to the decimal value (0x0110 -> exactly 27.2).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import NamedTuple

from hromada.errors import DecodeError, EncodeError

__all__ = ["TYPES", "LppType", "decode", "decode_many", "encode"]


class LppType(NamedTuple):
    """One LPP data type.

    ``size`` is the number of data bytes after channel and type; ``axes`` names the
    values of a multi-valued type (empty for a single value); ``scale`` (resolution
    per bit), ``divisor`` (``value = raw / divisor``) and ``unit`` have one entry per
    value.  ``value_size`` is the byte size of each value.
    """

    id: int
    name: str
    size: int
    scale: tuple
    signed: bool
    unit: tuple
    axes: tuple
    divisor: tuple
    value_size: int


def _t(id_, name, value_size, divisors, signed, units, axes=()):
    n = max(1, len(axes))
    if isinstance(divisors, int):
        divisors = (divisors,) * n
    if isinstance(units, str):
        units = (units,) * n
    scale = tuple(1 if d == 1 else 1 / d for d in divisors)
    return LppType(id_, name, value_size * n, scale, signed, units, tuple(axes),
                   tuple(divisors), value_size)


_XYZ = ("x", "y", "z")

#: type id -> :class:`LppType`, for every type this codec knows.
TYPES: dict[int, LppType] = {
    t.id: t
    for t in (
        _t(0, "digital_input", 1, 1, False, ""),
        _t(1, "digital_output", 1, 1, False, ""),
        _t(2, "analog_input", 2, 100, True, ""),
        _t(3, "analog_output", 2, 100, True, ""),
        _t(100, "generic_sensor", 4, 1, False, ""),
        _t(101, "illuminance", 2, 1, False, "lx"),
        _t(102, "presence", 1, 1, False, "bool"),
        _t(103, "temperature", 2, 10, True, "Cel"),
        _t(104, "relative_humidity", 1, 2, False, "%RH"),
        _t(113, "accelerometer", 2, 1000, True, "gn", _XYZ),
        _t(115, "barometric_pressure", 2, 10, False, "hPa"),
        _t(116, "voltage", 2, 100, False, "V"),
        _t(117, "current", 2, 1000, False, "A"),
        _t(118, "frequency", 4, 1, False, "Hz"),
        _t(120, "percentage", 1, 1, False, "%"),
        _t(121, "altitude", 2, 1, True, "m"),
        _t(122, "load", 3, 1000, True, "kg"),
        _t(125, "concentration", 2, 1, False, "ppm"),
        _t(128, "power", 2, 1, False, "W"),
        _t(130, "distance", 4, 1000, False, "m"),
        _t(131, "energy", 4, 1000, False, "kWh"),
        _t(132, "direction", 2, 1, False, "deg"),
        _t(133, "unixtime", 4, 1, False, "s"),
        _t(134, "gyrometer", 2, 100, True, "deg/s", _XYZ),
        _t(135, "colour", 1, 1, False, "", ("r", "g", "b")),
        _t(136, "gps", 3, (10000, 10000, 100), True, ("lat", "lon", "m"),
           ("latitude", "longitude", "altitude")),
        _t(142, "switch", 1, 1, False, "bool"),
    )
}

_BY_NAME = {t.name: t for t in TYPES.values()}


# -- shared by both twins: names and error messages -----------------------------------
# The compiled twin imports these so that both produce the very same strings.


def _template(type_id, channel):
    """((quantity, unit), ...) for one record of ``type_id`` on ``channel``."""
    t = TYPES[type_id]
    if not t.axes:
        return ((f"{t.name}_{channel}", t.unit[0]),)
    return tuple((f"{t.name}_{channel}_{a}", u) for a, u in zip(t.axes, t.unit, strict=True))


def _no_type_error(channel, offset):
    return DecodeError(
        f"truncated LPP record: channel {channel} at byte {offset} has no type byte",
        offset=offset + 1, field="type")


def _unknown_type_error(type_id, channel, offset):
    return DecodeError(
        f"unknown LPP type {type_id} on channel {channel} at byte {offset}",
        offset=offset, field="type")


def _truncated_error(type_id, channel, offset, have):
    t = TYPES[type_id]
    return DecodeError(
        f"truncated LPP record: type {t.name} on channel {channel} needs {t.size} bytes "
        f"at byte {offset}, {have} left",
        offset=offset, field=t.name)


def _as_bytes(payload):
    if type(payload) is bytes:
        return payload
    if isinstance(payload, (bytes, bytearray, memoryview)):
        return bytes(payload)
    raise TypeError(f"LPP payload must be bytes-like, not {type(payload).__name__}")


# -- decode --------------------------------------------------------------------------

# (type << 8 | channel) -> template; at most 27 * 256 entries.
_templates: dict[int, tuple] = {}


def decode(payload):
    """Decode one LPP payload into ``[(quantity, value, unit), ...]`` in payload order.

    Raises :class:`hromada.errors.DecodeError` naming channel, type and byte offset
    when a type is unknown or a record is cut short.  An empty payload gives ``[]``.
    """
    data = _as_bytes(payload)
    n = len(data)
    out = []
    off = 0
    while off < n:
        ch = data[off]
        if off + 1 >= n:
            raise _no_type_error(ch, off)
        tid = data[off + 1]
        t = TYPES.get(tid)
        if t is None:
            raise _unknown_type_error(tid, ch, off + 1)
        pos = off + 2
        if pos + t.size > n:
            raise _truncated_error(tid, ch, pos, n - pos)
        key = tid << 8 | ch
        tpl = _templates.get(key)
        if tpl is None:
            tpl = _templates[key] = _template(tid, ch)
        vs = t.value_size
        for (quantity, unit), div in zip(tpl, t.divisor, strict=True):
            raw = int.from_bytes(data[pos:pos + vs], "big", signed=t.signed)
            out.append((quantity, raw if div == 1 else raw / div, unit))
            pos += vs
        off = pos
    return out


def decode_many(payloads):
    """Decode a batch: ``[decode(p) for p in payloads]``.

    The first bad payload raises its :class:`DecodeError` (same message as
    :func:`decode`) with an extra ``index`` attribute: its position in the batch.
    """
    out = []
    for i, p in enumerate(payloads):
        try:
            out.append(decode(p))
        except DecodeError as exc:
            exc.index = i
            raise
    return out


# -- encode --------------------------------------------------------------------------

_QUANTITY = re.compile(r"^([a-z_]+?)_(\d+)(?:_([a-z]+))?$")


def _parse_quantity(quantity):
    """quantity -> (LppType, channel, axis index); EncodeError when unknown."""
    m = _QUANTITY.match(quantity) if isinstance(quantity, str) else None
    t = _BY_NAME.get(m.group(1)) if m else None
    if t is None:
        raise EncodeError(
            f"unknown LPP quantity {quantity!r}: expected '<type>_<channel>' with a type "
            f"from hromada.lpp.TYPES, e.g. 'temperature_1'")
    ch = int(m.group(2))
    if ch > 255:
        raise EncodeError(f"LPP channel {ch} in {quantity!r} is out of range 0..255")
    axis = m.group(3)
    if not t.axes:
        if axis is not None:
            raise EncodeError(f"unknown LPP quantity {quantity!r}: {t.name} has no axes")
        return t, ch, 0
    if axis not in t.axes:
        want = ", ".join(f"{t.name}_{ch}_{a}" for a in t.axes)
        raise EncodeError(f"LPP quantity {quantity!r} needs an axis: give {want}")
    return t, ch, t.axes.index(axis)


def _raw(quantity, value, t, i):
    """Quantise ``value`` for value ``i`` of type ``t``; EncodeError when it does not fit."""
    if isinstance(value, bool):
        value = int(value)
    if not isinstance(value, (int, float)):
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise EncodeError(
                f"value of {quantity} must be a number, not {value!r}") from None
    if isinstance(value, float) and not math.isfinite(value):
        raise EncodeError(f"value of {quantity} must be finite, not {value!r}")
    div = t.divisor[i]
    raw = value * div if isinstance(value, int) else round(value * div)
    bits = 8 * t.value_size
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if t.signed else (0, (1 << bits) - 1)
    if not lo <= raw <= hi:
        unit = f" {t.unit[i]}" if t.unit[i] else ""
        lo_v, hi_v = (lo, hi) if div == 1 else (lo / div, hi / div)
        raise EncodeError(
            f"{quantity} = {value!r} is out of range for LPP {t.name}: "
            f"{lo_v} to {hi_v}{unit}")
    return int(raw)


def encode(values):
    """Encode values into one LPP payload.

    ``values`` is a mapping or a list of ``(quantity, value)`` pairs with the quantity
    names :func:`decode` returns; every axis of a multi-valued type must be given
    (``gps_1_latitude``, ``gps_1_longitude``, ``gps_1_altitude``) and they make one
    record.  Records come out in order of first appearance.  Values are rounded to the
    type's resolution.  Raises :class:`hromada.errors.EncodeError` for an unknown
    quantity, a missing axis, a duplicate or a value out of range.
    """
    items = values.items() if isinstance(values, Mapping) else values
    records: dict[tuple[int, int], list] = {}
    for item in items:
        try:
            quantity, value = item
        except (TypeError, ValueError):
            raise EncodeError(
                f"expected (quantity, value) pairs, got {item!r}") from None
        t, ch, i = _parse_quantity(quantity)
        slots = records.setdefault((t.id, ch), [None] * max(1, len(t.axes)))
        if slots[i] is not None:
            raise EncodeError(f"LPP quantity {quantity!r} given twice")
        slots[i] = _raw(quantity, value, t, i)
    out = bytearray()
    for (tid, ch), slots in records.items():
        t = TYPES[tid]
        missing = [f"{t.name}_{ch}_{a}" for a, v in zip(t.axes, slots, strict=True)
                   if v is None] if t.axes else []
        if missing:
            raise EncodeError(
                f"LPP {t.name} on channel {ch} needs all of its axes; missing "
                + ", ".join(missing))
        out.append(ch)
        out.append(tid)
        for raw in slots:
            out += raw.to_bytes(t.value_size, "big", signed=t.signed)
    return bytes(out)
