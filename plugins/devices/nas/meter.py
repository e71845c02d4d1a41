"""NAS CM3061 "Pulser BK-G": LoRaWAN reader for BK-G diaphragm gas meters (CM30xx 2.3.x).

The CM30xx meter modules (CM3061 on Elster/Honeywell BK-G gas meters; CM3021/3030/3040
on water meters) share one usage packet, as given in NAS's "CM3061 2.3.x Payload
Structures" with its datasheet examples (also in NAS's public codec repository,
github.com/nasys/nas-codecs).  Little-endian.  fPort 25, header 0x04:

* alerts (1B): bit 0 backflow, 1 broken pipe, 2 continuous flow, 3 tamper, 4
  temperature, 5 low battery, 6 no usage (each "pending");
* meter status (1B): 0 connected, 1 no response, 2/4 protocol error, 3 damaged, 5 bus
  shorted;
* meter setup (1B): bits 0-2 multiplier exponent e (volume step 10^(e-6)), bits 3-4
  medium (water, warm water, gas), bits 5-6 unit (m3, US gal, ft3), bit 7 privacy
  mode (a readout date of 2B follows the volume);
* age of the meter reading (1B, a piecewise scale from minutes to a year);
* accumulated volume (4B, in multiplier steps);
* flags (1B): bit 1 says a device status block of 10B follows: battery months left,
  battery voltage ((1B / 100) + 1.5 V), temperature (s8), min/max temperature, radio
  RSSI and SNR, meter serial (4B).

The shutdown packet (fPort 99, header 0x01, reason byte) carries a usage packet from
byte 2.  Volumes in gallons or cubic feet are converted to m3.  Everything but the
volume scaling runs in the layout engine (the privacy-mode switch and the device
status block included).
"""

from __future__ import annotations

import math

from hromada import DeviceModel, EncodeError, Example, layout

from ._common import stable_hash

USAGE, CONFIG, COMMAND, SYSTEM = 25, 50, 60, 99

ALERTS = {0: "backflow", 1: "burst", 2: "leak", 3: "tamper", 4: "temperature_alert",
          5: "low_battery", 6: "no_usage"}
METER_STATUS = {0: "connected", 1: "no_response", 2: "protocol_error", 3: "meter_damaged",
                4: "protocol_error", 5: "bus_shorted"}
EXPONENTS = {e + 6: e for e in (-3, -2, -1, 0, 1)}  # raw 3..7 -> 10^-3 .. 10^1
MEDIA = {0: "water", 1: "warm_water", 2: "gas"}
VOLUME_UNITS = {0: "m3", 1: "gal", 2: "ft3"}
TO_M3 = {"m3": 1.0, "gal": 0.003785411784, "ft3": 0.028316846592}


def reading_age_minutes(raw):
    """Minutes since the meter was read, from the 1-byte piecewise scale (254+: none)."""
    if raw < 60:
        return raw
    if raw < 156:
        return (raw - 60) * 15
    if raw < 200:
        return (raw - 156) * 1440
    if raw < 253:
        return (raw - 200) * 10080
    return 525600


READING_AGE = {raw: reading_age_minutes(raw) for raw in range(254)}

DEVICE_STATUS = {"bit": 0, "size": 10, "name": "device status", "fields": [
    {"offset": 1, "type": "u8", "scale": 0.01, "add": 1.5, "quantity": "battery", "unit": "V"},
    {"offset": 2, "type": "s8", "quantity": "temperature", "unit": "Cel"},
]}


def _device_status(at):
    # bit 1 of the flags byte at `at` announces the block right after it
    return {"present": {"offset": at, "type": "u8", "mask": 0x02, "name": "device status flag",
                        "at": at + 1, "blocks": [DEVICE_STATUS]}}


def usage_spec(b):
    """The usage packet starting at byte ``b``."""
    return {
        "fields": [
            {"offset": b, "type": "u8", "name": "usage header", "expect": 0x04},
            {"offset": b + 1, "type": "u8", "name": "alerts", "flags": ALERTS},
            {"offset": b + 2, "type": "u8", "enum": METER_STATUS, "quantity": "meter_status"},
            {"offset": b + 3, "type": "u8", "mask": 0x07, "name": "multiplier",
             "enum": EXPONENTS, "quantity": "meter_exponent"},
            {"offset": b + 3, "type": "u8", "mask": 0x18, "name": "medium", "enum": MEDIA,
             "quantity": "meter_medium"},
            {"offset": b + 3, "type": "u8", "mask": 0x60, "name": "volume unit",
             "enum": VOLUME_UNITS, "quantity": "meter_unit"},
            {"offset": b + 4, "type": "u8", "enum": READING_AGE, "invalid": [254, 255],
             "quantity": "reading_age", "unit": "min"},
            {"offset": b + 5, "type": "u32", "quantity": "volume", "unit": "m3"},
        ],
        "switch": {"offset": b + 3, "type": "u8", "mask": 0x80, "name": "privacy mode",
                   "cases": {0: _device_status(b + 9), 1: _device_status(b + 11)}},
    }


SPEC = {"endian": "little", "fport": {"cases": {
    USAGE: usage_spec(0),
    CONFIG: {},
    COMMAND: {},
    SYSTEM: {"switch": {"offset": 0, "type": "u8", "name": "system packet", "cases": {
        0x00: {}, 0x01: usage_spec(2), 0x13: {}}}},
}}}

_SETUP = ("meter_exponent", "meter_medium", "meter_unit")


def _post(readings, options):
    """The volume in m3 from the raw count, its multiplier and its unit."""
    setup = {}
    out = []
    for r in readings:
        if r[0] in _SETUP:
            setup[r[0]] = r[1]
        else:
            out.append(r)
    exp = setup.get("meter_exponent")
    if exp is None:
        return out
    unit = setup["meter_unit"]
    for i, (q, raw, _u) in enumerate(out):
        if q == "volume":
            # divide rather than multiply by 0.01 so that 328335 reads 3283.35 exactly
            vol = raw / 10 ** -exp if exp < 0 else float(raw * 10 ** exp)
            if unit != "m3":
                vol = round(vol * TO_M3[unit], 6)
            out[i] = ("volume", vol, "m3")
    return out


QUANTITIES = {**{q: "bool" for q in ALERTS.values()}, "meter_status": "",
              "reading_age": "min", "volume": "m3", "battery": "V", "temperature": "Cel"}


def _exponent(vol):
    """The multiplier exponent for ``vol`` m3: exact if one is (0.01 m3 first, the BK-G4
    pulse), else the finest that fits 32 bits."""
    fits = [e for e in (-3, -2, -1, 0, 1) if round(vol * 10 ** -e) <= 0xFFFFFFFF]
    if not fits:
        raise EncodeError(f"volume {vol!r} m3 is beyond the register")
    for e in sorted(fits, key=lambda e: (e != -2, e)):
        if round(vol * 10 ** -e) / 10 ** -e == vol:
            return e
    return fits[0]


def _encoder(lay):
    def encode(values, options=None):
        """A usage packet (gas, m3, no privacy mode) carrying ``values``."""
        unknown = sorted(set(values) - set(QUANTITIES))
        if unknown:
            raise EncodeError(f"{unknown} are not quantities of a CM3061 usage packet")
        v = dict(values)
        vol = v.get("volume")
        if vol is None:
            raise EncodeError("a CM3061 usage packet needs 'volume'")
        if isinstance(vol, bool) or not isinstance(vol, int | float) or not vol >= 0:
            raise EncodeError(f"'volume' must be a non-negative number of m3, not {vol!r}")
        exp = _exponent(vol)
        v.update(volume=round(vol * 10 ** -exp), meter_exponent=exp, meter_medium="gas",
                 meter_unit="m3")
        status = "battery" in v or "temperature" in v
        v.setdefault("battery", 3.6)  # the device status block carries both or none
        v.setdefault("temperature", 0)
        data = lay.encode(v, USAGE)
        if not status:  # the layout writes the block; take it out again
            data = data[:9] + bytes([data[9] & ~0x02])
        return USAGE, data
    encode.layout = lay
    return encode


# -- simulation: a household's gas, more in the morning, the evening and the winter ------

_T0 = 1577836800  # 2020-01-01


def _phi(x):
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def _day_share(hour):
    """Share of a day's gas used by ``hour``: heating and cooking peak at 07:00 and 19:00."""
    def f(h):
        return (0.25 * h / 24.0 + 0.35 * (_phi((h - 7.0) / 1.3) - _phi(-7.0 / 1.3))
                + 0.40 * (_phi((h - 19.0) / 1.8) - _phi(-19.0 / 1.8)))
    return f(hour) / f(24.0)


def gas_used_m3(t, mean=1.2, swing=1.0):
    """Cumulative m3 since 2020 at ``t``: ``mean`` +- ``swing`` m3 a day, most in January."""
    s = max(0.0, t - _T0)
    days = int(s // 86400)
    d = days + _day_share((s - days * 86400) / 3600.0)
    w = 2 * math.pi / 365.0
    return mean * d + swing / w * (math.sin(w * (d - 15)) + math.sin(w * 15))


def simulate(device, t, rng):
    start = 100 + stable_hash(device.id) % 5000
    size = 0.7 + (stable_hash(device.id + "/size") % 60) / 100.0  # household size
    volume = int((start + gas_used_m3(t, 1.2 * size, 1.0 * size)) * 100) / 100
    return {**{q: False for q in ALERTS.values()}, "tamper": rng.random() < 0.001,
            "meter_status": "connected", "reading_age": int(rng.random() * 15),
            "volume": volume, "battery": round(3.45 + 0.15 * rng.random(), 2),
            "temperature": int(round(8 + 10 * rng.random()))}


# -- the model ---------------------------------------------------------------------------

_DS = "NAS CM30xx 2.3.x payload structures, datasheet example (nas-codecs test suite)"
_NO_ALERTS = [(q, False, "bool") for q in ALERTS.values()]


def _alerts(*on):
    return [(q, q in on, "bool") for q in ALERTS.values()]


EXAMPLES = (
    Example("04 00 00 14 01 54000000 01", USAGE,
            [*_NO_ALERTS, ("meter_status", "connected", ""), ("reading_age", 1, "min"),
             ("volume", 0.84, "m3")],
            f"{_DS}: gas meter, 0.84 m3"),
    Example("04 11 00 8C 03 8F020500 752B 03 B3 7F 12 00 24 5F 51945400", USAGE,
            [*_alerts("backflow", "temperature_alert"), ("meter_status", "connected", ""),
             ("reading_age", 3, "min"), ("volume", 3283.35, "m3"), ("battery", 2.77, "V"),
             ("temperature", 18, "Cel")],
            f"{_DS}: usage packet with the device status block (privacy mode, readout "
            "date 2019-12-21; the example meter is a warm-water meter)"),
    Example("01 33 04 C1 00 D7 43 3F254E05 752B 03 6B D1 16 4A 33 7C 44983938", SYSTEM,
            [*_alerts("backflow", "no_usage"), ("meter_status", "connected", ""),
             ("reading_age", 105, "min"), ("volume", 25204095.426403, "m3"),
             ("battery", 3.59, "V"), ("temperature", 22, "Cel")],
            f"{_DS}: shutdown packet of a gas meter counting 890074230 ft3"),
)


def build_models(impl=None):
    lay = layout.compile(SPEC, impl)
    return [DeviceModel(
        id="nas/cm3061", family="gas_meter",
        decode=layout.decoder(lay, _post), encode=_encoder(lay), quantities=QUANTITIES,
        simulate=simulate,
        description="Pulse reader for BK-G diaphragm gas meters: volume, backflow, tamper, "
                    "leak (continuous flow) and burst alerts, battery",
        vendor_url="https://www.nasys.no/product/lorawan-pulser-bk-g-cm3061/",
        examples=EXAMPLES)]
