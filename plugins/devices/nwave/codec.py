"""Nwave NPS405 (NPS405 SM surface-mount, NPS405 FM flush-mount) parking sensor.

One sensor per parking bay.  Format from Nwave's codec and examples in The Things
Network device repository (vendor/nwave, "nps405"); the fPort says what the frame is:

* 1 parking status (1B): bit 0 occupied, bits 1-7 how long the previous state lasted,
  compressed: 0-89 minutes as is, 90-119 in steps of 5 minutes from 90, 120-126 in
  hours from 4 h, 127 "11 hours or more";
* 2 heartbeat: status byte (bit 0 occupied, bits 1-7 hardware health, 0 healthy),
  battery (1B: 2.5 V + 4 mV steps), temperature (s8, 0.5 degC steps from 10 degC);
* 3 start-up: firmware version (3B), reset cause (1B), status (1B, bit 0 occupied);
* 6 debug: no readings;
* 10 driver tag registration (the bay's "SDI" user tag): the parking status byte
  (occupancy only when bit 0 is set), then the tag's battery (1B, 0.1 V) and its id
  (4B); earlier firmware sent the id right after the status byte.
"""

from __future__ import annotations

import zlib

from hromada import DecodeError, DeviceModel, EncodeError, Example, layout


def duration_minutes(raw):
    """Minutes of the previous state from its 7-bit compressed value."""
    if raw < 90:
        return raw
    if raw < 120:
        return 90 + (raw - 90) * 5
    if raw < 127:
        return 240 + (raw - 120) * 60
    return 660  # 11 h or more


DURATION = {raw: duration_minutes(raw) for raw in range(128)}
RESET_CAUSES = {0: "network_rejoin", 1: "watchdog", 2: "power_on", 3: "user_request",
                4: "reserved", 5: "reserved", 6: "brownout", 7: "other"}

_OCCUPIED = {"offset": 0, "type": "u8", "mask": 0x01, "bool": True, "quantity": "occupied"}
_PREVIOUS = {"offset": 0, "type": "u8", "mask": 0xFE, "enum": DURATION,
             "quantity": "previous_state_duration", "unit": "min"}


def _registration(payload, base, fport):
    n = len(payload)
    if n < 5:
        raise DecodeError(f"payload too short for a tag registration: {n} bytes given, "
                          "5 needed", offset=n, field="tag_id")
    out = []
    status = payload[0]
    if status & 0x01:  # a registration with the bay free says nothing of the bay
        out += [("occupied", True, "bool"),
                ("previous_state_duration", DURATION[status >> 1], "min")]
    if n >= 6:
        out.append(("tag_battery", payload[1] / 10, "V"))
        tag = payload[2:6]
    else:
        tag = payload[1:5]
    out.append(("tag_id", tag.hex().upper(), ""))
    return out


SPEC = {"fport": {"cases": {
    1: {"fields": [_OCCUPIED, _PREVIOUS]},
    2: {"fields": [_OCCUPIED,
                   # the vendor codec reads the health as bits 0-6, a leftover from the
                   # firmware that kept occupancy in bit 7; it sits next to bit 0 now
                   {"offset": 0, "type": "u8", "mask": 0xFE, "quantity": "hardware_status"},
                   {"offset": 1, "type": "u8", "scale": 0.004, "add": 2.5,
                    "quantity": "battery", "unit": "V"},
                   {"offset": 2, "type": "s8", "scale": 0.5, "add": 10,
                    "quantity": "temperature", "unit": "Cel"}]},
    3: {"fields": [{"offset": 3, "type": "u8", "enum": RESET_CAUSES, "quantity": "reset_cause"},
                   {"offset": 4, "type": "u8", "mask": 0x01, "bool": True,
                    "quantity": "occupied"}]},
    6: {},
    10: {"python": _registration},
}}}

QUANTITIES = {"occupied": "bool", "previous_state_duration": "min", "hardware_status": "",
              "battery": "V", "temperature": "Cel", "reset_cause": "", "tag_battery": "V",
              "tag_id": ""}
_PORT_QUANTITIES = {
    1: {"occupied", "previous_state_duration"},
    2: {"occupied", "hardware_status", "battery", "temperature"},
    3: {"occupied", "reset_cause"},
    10: {"occupied", "previous_state_duration", "tag_battery", "tag_id"},
}


def _registration_bytes(values):
    status = 0
    if values.get("occupied"):
        status = 1 | _duration_raw(values.get("previous_state_duration", 0)) << 1
    elif values.get("occupied") is False or "previous_state_duration" in values:
        raise EncodeError("a tag registration carries the bay's state only when occupied")
    tag = values.get("tag_id", "00000000")
    try:
        tag_bytes = bytes.fromhex(tag)
    except (TypeError, ValueError):
        tag_bytes = b""
    if len(tag_bytes) != 4 or tag.upper() != tag:
        raise EncodeError(f"'tag_id' must be 8 upper-case hex digits, not {tag!r}")
    battery = values.get("tag_battery", 3.0)
    raw = round(battery * 10) if isinstance(battery, int | float) else -1
    if isinstance(battery, bool) or not 0 <= raw <= 255:
        raise EncodeError(f"'tag_battery' must be 0..25.5 V, not {battery!r}")
    return bytes([status, raw]) + tag_bytes


def _duration_raw(minutes):
    for raw, value in DURATION.items():
        if value == minutes:
            return raw
    raise EncodeError(f"previous_state_duration {minutes!r} min is not on the sensor's "
                      "scale (0-89, 90-235 by 5, 240-600 by 60, 660)")


def _encoder(lay):
    def encode(values, options=None):
        keys = set(values)
        unknown = sorted(keys - set(QUANTITIES))
        if unknown:
            raise EncodeError(f"{unknown} are not quantities of an NPS405 frame")
        if keys & {"tag_id", "tag_battery"}:
            port = 10
        elif keys & {"hardware_status", "battery", "temperature"}:
            port = 2
        elif "reset_cause" in keys:
            port = 3
        else:
            port = 1
        extra = sorted(keys - _PORT_QUANTITIES[port])
        if extra:
            raise EncodeError(f"{extra} do not fit the fPort {port} frame: encode them "
                              "separately")
        if "previous_state_duration" in values:
            _duration_raw(values["previous_state_duration"])  # say why, in plain words
        if port == 10:
            return port, _registration_bytes(values)
        return port, lay.encode(values, port)
    encode.layout = lay
    return encode


# -- simulation: a bay on a shopping street ------------------------------------------------

SLOT_S = 1800  # a car stays at least half an hour in the simulation
REPRESENTABLE = sorted(set(DURATION.values()))


def _occupied(device_id, slot):
    hour = (slot * SLOT_S % 86400) / 3600.0
    busy = 0.85 if 8 <= hour < 19 else 0.25
    key = zlib.crc32(f"{device_id}/{slot}".encode()) & 0xFFFF
    return key / 65535.0 < busy


def simulate(device, t, rng):
    slot = int(t // SLOT_S)
    state = _occupied(device.id, slot)
    if slot % 8 == 0 and int(t // 900) % 2 == 0:  # a heartbeat every four hours
        raw_batt = 205 + int(rng.random() * 15)
        raw_temp = int(rng.uniform(-10, 30))
        return {"occupied": state, "hardware_status": 0, "battery": raw_batt / 250 + 2.5,
                "temperature": raw_temp / 2 + 10}
    # how long the state before this one lasted, on the sensor's scale
    prev = not state
    start = slot - 1
    while start > slot - 24 and _occupied(device.id, start) == prev:
        start -= 1
    minutes = (slot - 1 - start) * SLOT_S // 60
    shown = max(v for v in REPRESENTABLE if v <= minutes) if minutes else 0
    return {"occupied": state, "previous_state_duration": shown}


# -- the model ---------------------------------------------------------------------------

_TTN = "TheThingsNetwork/lorawan-devices vendor/nwave/nps405-codec.yaml"

EXAMPLES = (
    Example("95", 1, [("occupied", True, "bool"), ("previous_state_duration", 74, "min")],
            f"{_TTN}: parking status"),
    Example("00 D3 D8 00 59 0B", 2,
            [("occupied", False, "bool"), ("hardware_status", 0, ""),
             ("battery", 3.344, "V"), ("temperature", -10.0, "Cel")],
            f"{_TTN}: heartbeat"),
    Example("02 04 09 02 00", 3,
            [("reset_cause", "power_on", ""), ("occupied", False, "bool")],
            f"{_TTN}: start-up (firmware 2.4.9)"),
    Example("D1 20 1F345678", 10,
            [("occupied", True, "bool"), ("previous_state_duration", 160, "min"),
             ("tag_battery", 3.2, "V"), ("tag_id", "1F345678", "")],
            f"{_TTN}: driver tag registration"),
    Example("D1 1F345678", 10,
            [("occupied", True, "bool"), ("previous_state_duration", 160, "min"),
             ("tag_id", "1F345678", "")],
            "composed from the 5-byte tag registration (status + tag id) of an earlier "
            "nps405.js revision in TheThingsNetwork/lorawan-devices: no published example "
            "payload of that frame was found"),
    Example("FE", 1, [("occupied", False, "bool"), ("previous_state_duration", 660, "min")],
            "composed from the Nwave status table: free after 11 hours or more occupied"),
)


def build_models(impl=None):
    lay = layout.compile(SPEC, impl)
    return [DeviceModel(
        id="nwave/nps405", family="parking",
        decode=layout.decoder(lay), encode=_encoder(lay), quantities=QUANTITIES,
        simulate=simulate,
        description="In-ground/surface parking bay sensor: occupied, how long the previous "
                    "state lasted, driver tag registration",
        vendor_url="https://www.nwave.io/",
        examples=EXAMPLES)]
