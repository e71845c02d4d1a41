"""Netvox R718N3 series: 3-phase current meter with three current transformers.

Used in street cabinets to watch the phases that feed a lighting circuit.  Format from
the Netvox R718N3 user manual ("Example of ReportDataCmd") and the Netvox codec
examples in The Things Network device repository; big-endian.  fPort 6, 11 bytes:
version (0x01), device type (0x4A), report type, battery (1B: bits 0-6 in 0.1 V, bit 7
low battery), then by report type:

* 0x00 version: software, hardware, date code (no readings);
* 0x01 current 1, 2, 3 (2B each, mA) and multiplier 1 (1B);
* 0x02 multiplier 2 and multiplier 3 (1B each);
* 0x03 current 1, 2, 3 and one byte of 2-bit multiplier codes (1, 5, 10, 100) for the
  three phases;
* 0x04 threshold alarms: low/high current for each phase.

The real current is current x multiplier; the multiplier exceeds 1 only above
65.535 A.  Report type 0x01 carries the multiplier of phase 1 only; those of phases 2
and 3 come in the following type 0x02 report (``multiplier_l2``/``multiplier_l3``), so
a decoder of single frames gives ``current_l2``/``current_l3`` of a 0x01 report at
multiplier 1.  Newer firmware sends 0x03, which is complete.  fPort 7 carries answers
to configuration commands (no readings).
"""

from __future__ import annotations

import zlib

from hromada import DeviceModel, EncodeError, Example, layout

FPORT = 6
DEVICE_TYPE = 0x4A
MULTIPLIER_CODES = {0: 1, 1: 5, 2: 10, 3: 100}

_BATTERY = [{"offset": 3, "type": "u8", "mask": 0x7F, "scale": 0.1, "quantity": "battery",
             "unit": "V"},
            {"offset": 3, "type": "u8", "name": "low battery bit", "flags": {7: "low_battery"}}]
_CURRENTS = [{"offset": 4 + 2 * i, "type": "u16", "scale": 0.001,
              "quantity": f"current_l{i + 1}", "unit": "A"} for i in range(3)]
ALARMS = {0: "low_current_alarm_l1", 1: "high_current_alarm_l1",
          2: "low_current_alarm_l2", 3: "high_current_alarm_l2",
          4: "low_current_alarm_l3", 5: "high_current_alarm_l3"}

SPEC = {"fport": {"cases": {
    FPORT: {
        "fields": [{"offset": 0, "type": "u8", "name": "version", "expect": 0x01},
                   {"offset": 1, "type": "u8", "name": "device type", "expect": DEVICE_TYPE}],
        "switch": {"offset": 2, "type": "u8", "name": "report type", "cases": {
            0x00: {},
            0x01: {"fields": [*_BATTERY, *_CURRENTS,
                              {"offset": 10, "type": "u8", "quantity": "multiplier_l1"}]},
            0x02: {"fields": [*_BATTERY,
                              {"offset": 4, "type": "u8", "quantity": "multiplier_l2"},
                              {"offset": 5, "type": "u8", "quantity": "multiplier_l3"}]},
            0x03: {"fields": [*_BATTERY, *_CURRENTS, *(
                {"offset": 10, "type": "u8", "mask": 0x03 << 2 * i, "enum": MULTIPLIER_CODES,
                 "quantity": f"multiplier_l{i + 1}"} for i in range(3))]},
            0x04: {"fields": [*_BATTERY,
                              {"offset": 4, "type": "u8", "name": "alarms", "flags": ALARMS}]},
        }},
    },
    7: {},
}}}


def _post(readings, options):
    """Currents times their multipliers; the multipliers stay only when no current came."""
    mult = {q[-2:]: v for q, v, _u in readings if q.startswith("multiplier_")}
    if not any(q.startswith("current_") for q, _v, _u in readings):
        return readings
    out = []
    for q, v, u in readings:
        if q.startswith("multiplier_"):
            continue
        if q.startswith("current_") and mult.get(q[-2:], 1) != 1:
            v = round(v * mult[q[-2:]], 6)
        out.append((q, v, u))
    return out


QUANTITIES = {"battery": "V", "low_battery": "bool",
              **{f"current_l{i}": "A" for i in (1, 2, 3)},
              "multiplier_l2": "", "multiplier_l3": "",
              **{q: "bool" for q in ALARMS.values()}}


def _header(report, values):
    battery = values.get("battery", 3.6)
    if isinstance(battery, bool) or not isinstance(battery, int | float) \
            or not 0 <= round(battery * 10) <= 0x7F:
        raise EncodeError(f"'battery' must be 0..12.7 V, not {battery!r}")
    return bytes([0x01, DEVICE_TYPE, report,
                  round(battery * 10) | bool(values.get("low_battery")) << 7])


def _current_raw(amps, mult, q):
    if isinstance(amps, bool) or not isinstance(amps, int | float) or not amps >= 0:
        raise EncodeError(f"{q!r} must be a non-negative number of A, not {amps!r}")
    return round(amps * 1000 / mult)


def encode(values, options=None):
    """A report of the type the values belong to: currents (0x01, or 0x03 when a phase
    needs a multiplier), multipliers (0x02) or alarms (0x04)."""
    keys = set(values)
    unknown = sorted(keys - set(QUANTITIES))
    if unknown:
        raise EncodeError(f"{unknown} are not quantities of an R718N3 report")
    common = {"battery", "low_battery"}
    groups = {0x01: {"current_l1", "current_l2", "current_l3"},
              0x02: {"multiplier_l2", "multiplier_l3"}, 0x04: set(ALARMS.values())}
    reports = [r for r, qs in groups.items() if keys & qs]
    if len(reports) > 1:
        raise EncodeError(f"{sorted(keys - common)} span several report types: encode "
                          "them separately")
    report = reports[0] if reports else 0x01
    if report == 0x02:
        body = bytes([int(values.get("multiplier_l2", 1)), int(values.get("multiplier_l3", 1)),
                      0, 0, 0, 0, 0])
        return FPORT, _header(0x02, values) + body
    if report == 0x04:
        flags = 0
        for bit, q in ALARMS.items():
            flags |= bool(values.get(q)) << bit
        return FPORT, _header(0x04, values) + bytes([flags, 0, 0, 0, 0, 0, 0])
    amps = [values.get(f"current_l{i}", 0) for i in (1, 2, 3)]
    raws = [_current_raw(a, 1, f"current_l{i + 1}") for i, a in enumerate(amps)]
    if all(r <= 0xFFFF for r in raws):
        return FPORT, (_header(0x01, values) + b"".join(r.to_bytes(2, "big") for r in raws)
                       + b"\x01")
    codes = 0
    raws = []
    for i, a in enumerate(amps):
        code = next((c for c, m in MULTIPLIER_CODES.items()
                     if _current_raw(a, m, f"current_l{i + 1}") <= 0xFFFF), None)
        if code is None:
            raise EncodeError(f"current_l{i + 1} {a!r} A is beyond the meter's range")
        codes |= code << 2 * i
        raws.append(_current_raw(a, MULTIPLIER_CODES[code], f"current_l{i + 1}"))
    return FPORT, (_header(0x03, values) + b"".join(r.to_bytes(2, "big") for r in raws)
                   + bytes([codes]))


# -- simulation: the feeder of a street-lighting circuit -----------------------------------


def simulate(device, t, rng):
    hour = (t % 86400) / 3600.0
    dark = hour >= 17.5 or hour < 6.5
    load = 6.0 + (zlib.crc32(device.id.encode()) % 40) / 10.0  # amps per phase when lit
    values = {"battery": 3.6, "low_battery": False}
    for i in (1, 2, 3):
        base = load * (0.4 if 23 <= hour or hour < 5 else 1.0) if dark else 0.15
        ma = int(base * 1000 * (0.95 + 0.1 * rng.random()))
        values[f"current_l{i}"] = ma / 1000
    return values


# -- the model ---------------------------------------------------------------------------

_MANUAL = "Netvox R718N3 user manual, example of ReportDataCmd"
_TTN = "Netvox R718N3 codec examples in the TTN device repository"

EXAMPLES = (
    Example("01 4A 01 9F 05DD 05D4 05DE 01", FPORT,
            [("battery", 3.1, "V"), ("low_battery", True, "bool"),
             ("current_l1", 1.501, "A"), ("current_l2", 1.492, "A"),
             ("current_l3", 1.502, "A")], f"{_MANUAL}, data #1"),
    Example("01 4A 02 9F 01 01 0000000000", FPORT,
            [("battery", 3.1, "V"), ("low_battery", True, "bool"),
             ("multiplier_l2", 1, ""), ("multiplier_l3", 1, "")], f"{_MANUAL}, data #2"),
    Example("01 4A 01 24 03E8 00C8 1B58 01", FPORT,
            [("battery", 3.6, "V"), ("low_battery", False, "bool"),
             ("current_l1", 1.0, "A"), ("current_l2", 0.2, "A"), ("current_l3", 7.0, "A")],
            f"{_TTN}: status report 1"),
    Example("01 4A 03 24 03E8 00C8 1B58 36", FPORT,
            [("battery", 3.6, "V"), ("low_battery", False, "bool"),
             ("current_l1", 10.0, "A"), ("current_l2", 1.0, "A"), ("current_l3", 700.0, "A")],
            f"{_TTN}: status report 3 (multipliers 10, 5, 100)"),
    Example("01 4A 04 24 39 000000000000", FPORT,
            [("battery", 3.6, "V"), ("low_battery", False, "bool"),
             ("low_current_alarm_l1", True, "bool"), ("high_current_alarm_l1", False, "bool"),
             ("low_current_alarm_l2", False, "bool"), ("high_current_alarm_l2", True, "bool"),
             ("low_current_alarm_l3", True, "bool"), ("high_current_alarm_l3", True, "bool")],
            f"{_TTN}: status report 4 (threshold alarms)"),
    Example("01 4A 00 64 02 20200706 0000", FPORT, [], f"{_TTN}: start-up version report"),
)


def build_models(impl=None):
    lay = layout.compile(SPEC, impl)
    return [DeviceModel(
        id="netvox/r718n3", family="electricity_meter",
        decode=layout.decoder(lay, _post), encode=encode, quantities=QUANTITIES,
        simulate=simulate,
        description="3-phase current meter (three CTs, 50 A to 630 A): phase currents, "
                    "threshold alarms, battery",
        vendor_url="http://www.netvox.com.tw/product.asp?pro=R718N3",
        examples=EXAMPLES)]
