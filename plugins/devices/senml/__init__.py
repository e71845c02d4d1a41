"""Device models ``senml/json`` and ``senml/cbor``: devices that report SenML packs.

NB-IoT devices and LwM2M clients often send RFC 8428 SenML (over CoAP, content-format
110 for JSON, 112 for CBOR).  A pack is resolved by :mod:`hromada.senml` (base name,
time, unit, value and sum) and each record becomes a reading with its own time:

* LwM2M names (``/3303/0/5700``, or a base name ``/3424/0/`` with names ``1``, ``4``)
  map to hromada quantities through the OMA registry table in :mod:`.lwm2m`:
  temperature, volume, fill_level, dimming_level, pm2_5 ...  Instance N > 0 adds
  ``_N`` (``temperature_1``).  An instance's 5701 (sensor units) sets the unit of its
  values, its 5518 (timestamp) their time.  Resources not in the table come as
  ``lwm2m_<object>_<resource>``.
* Other names: the part after a device URN (``urn:dev:ow:10e2073a01080063:voltage``
  gives ``voltage``) in lowercase with other characters as ``_``; a record without a
  name of its own is named after its unit (``Cel`` -> temperature, ``%RH`` ->
  humidity, ``lat`` -> latitude ...).  The device option ``names`` maps SenML names
  to quantities (``{"temp" = "temperature"}``).
* A sum (``s``) gives a second reading ``<quantity>_sum`` in the unit of the value
  times seconds (W -> J, l/s -> l, m3/s -> m3), or without a unit if there is none.
  It is scaled and converted like the value (an offset conversion, K -> Cel, cannot
  convert a sum: a decode error).
* Units must be hromada units (:mod:`hromada.units`, SenML names); an explicit unit
  the table can convert (K -> Cel, kWh -> Wh, Pa -> hPa, l -> m3) is converted to the
  quantity's unit.  ``vd`` data values come as hex text.

Times: absolute SenML times are kept; a record "now" (relative time 0) takes the
frame's receive time; other relative times count from the moment of decoding.
"""

from __future__ import annotations

import re
import time as _time

import hromada
from hromada import DeviceModel, Example, Option, senml
from hromada.errors import DecodeError
from hromada.units import UNITS

from . import lwm2m

#: SenML units spelled otherwise by LwM2M objects.
UNIT_ALIASES = {"/100": "%"}

#: (from, to) -> function: explicit units converted to the table's unit.
CONVERSIONS = {
    ("K", "Cel"): lambda v: v - 273.15,
    ("kWh", "Wh"): lambda v: v * 1000,
    ("Wh", "kWh"): lambda v: v / 1000,
    ("Pa", "hPa"): lambda v: v / 100,
    ("hPa", "Pa"): lambda v: v * 100,
    ("l", "m3"): lambda v: v / 1000,
    ("m3", "l"): lambda v: v * 1000,
    ("mm", "cm"): lambda v: v / 10,
    ("cm", "m"): lambda v: v / 100,
    ("%", "%EL"): lambda v: v,
}

#: Quantity of a record that has no name of its own, from its unit.
UNIT_QUANTITIES = {
    "Cel": "temperature", "K": "temperature", "%RH": "humidity", "%EL": "battery",
    "lat": "latitude", "lon": "longitude", "V": "voltage", "A": "current",
    "W": "power", "Wh": "energy", "kWh": "energy", "m3": "volume", "l": "volume",
    "Pa": "pressure", "hPa": "pressure", "lx": "illuminance", "ppm": "concentration",
    "ug/m3": "concentration", "dB": "noise_level", "dBA": "noise_level",
    "m3/s": "flow", "m3/h": "flow", "l/s": "flow", "l/h": "flow", "m": "distance",
    "count": "count", "%": "percentage", "Hz": "frequency",
}

#: Unit of a value's sum (value unit x seconds), RFC 8428 section 4.2.
SUM_UNITS = {"W": "J", "l/s": "l", "m3/s": "m3", "m/s": "m"}

_DEVICE_URN = lwm2m.DEVICE_URN
_NOT_NAME = re.compile(r"[^a-z0-9]+")


def _unit(unit, rec):
    if unit is None:
        return ""
    unit = UNIT_ALIASES.get(unit, unit)
    if unit not in UNITS:
        raise DecodeError(f"record {rec.index} ({rec.name or 'no name'}): unit {unit!r} is "
                          "not a hromada unit (see hromada.units.UNITS)", field="u")
    return unit


def _local_quantity(rec, names, unit):
    for key in (rec.name, rec.local):
        if key and key in names:
            return names[key]
    local = _DEVICE_URN.sub("", rec.local or rec.name, count=1).lstrip("/:")
    if local in names:
        return names[local]
    q = _NOT_NAME.sub("_", local.lower()).strip("_")
    return q or UNIT_QUANTITIES.get(unit, "value")


def _convert(value, total, unit, want, rec):
    """(value, sum, unit) in the table's unit ``want`` when a conversion is known.

    A sum is in the value's unit times seconds: a conversion by a factor applies to it
    as to the value; one with an offset (K -> Cel) would need the time the sum covers.
    """
    conv = CONVERSIONS.get((unit, want)) if want and unit != want else None
    if conv is None or not (value is None or _number(value)):
        return value, total, unit
    if total is not None:
        if conv(0) != 0:
            raise DecodeError(f"record {rec.index} ({rec.name or 'no name'}): the sum (s) "
                              f"cannot be converted from {unit} to {want}: the conversion "
                              "has an offset, and the time the sum covers is unknown",
                              field="s")
        total = conv(total)
    return (None if value is None else conv(value)), total, want


def _scaled(value, scale):
    if scale == 1 or isinstance(value, bool) or not isinstance(value, int | float):
        return value
    return value * scale


def _instance_info(records):
    """Per LwM2M (object, instance): unit from 5701, time from 5518 (+ 6050)."""
    units, times, fractions = {}, {}, {}
    for rec in records:
        p = lwm2m.path(rec.name)
        if p is None:
            continue
        key = p[:2]
        if p[2] == lwm2m.UNITS_RESOURCE and isinstance(rec.value, str):
            units[key] = rec.value
        elif p[2] == lwm2m.TIMESTAMP_RESOURCE and _number(rec.value):
            times[key] = rec.value
        elif p[2] == lwm2m.FRACTION_RESOURCE and _number(rec.value):
            fractions[key] = rec.value
    for key, frac in fractions.items():
        if key in times:
            times[key] += frac
    return units, times


def _number(v):
    return isinstance(v, int | float) and not isinstance(v, bool)


def decode_pack(payload, fmt, options=None, now=None):
    """Readings of one SenML pack: ``[(quantity, value, unit[, time])]``."""
    options = options or {}
    names = options.get("names") or {}
    use_lwm2m = options.get("lwm2m", True)
    records = senml.loads(payload, fmt)
    units, times = _instance_info(records) if use_lwm2m else ({}, {})
    out = []
    for rec in records:
        p = lwm2m.path(rec.name) if use_lwm2m and rec.name not in names else None
        own_time = None
        if p is not None:
            obj, inst, res, ri = p
            if res in lwm2m.METADATA:
                continue
            entry = lwm2m.RESOURCES.get((obj, res))
            if entry is None:
                q, want, scale = f"lwm2m_{obj}_{res}", "", 1
            else:
                q, want, scale = entry
            if inst:
                q = f"{q}_{inst}"
            if ri:
                q = f"{q}_r{ri}"
            explicit = rec.unit
            if explicit is None:
                declared = units.get((obj, inst))
                # a 5701 text the units table does not know leaves the table's unit
                if declared is not None and UNIT_ALIASES.get(declared, declared) in UNITS:
                    explicit = declared
            value, total = rec.value, rec.sum
            if want == "bool" and _number(value) and value in (0, 1):
                value = bool(value)
            if explicit is None:
                # the registry's unit: scaled to the quantity's unit where they differ
                value, total, unit = _scaled(value, scale), _scaled(total, scale), want
            else:
                value, total, unit = _convert(value, total, _unit(explicit, rec), want, rec)
            own_time = times.get((obj, inst))
        else:
            unit = _unit(rec.unit, rec)
            q = _local_quantity(rec, names, unit)
            value, total = rec.value, rec.sum
        if isinstance(value, bytes):
            value = value.hex()
        if not rec.relative:
            t = rec.time
        elif own_time is not None:
            t = own_time
        elif rec.time:
            if now is None:
                now = _time.time()
            t = now + rec.time
        else:
            t = None  # "now": the frame's receive time
        if value is not None:
            out.append((q, value, unit) if t is None else (q, value, unit, t))
        if total is not None:
            sum_unit = SUM_UNITS.get(unit, "")
            item = (f"{q}_sum", total, sum_unit)
            out.append(item if t is None else (*item, t))
    return out


def decode_json(payload, fport, options):
    """Readings of a SenML JSON pack (content-format 110)."""
    return decode_pack(payload, "json", options)


def decode_cbor(payload, fport, options):
    """Readings of a SenML CBOR pack (content-format 112)."""
    return decode_pack(payload, "cbor", options)


def _encoder(fmt):
    def encode(values, options):
        """A pack of LwM2M records (known quantities) or plain named records."""
        declared = QUANTITIES
        records = []
        for q, v in values.items():
            base, _, inst = q.rpartition("_")
            if inst.isdigit() and base in lwm2m.ENCODE_PATHS:
                obj, res = lwm2m.ENCODE_PATHS[base]
                name, inst = f"/{obj}/{inst}/{res}", int(inst)
            elif q in lwm2m.ENCODE_PATHS:
                obj, res = lwm2m.ENCODE_PATHS[q]
                name, inst = f"/{obj}/0/{res}", 0
            else:
                name, inst = q, None
            rec = {"n": name}
            if inst is not None:
                _q, unit, scale = lwm2m.RESOURCES[(obj, res)]
                if scale != 1 and _number(v):
                    v = v / scale
            else:
                unit = declared.get(q, "")
            if unit and unit != "bool":
                rec["u"] = unit
            if isinstance(v, bool):
                rec["vb"] = v
            elif isinstance(v, str):
                rec["vs"] = v
            else:
                rec["v"] = v
            records.append(rec)
        return 0, senml.dumps(records, fmt)
    return encode


QUANTITIES = lwm2m.quantities()

OPTIONS = (
    Option("names", "table", default={},
           help="SenML name -> hromada quantity, for names the LwM2M table does not know "
                "(e.g. {\"temp\" = \"temperature\"})"),
    Option("lwm2m", "bool", default=True,
           help="map LwM2M object/instance/resource names to quantities"),
)

_RFC = "RFC 8428 section 5.1.2"
_LWM2M = "OMA LwM2M registry (IPSO 3303 temperature, uCIFI 3424 water meter)"

JSON_EXAMPLES = (
    Example(b'[{"bn":"urn:dev:ow:10e2073a01080063:","n":"voltage","u":"V","v":120.1},'
            b'{"n":"current","u":"A","v":1.2}]', 0,
            [("voltage", 120.1, "V"), ("current", 1.2, "A")],
            description=f"{_RFC}: voltage and current now"),
    Example(b'[{"bn":"/3303/0/","n":"5700","v":21.5},{"n":"5701","vs":"Cel"},'
            b'{"bn":"/3424/0/","n":"1","v":123.456},{"n":"10","vb":false},'
            b'{"bn":"/3/0/","n":"9","v":87}]', 0,
            [("temperature", 21.5, "Cel"), ("volume", 123.456, "m3"), ("leak", False, "bool"),
             ("battery", 87, "%EL")],
            description=f"LwM2M SenML JSON: {_LWM2M}, device battery"),
    Example(b'[{"bn":"/3435/0/","n":"2","v":72.5},{"n":"13","vb":true},'
            b'{"bn":"/3428/0/","n":"3","v":12.3},{"n":"1","v":20.1}]', 0,
            [("fill_level", 72.5, "%"), ("tilt", True, "bool"), ("pm2_5", 12.3, "ug/m3"),
             ("pm10", 20.1, "ug/m3")],
            description="LwM2M SenML JSON: uCIFI 3435 filling level, 3428 air quality"),
)


def _cbor_examples():
    out = []
    for ex in JSON_EXAMPLES:
        cbor = senml.dumps(senml.parse(ex.payload, "json"), "cbor")
        out.append(Example(cbor, ex.fport, ex.readings,
                           description=ex.description.replace("JSON", "CBOR")))
    return tuple(out)


@hromada.hookimpl
def hromada_device_models():
    common = dict(family="generic", quantities=QUANTITIES, options=OPTIONS,
                  network="nbiot", vendor_url="https://www.rfc-editor.org/rfc/rfc8428")
    return [
        DeviceModel(id="senml/json", decode=decode_json, encode=_encoder("json"),
                    examples=JSON_EXAMPLES,
                    description="Any device reporting SenML JSON packs (CoAP content-format "
                                "110), LwM2M names mapped to quantities", **common),
        DeviceModel(id="senml/cbor", decode=decode_cbor, encode=_encoder("cbor"),
                    examples=_cbor_examples(),
                    description="Any device reporting SenML CBOR packs (CoAP content-format "
                                "112), LwM2M names mapped to quantities", **common),
    ]
