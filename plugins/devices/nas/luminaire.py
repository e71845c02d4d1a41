"""NAS (Nordic Automation Systems) UL20xx luminaire controllers, firmware 1.1.x.

The UL2030 (and UL2002/2014/2020/2021/2033 ...) sits in a street light's Zhaga or NEMA
socket: it switches the luminaire with an internal relay, dims its DALI or 0-10 V
driver and meters what the lamp draws.  The formats below are NAS's "UL20xx 1.1.x"
payload structures, as documented together with their datasheet examples in NAS's
public codec repository (github.com/nasys/nas-codecs); little-endian throughout.

Uplinks, by fPort:

* 23 status: header (0x00 before 1.1.4, 0x01 since), device time (4B), status bits
  (bit 1 DALI connection error, bit 5 metering error, bit 7 internal relay closed),
  [0x01: a second status byte], downlink RSSI and SNR, MCU temperature (s8), then
  either (0x00) a byte saying whether an LDR value and the alert byte follow, or
  (0x01) the alert byte and a length-prefixed block of sensor sources (0x01 LDR 1B,
  0x02 light sensor 2B, 0x03 D4i light sensor 2B, 0x04 digital input 1B, 0x08 tilt
  1B); the rest are dimming sources of 4 bytes: address, reason, level (0xFF none),
  DALI status (bit 0 driver error, bit 1 lamp failure; 0xFF none).
* 26 usage: header 0x00, then per address (0xFF internal metering, DALI addresses) a
  bitmask announcing the fields that follow: active energy (4B Wh), active power (2B
  W), load-side energy (4B Wh), load-side power (2B W), power factor (1B /100), mains
  voltage (1B V), driver operating time (4B s), lamp on time (4B s).
* 50 configuration echoes, 99 boot and rejected-downlink packets: no readings.
* 60 command responses: 0x01 manual dimming (address, level) pairs, 0x09 timed
  dimming (address, level, minutes) triples.
* 61 notifications: 0x80 digital input, 0x81 LDR, 0x83 DALI driver alert (address,
  status) pairs, 0x84 metering alert (condition bits, power 2B, voltage 2B, power
  factor 1B), 0x85 light-sensor step.

Downlinks go to fPort 60: ``01 (address level)+`` dims, ``09 (address level minutes)+``
dims for a while; level 0xFF resumes the controller's own schedule.  Addresses: 0xFE
broadcast, 0x01 the 0-10 V output, ``n << 1`` DALI short address n, ``0x80 | g << 1``
DALI group g.

When an uplink carries a value for several addresses (a broadcast and a single DALI
driver, or the internal meter and a D4i driver), the first gets the plain quantity
name and the others are prefixed with their address: ``dali_9_lamp_on_time``.
``lamp_on`` is derived: the relay is closed and the first dimming level is not 0.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

from hromada import DecodeError, DeviceModel, EncodeError, Example, layout

from ._common import need, stable_hash

STATUS, USAGE, CONFIG, COMMAND, NOTIFY, SYSTEM = 23, 26, 50, 60, 61, 99

# -- addresses ---------------------------------------------------------------------------


def address_name(addr):
    """A DALI/output address byte as it prefixes quantities (``dali_9``, ``broadcast``)."""
    if addr == 0x01:
        return "analog"
    if addr == 0xFE:
        return "broadcast"
    if addr == 0xFF:
        return "internal"
    if addr & 0x01:
        return f"address_{addr}"  # not a valid address byte; kept apart, not dropped
    if addr & 0x80:
        return f"dali_group_{(addr >> 1) & 0x0F}"
    return f"dali_{(addr >> 1) & 0x3F}"


_NAMED = {"analog": 0x01, "broadcast": 0xFE, "internal": 0xFF}
_DALI = re.compile(r"(dali_group_|dali_|address_)(\d+)\Z")


def address_byte(name):
    """The inverse of :func:`address_name`."""
    if name in _NAMED:
        return _NAMED[name]
    m = _DALI.match(name)
    if m:
        kind, n = m.group(1), int(m.group(2))
        if kind == "dali_" and n < 64:
            return n << 1
        if kind == "dali_group_" and n < 16:
            return 0x80 | n << 1
        if kind == "address_" and n < 256 and n & 1:
            return n
    raise EncodeError(f"{name!r} is not an address (broadcast, analog, internal, dali_N, "
                      "dali_group_N)")


class _Named:
    """Gives the first carrier of a quantity its plain name, later ones an address prefix."""

    __slots__ = ("seen",)

    def __init__(self):
        self.seen = set()

    def __call__(self, quantity, addr):
        if quantity in self.seen:
            return f"{address_name(addr)}_{quantity}"
        self.seen.add(quantity)
        return quantity


# -- the light sensor's logarithmic scale ------------------------------------------------


def light_lux(raw):
    """Lux from the light sensor's 15-bit value: 10^(raw/4000) / 1000, 4 significant digits."""
    lx = 10.0 ** ((raw & 0x7FFF) / 4000.0) / 1000.0
    return round(lx, 3 - int(min(3.0, max(0.0, math.log10(lx)))))


def light_raw(lux):
    if isinstance(lux, bool) or not isinstance(lux, int | float) or not lux > 0:
        raise EncodeError(f"'light_level' must be a positive number of lux, not {lux!r}")
    raw = round(4000.0 * math.log10(lux * 1000.0))
    if not 0 <= raw < 0x7FFF:
        raise EncodeError(f"light level {lux} lx is outside the sensor's scale")
    return raw


# -- the variable parts, in Python (the fixed parts run in the layout engine) ------------

ALERTS_24H = {4: "voltage_alert_24h", 5: "lamp_error_alert_24h", 6: "power_alert_24h",
              7: "power_factor_alert_24h"}


def _alerts(byte):
    return [(q, bool(byte >> bit & 1), "bool") for bit, q in ALERTS_24H.items()]


def _dali_status(out, named, addr, status):
    if status != 0xFF:  # 0xFF: the address has no DALI status (0-10 V, broadcast echo)
        out.append((named("driver_error", addr), bool(status & 0x01), "bool"))
        out.append((named("lamp_failure", addr), bool(status & 0x02), "bool"))


def _dimming_sources(payload, pos, out):
    n = len(payload)
    named = _Named()
    k = 0
    while pos < n:
        k += 1
        need(payload, pos, 4, f"dimming source {k}")
        addr, level, status = payload[pos], payload[pos + 2], payload[pos + 3]
        if level != 0xFF:
            out.append((named("dimming_level", addr), level, "%"))
        _dali_status(out, named, addr, status)
        pos += 4


_SENSOR_SIZES = {0x01: 1, 0x02: 2, 0x03: 2, 0x04: 1, 0x08: 1}


def _sensor_block(payload, pos, out):
    need(payload, pos, 1, "sensor sources length")
    end = pos + 1 + payload[pos]
    need(payload, pos + 1, end - pos - 1, "sensor sources")
    pos += 1
    light = False
    while pos < end:
        kind = payload[pos]
        size = _SENSOR_SIZES.get(kind)
        if size is None:
            break  # a source this decoder does not know: NAS's rule is to skip the block
        if pos + 1 + size > end:
            raise DecodeError(f"sensor source 0x{kind:02x} at byte {pos} runs past the end of "
                              f"the sensor sources at byte {end}", offset=pos,
                              field="sensor sources")
        b = payload[pos + 1]
        if kind == 0x01:
            out.append(("ldr_input", b, ""))
        elif kind in (0x02, 0x03):
            raw = b | payload[pos + 2] << 8
            if raw != 0xFFFF and not light:
                out.append(("light_level", light_lux(raw), "lx"))
                light = True
        elif kind == 0x04:
            out.append(("digital_input", bool(b & 0x01), "bool"))
        elif b != 0xFF:
            out.append(("tilt", b, "deg"))
        pos += 1 + size
    return end


def _status_tail(payload, base, fport):
    """Status since 1.1.4 (header 0x01), from the sensor sources on."""
    out = []
    _dimming_sources(payload, _sensor_block(payload, 11, out), out)
    return out


def _status_tail_early(payload, base, fport):
    """Status before 1.1.4 (header 0x00), from the 'reported fields' byte on."""
    out = []
    need(payload, 9, 1, "reported fields")
    bits = payload[9]
    pos = 10
    if bits & 0x02:
        need(payload, pos, 1, "ldr input")
        out.append(("ldr_input", payload[pos], ""))
        pos += 1
    if bits & 0x10:
        need(payload, pos, 1, "alerts")
        out.extend(_alerts(payload[pos]))
        pos += 1
    _dimming_sources(payload, pos, out)
    return out


# bit, quantity, size, unit, divisor (None: integer), raw value meaning "unknown"
USAGE_FIELDS = (
    (0, "energy", 4, "kWh", 1000, None),
    (1, "power", 2, "W", None, None),
    (2, "load_energy", 4, "kWh", 1000, None),
    (3, "load_power", 2, "W", None, None),
    (4, "power_factor", 1, "/", 100, 0xFF),
    (5, "voltage", 1, "V", None, None),
    (6, "driver_operating_time", 4, "s", None, None),
    (7, "lamp_on_time", 4, "s", None, None),
)
_USAGE_SIZE = {bit: size for bit, _q, size, _u, _d, _i in USAGE_FIELDS}


def _usage_tail(payload, base, fport):
    out = []
    named = _Named()
    n = len(payload)
    pos = 1
    k = 0
    while pos < n:
        k += 1
        need(payload, pos, 2, f"usage entry {k}")
        addr, mask = payload[pos], payload[pos + 1]
        end = pos + 2 + sum(size for bit, size in _USAGE_SIZE.items() if mask >> bit & 1)
        if end > n:
            raise DecodeError(
                f"payload too short for usage entry {k} ({address_name(addr)}) at byte "
                f"{pos}: {n} bytes given, {end} needed", offset=pos, field=f"usage entry {k}")
        pos += 2
        for bit, q, size, unit, div, unknown in USAGE_FIELDS:
            if not mask >> bit & 1:
                continue
            raw = int.from_bytes(payload[pos:pos + size], "little")
            pos += size
            if raw == unknown:
                continue
            out.append((named(q, addr), raw / div if div else raw, unit))
    return out


def _dimming_echo(step):
    def tail(payload, base, fport):
        out = []
        named = _Named()
        n = len(payload)
        pos = 1
        k = 0
        while pos < n:
            k += 1
            need(payload, pos, step, f"dimming destination {k}")
            if payload[pos + 1] != 0xFF:  # 0xFF: back to the schedule, no level
                out.append((named("dimming_level", payload[pos]), payload[pos + 1], "%"))
            pos += step
        return out
    return tail


def _driver_alert(payload, base, fport):
    out = []
    named = _Named()
    n = len(payload)
    pos = 2
    k = 0
    while pos < n:
        k += 1
        need(payload, pos, 2, f"driver {k}")
        _dali_status(out, named, payload[pos], payload[pos + 1])
        pos += 2
    return out


# -- the layout --------------------------------------------------------------------------

_STATUS_BITS = {"offset": 5, "type": "u8", "name": "status bits",
                "flags": {1: "dali_connection_error", 5: "metering_error", 7: "relay_on"}}

METERING_ALERTS = {0: "lamp_error_alert", 1: "over_current_alert", 2: "under_voltage_alert",
                   3: "over_voltage_alert", 4: "low_power_factor_alert"}

SPEC = {"endian": "little", "fport": {"cases": {
    STATUS: {"switch": {"offset": 0, "type": "u8", "name": "status header", "cases": {
        0x00: {"fields": [_STATUS_BITS,
                          {"offset": 8, "type": "s8", "quantity": "temperature", "unit": "Cel"}],
               "python": _status_tail_early},
        0x01: {"fields": [_STATUS_BITS,
                          {"offset": 9, "type": "s8", "quantity": "temperature", "unit": "Cel"},
                          {"offset": 10, "type": "u8", "name": "alerts", "flags": ALERTS_24H}],
               "python": _status_tail},
    }}},
    USAGE: {"fields": [{"offset": 0, "type": "u8", "name": "usage header", "expect": 0}],
            "python": _usage_tail},
    CONFIG: {},
    COMMAND: {"switch": {"offset": 0, "type": "u8", "name": "command", "cases": {
        0x01: {"python": _dimming_echo(2)},
        0x09: {"python": _dimming_echo(3)},
        # DALI queries and commands, status requests, driver memory, addressing,
        # identify, open-drain output: answers without readings
        **{code: {} for code in (0x03, 0x04, 0x05, 0x07, 0x08, 0x0A, 0x0B, 0x0C)},
    }}},
    NOTIFY: {"switch": {"offset": 0, "type": "u8", "name": "notification", "cases": {
        # digital input: the high nibble of byte 1 is the length of what follows
        0x80: {"switch": {"offset": 1, "type": "u8", "mask": 0xF0, "name": "digital input length",
                          "cases": {
            2: {"fields": [{"offset": 2, "type": "u16", "quantity": "digital_input_count",
                            "unit": "count"}]},
            4: {"fields": [{"offset": 1, "type": "u8", "mask": 0x01, "bool": True,
                            "quantity": "digital_input"},
                           {"offset": 2, "type": "u32", "quantity": "digital_input_count",
                            "unit": "count"}]}}}},
        0x81: {"fields": [{"offset": 3, "type": "u8", "quantity": "ldr_input"}]},
        0x83: {"python": _driver_alert},
        0x84: {"fields": [{"offset": 1, "type": "u8", "name": "alert conditions",
                           "flags": METERING_ALERTS},
                          {"offset": 2, "type": "u16", "quantity": "power", "unit": "W"},
                          {"offset": 4, "type": "u16", "quantity": "voltage", "unit": "V"},
                          {"offset": 6, "type": "u8", "scale": 0.01, "invalid": [0xFF],
                           "quantity": "power_factor", "unit": "/"}]},
        0x85: {},
    }}},
    SYSTEM: {"switch": {"offset": 0, "type": "u8", "name": "system packet",
                        "cases": {0x00: {}, 0x13: {}}}},
}}}


def _post(readings, options):
    relay = level = None
    for q, v, _unit in readings:
        if q == "relay_on":
            relay = v
        elif q == "dimming_level":
            level = v
    if relay is not None:
        readings.append(("lamp_on", relay and (level is None or level > 0), "bool"))
    return readings


STATUS_QUANTITIES = {
    "dali_connection_error": "bool", "metering_error": "bool", "relay_on": "bool",
    "temperature": "Cel", **{q: "bool" for q in ALERTS_24H.values()},
    "ldr_input": "", "light_level": "lx", "digital_input": "bool", "tilt": "deg",
    "dimming_level": "%", "driver_error": "bool", "lamp_failure": "bool", "lamp_on": "bool",
}
USAGE_QUANTITIES = {q: unit for _b, q, _s, unit, _d, _i in USAGE_FIELDS}
ALERT_QUANTITIES = {q: "bool" for q in METERING_ALERTS.values()}
QUANTITIES = {
    **STATUS_QUANTITIES, **USAGE_QUANTITIES, **ALERT_QUANTITIES,
    "digital_input_count": "count",
    # the same quantity for a further address: dali_9_dimming_level, dali_9_energy ...
    **{f"*_{q}": STATUS_QUANTITIES[q] for q in ("dimming_level", "driver_error",
                                                "lamp_failure")},
    **{f"*_{q}": unit for q, unit in USAGE_QUANTITIES.items()},
}

# -- encoding (the simulator's uplinks) ---------------------------------------------------


def _int(value, lo, hi, what):
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        raise EncodeError(f"{what} must be a number, not {value!r}")
    raw = round(value)
    if not lo <= raw <= hi:
        raise EncodeError(f"{what} {value!r} is outside {lo}..{hi}")
    return raw


def _split(values, plain):
    """(plain values, {address byte: {quantity: value}}) for prefixed quantities."""
    base, extra = {}, {}
    for q, v in values.items():
        if q in plain:
            base[q] = v
            continue
        for p in sorted(plain, key=len, reverse=True):
            if q.endswith("_" + p):
                addr = address_byte(q[:-len(p) - 1])
                extra.setdefault(addr, {})[p] = v
                break
        else:
            raise EncodeError(f"{q!r} is not a quantity of this frame")
    for addr, qs in extra.items():
        lone = sorted(set(qs) - set(base))
        if lone:
            raise EncodeError(f"{[f'{address_name(addr)}_{q}' for q in lone]} would decode "
                              "under the plain name: give the plain quantity too")
    return base, extra


def _source(addr, v):
    level = v.get("dimming_level")
    level = 0xFF if level is None else _int(level, 0, 100, "'dimming_level'")
    if "driver_error" in v or "lamp_failure" in v:
        status = int(bool(v.get("driver_error"))) | int(bool(v.get("lamp_failure"))) << 1
    else:
        status = 0xFF
    return bytes([addr, 0x00, level, status])


def _encode_status(values):
    base, extra = _split(values, set(STATUS_QUANTITIES))
    level = base.get("dimming_level")
    relay = base.get("relay_on")
    lamp_on = base.get("lamp_on")
    if relay is None:
        relay = bool(lamp_on) if lamp_on is not None else level is None or level > 0
    derived = bool(relay) and (level is None or level > 0)
    if lamp_on is not None and bool(lamp_on) != derived:
        raise EncodeError(f"lamp_on={lamp_on!r} contradicts relay_on={relay!r} with "
                          f"dimming_level={level!r}")
    status = (bool(relay) << 7 | bool(base.get("dali_connection_error")) << 1
              | bool(base.get("metering_error")) << 5)
    temp = _int(base.get("temperature", 0), -128, 127, "'temperature'")
    alerts = 0
    for bit, q in ALERTS_24H.items():
        alerts |= bool(base.get(q)) << bit
    sensors = bytearray()
    if "ldr_input" in base:
        sensors += bytes([0x01, _int(base["ldr_input"], 0, 255, "'ldr_input'")])
    if "light_level" in base:
        sensors += b"\x02" + light_raw(base["light_level"]).to_bytes(2, "little")
    if "digital_input" in base:
        sensors += bytes([0x04, int(bool(base["digital_input"]))])
    if "tilt" in base:
        sensors += bytes([0x08, _int(base["tilt"], 0, 254, "'tilt'")])
    out = bytearray([0x01, 0, 0, 0, 0, status, 0x00, 0, 0, temp & 0xFF, alerts,
                     len(sensors)])
    out += sensors
    if any(q in base for q in ("dimming_level", "driver_error", "lamp_failure")) or extra:
        out += _source(0xFE, base)
    for addr, v in extra.items():
        out += _source(addr, v)
    return STATUS, bytes(out)


def _encode_usage(values):
    base, extra = _split(values, set(USAGE_QUANTITIES))
    out = bytearray([0x00])
    for addr, v in ((0xFF, base), *extra.items()):
        mask = 0
        body = bytearray()
        for bit, q, size, _unit, div, unknown in USAGE_FIELDS:
            if q not in v:
                continue
            value = v[q] * div if div else v[q]
            hi = unknown - 1 if unknown is not None else (1 << 8 * size) - 1
            body += _int(value, 0, hi, repr(q)).to_bytes(size, "little")
            mask |= 1 << bit
        out += bytes([addr, mask]) + body
    return USAGE, bytes(out)


def _encode_alert(values):
    flags = 0
    for bit, q in METERING_ALERTS.items():
        flags |= bool(values.get(q)) << bit
    pf = values.get("power_factor")
    return NOTIFY, (bytes([0x84, flags])
                    + _int(values.get("power", 0), 0, 0xFFFF, "'power'").to_bytes(2, "little")
                    + _int(values.get("voltage", 0), 0, 0xFFFF, "'voltage'").to_bytes(2, "little")
                    + bytes([0xFF if pf is None else _int(pf * 100, 0, 254, "'power_factor'")]))


def _encode_digital(values):
    other = sorted(set(values) - {"digital_input", "digital_input_count"})
    if other:
        raise EncodeError(f"{other} do not fit a digital input notification")
    count = values["digital_input_count"]
    if "digital_input" not in values:
        return NOTIFY, b"\x80\x20" + _int(count, 0, 0xFFFF, "'digital_input_count'").to_bytes(
            2, "little")
    return NOTIFY, (bytes([0x80, 0x40 | bool(values["digital_input"])])
                    + _int(count, 0, 0xFFFFFFFF, "'digital_input_count'").to_bytes(4, "little"))


def encode(values, options=None):
    """One uplink for ``values``: a metering alert when an alert flag is given, a usage
    packet for meter quantities, else a status packet."""
    keys = set(values)
    if "digital_input_count" in keys:
        return _encode_digital(values)
    if keys & set(ALERT_QUANTITIES):
        other = keys - set(ALERT_QUANTITIES) - {"power", "voltage", "power_factor"}
        if other:
            raise EncodeError(f"{sorted(other)} do not fit a metering alert: encode them "
                              "separately")
        return _encode_alert(values)
    if any(q == u or q.endswith("_" + u) for q in keys for u in USAGE_QUANTITIES):
        return _encode_usage(values)
    return _encode_status(values)


# -- downlinks ---------------------------------------------------------------------------

_ACTION_KEYS = ("dim", "on", "resume", "address", "group", "minutes")


def _level(value):
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        raise EncodeError(f"the dimming level must be a number of percent 0..100, not {value!r}")
    if not 0 <= value <= 100:
        raise EncodeError(f"the dimming level must be 0..100 %, not {value!r}")
    return int(round(value))


def _short_address(value):
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 64:
        raise EncodeError(f"a DALI short address is 0..63, not {value!r}")
    return value << 1


def _destination(action):
    if "address" in action and "group" in action:
        raise EncodeError("give 'address' or 'group', not both")
    if "group" in action:
        g = action["group"]
        if isinstance(g, bool) or not isinstance(g, int) or not 0 <= g < 16:
            raise EncodeError(f"a DALI group is 0..15, not {g!r}")
        return 0x80 | g << 1
    addr = action.get("address", "broadcast")
    if addr == "broadcast":
        return 0xFE
    if addr == "analog":
        return 0x01
    return _short_address(addr)


def encode_downlink(action, options=None):
    """The fPort 60 command for ``action``.

    ``{"dim": 40}`` dims to 40 % (all drivers: DALI broadcast); ``{"on": True}`` is full
    light, ``{"on": False}`` dark; ``{"resume": True}`` hands control back to the
    controller's calendar and profiles.  ``"address"`` (DALI short address 0..63,
    ``"analog"`` for the 0-10 V output, ``"broadcast"``) or ``"group"`` (0..15) picks
    the driver; ``"minutes"`` (1..255) makes it a timed dimming; ``{"dim": {2: 50, 4:
    100}}`` sets several DALI drivers at once.
    """
    if not isinstance(action, Mapping):
        raise EncodeError(f"a downlink action is a dict such as {{'dim': 40}}, not {action!r}")
    unknown = sorted(set(action) - set(_ACTION_KEYS))
    if unknown:
        raise EncodeError(f"unknown action {unknown}: a NAS luminaire controller takes 'dim' "
                          "(0..100 %), 'on' (true/false) or 'resume', with optional "
                          "'address', 'group' and 'minutes'")
    modes = [k for k in ("dim", "on", "resume") if k in action]
    if len(modes) != 1:
        raise EncodeError(f"give exactly one of 'dim', 'on' or 'resume', not {modes}")
    mode = modes[0]
    value = action[mode]
    if mode == "dim" and isinstance(value, Mapping):
        if "address" in action or "group" in action:
            raise EncodeError("'dim' as {address: level} already names the drivers")
        if not value:
            raise EncodeError("'dim' maps no DALI address to a level")
        dests = [(_short_address(a), _level(lv)) for a, lv in value.items()]
    elif mode == "dim":
        dests = [(_destination(action), _level(value))]
    elif mode == "on":
        if not isinstance(value, bool):
            raise EncodeError(f"'on' must be true or false, not {value!r}")
        dests = [(_destination(action), 100 if value else 0)]
    else:
        if value is not True:
            raise EncodeError(f"'resume' must be true, not {value!r}")
        dests = [(_destination(action), 0xFF)]
    if "minutes" not in action:
        return COMMAND, bytes([0x01, *(b for d in dests for b in d)])
    minutes = action["minutes"]
    if isinstance(minutes, bool) or not isinstance(minutes, int) or not 1 <= minutes <= 255:
        raise EncodeError(f"'minutes' must be 1..255, not {minutes!r}")
    return COMMAND, bytes([0x09, *(b for a, lv in dests for b in (a, lv, minutes))])


# -- simulation: a lamp that burns from dusk to dawn and dims late at night --------------

T0 = 1577836800  # 2020-01-01: the simulated lighting calendar starts here
NIGHT_LEVEL = 40
DRIVER_LOSS_W = 2.0


def sun_hours(day):
    """(sunrise, sunset) in hours of day ``day`` of the year, about 48 degrees north."""
    c = math.cos(2 * math.pi * (day - 172) / 365.0)
    return 6.0 - 2.0 * c, 18.0 + 2.0 * c


def schedule(day):
    """[(from hour, to hour, level %)] of one day: full light at dusk and dawn, dimmed
    from 23:00 to 05:00, off while the sun is up."""
    rise, sset = sun_hours(day)
    segs = [(0.0, min(5.0, rise), NIGHT_LEVEL)]
    if rise > 5.0:
        segs.append((5.0, rise, 100))
    segs += [(sset, 23.0, 100), (23.0, 24.0, NIGHT_LEVEL)]
    return segs


def level_at(t):
    day, hour = _day_hour(t)
    for a, b, level in schedule(day):
        if a <= hour < b:
            return level
    return 0


def _day_hour(t):
    s = max(0.0, t - T0)
    days = int(s // 86400)
    return days % 365, (s - days * 86400) / 3600.0


def _burn_day(day, upto=24.0):
    """(level-hours / 100, on-hours) of ``day`` up to hour ``upto``."""
    lh = on = 0.0
    for a, b, level in schedule(day):
        span = max(0.0, min(b, upto) - a)
        lh += span * level / 100.0
        on += span
    return lh, on


_PREFIX = []


def _prefix():
    if not _PREFIX:
        lh = on = 0.0
        _PREFIX.append((0.0, 0.0))
        for day in range(365):
            a, b = _burn_day(day)
            lh, on = lh + a, on + b
            _PREFIX.append((lh, on))
    return _PREFIX


def burn(t, rated_w):
    """Cumulative (energy Wh, lamp-on seconds) of a lamp of ``rated_w`` since T0."""
    s = max(0.0, t - T0)
    days = int(s // 86400)
    cycles, day = divmod(days, 365)
    pre = _prefix()
    part = _burn_day(day, (s - days * 86400) / 3600.0)
    lh = cycles * pre[365][0] + pre[day][0] + part[0]
    on = cycles * pre[365][1] + pre[day][1] + part[1]
    return rated_w * lh + DRIVER_LOSS_W * on, on * 3600.0


def rated_power(device):
    return (40, 60, 80)[stable_hash(device.id) % 3]


def simulate(device, t, rng):
    """Status and usage packets in turn (every other quarter hour), like a controller
    set to report both; the lamp follows :func:`schedule`."""
    level = level_at(t)
    on = level > 0
    if int(t // 900) % 2 == 0:
        return {"dali_connection_error": False, "metering_error": False, "relay_on": on,
                "temperature": int(18 + 12 * rng.random()),
                **{q: False for q in ALERTS_24H.values()},
                "dimming_level": level, "driver_error": False, "lamp_failure": False,
                "lamp_on": on}
    rated = rated_power(device)
    wh, seconds = burn(t, rated)
    watts = rated * level / 100.0 + DRIVER_LOSS_W if on else 0.0
    return {"energy": int(wh) / 1000, "power": max(0, int(round(watts + rng.uniform(-1, 1))))
            if on else 0, "power_factor": round(0.9 + 0.08 * rng.random(), 2),
            "voltage": int(round(230 + rng.uniform(-6, 6))), "lamp_on_time": int(seconds)}


# -- the model ---------------------------------------------------------------------------

_DS = "NAS UL20xx 1.1.x datasheet example (nas-codecs test suite)"


def _status_ds():
    return [("dali_connection_error", True, "bool"), ("metering_error", False, "bool"),
            ("relay_on", True, "bool"), ("temperature", 22, "Cel"),
            ("voltage_alert_24h", False, "bool"), ("lamp_error_alert_24h", True, "bool"),
            ("power_alert_24h", False, "bool"), ("power_factor_alert_24h", False, "bool"),
            ("ldr_input", 210, ""), ("light_level", 299.9, "lx"),
            ("digital_input", True, "bool"),
            ("dimming_level", 25, "%"), ("driver_error", False, "bool"),
            ("lamp_failure", False, "bool"),
            ("dali_9_dimming_level", 25, "%"), ("dali_9_driver_error", False, "bool"),
            ("dali_9_lamp_failure", False, "bool"), ("lamp_on", True, "bool")]


EXAMPLES = (
    Example("01 F37F205E 8244 32 09 16 20 07 01D2 029455 0401 FE501900 12501900", STATUS,
            _status_ds(), f"{_DS}: status packet"),
    Example("00 F37F205E 92 32 09 16 00 FE711900 12811900", STATUS,
            [("dali_connection_error", True, "bool"), ("metering_error", False, "bool"),
             ("relay_on", True, "bool"), ("temperature", 22, "Cel"),
             ("dimming_level", 25, "%"), ("driver_error", False, "bool"),
             ("lamp_failure", False, "bool"),
             ("dali_9_dimming_level", 25, "%"), ("dali_9_driver_error", False, "bool"),
             ("dali_9_lamp_failure", False, "bool"), ("lamp_on", True, "bool")],
            f"{_DS}: status packet of firmware before 1.1.4"),
    Example("00 FF80 D0EF2F01 12FF 47940300 2A00 F94A0300 2700 5D E5 C072D902 D0EF2F01", USAGE,
            [("lamp_on_time", 19918800, "s"), ("energy", 234.567, "kWh"),
             ("power", 42, "W"), ("load_energy", 215.801, "kWh"), ("load_power", 39, "W"),
             ("power_factor", 0.93, "/"), ("voltage", 229, "V"),
             ("driver_operating_time", 47805120, "s"),
             ("dali_9_lamp_on_time", 19918800, "s")],
            f"{_DS}: usage packet (internal meter, then a D4i DALI driver)"),
    Example("01FE64", COMMAND, [("dimming_level", 100, "%")],
            f"{_DS}: response to the manual dimming command 01 FE 64"),
    Example("84025900E50056", NOTIFY,
            [("lamp_error_alert", False, "bool"), ("over_current_alert", True, "bool"),
             ("under_voltage_alert", False, "bool"), ("over_voltage_alert", False, "bool"),
             ("low_power_factor_alert", False, "bool"), ("power", 89, "W"),
             ("voltage", 229, "V"), ("power_factor", 0.86, "/")],
            f"{_DS}: metering alert (over current)"),
    Example("83200202", NOTIFY,
            [("driver_error", False, "bool"), ("lamp_failure", True, "bool")],
            f"{_DS}: DALI driver alert, lamp failure at DALI address 1"),
    Example("804106000000", NOTIFY,
            [("digital_input", True, "bool"), ("digital_input_count", 6, "count")],
            f"{_DS}: digital input notification"),
)


def build_models(impl=None):
    lay = layout.compile(SPEC, impl)
    return [DeviceModel(
        id="nas/ul2030", family="street_light",
        decode=layout.decoder(lay, _post), encode=encode, encode_downlink=encode_downlink,
        quantities=QUANTITIES, simulate=simulate,
        description="Zhaga-18 luminaire controller (UL20xx, firmware 1.1.x): relay, DALI "
                    "and 0-10 V dimming, metering; dimming and on/off downlinks",
        vendor_url="https://www.nasys.no/product/lorawan-zhaga-ul2030/",
        examples=EXAMPLES)]

