"""Axioma Metering Qalcosonic W1 ultrasonic water meter (LoRaWAN "short" frame).

Little-endian: meter time (4B, POSIX seconds), status (1B), current volume (4B,
litres); history records may follow and are not decoded here.  The status byte
carries a low-battery bit (0x04), a permanent-error bit (0x08) and, in its upper
nibble, the active alarm (0x10 dry, 0x30 leakage, 0x70 backflow, 0x90 low
temperature, 0xB0 burst, 0xD0 manipulation) as listed in Axioma's "W1 LoRa payload"
document.  The alarm code becomes one boolean per alarm.
"""

from __future__ import annotations

import math
import zlib

from hromada import DeviceModel, Example, layout

FPORT = 100

SPEC = {"endian": "little", "fields": [
    {"offset": 0, "type": "u32", "quantity": "meter_time", "unit": "s"},
    {"offset": 4, "type": "u8", "flags": {2: "low_battery", 3: "permanent_error"}},
    {"offset": 4, "type": "u8", "mask": 0xF0, "name": "alarm",
     "enum": {0: "none", 0x1: "dry", 0x3: "leak", 0x7: "backflow", 0x9: "low_temperature",
              0xB: "burst", 0xD: "tamper"}, "quantity": "alarm"},
    {"offset": 5, "type": "u32", "scale": 0.001, "quantity": "volume", "unit": "m3"},
]}

ALARMS = ("dry", "leak", "backflow", "low_temperature", "burst", "tamper")


def _post(readings, options):
    alarm = next((v for q, v, _ in readings if q == "alarm"), "none")
    readings.extend((a, alarm == a, "bool") for a in ALARMS)
    return readings


def _pre(values):
    """Encoder input: alarm flags back to the one alarm code the meter sends."""
    v = dict(values)
    if "alarm" not in v:
        v["alarm"] = next((a for a in ALARMS if v.get(a)), "none")
    return v


def water_use_litres(t, daily_litres=180.0):
    """Cumulative household use at time t: a morning and an evening peak, a quiet night."""
    days, sec = divmod(t, 86400)
    hour = sec / 3600.0

    def cdf(h):  # integral of the day profile from 0 h to h, normalized to 1
        def peak(mu, s):
            return 0.5 * (1 + math.erf((h - mu) / (s * math.sqrt(2))))
        return 0.45 * peak(7.5, 1.2) + 0.4 * peak(19.5, 1.8) + 0.15 * h / 24
    return daily_litres * (days + cdf(hour) - cdf(0))


def _sim(device, t, rng):
    # A healthy household: its daily use is fixed per meter (from its id, repeatable
    # across processes), so the register only ever moves forward, and no alarm is
    # raised: incidents are the city's to inject, not the model's to invent.
    daily = 150 + 60 * (zlib.crc32(device.id.encode()) % 1000) / 1000
    litres = int(water_use_litres(t, daily))
    return {"meter_time": int(t), "volume": litres / 1000.0, "low_battery": False,
            "permanent_error": False, "alarm": "none"}


_DOC = "composed from Axioma's W1 LoRa payload document (frame layout and status codes)"


def build_models(impl=None):
    lay = layout.compile(SPEC, impl)

    def encode(values, options=None):
        return FPORT, lay.encode(_pre(values))

    flags = [(a, False, "bool") for a in ALARMS]
    return [DeviceModel(
        id="axioma/qalcosonic-w1", family="water_meter",
        decode=layout.decoder(lay, _post), encode=encode,
        quantities={**lay.quantities(), **{a: "bool" for a in ALARMS}}, simulate=_sim,
        description="Ultrasonic water meter: volume, leak/backflow/burst/tamper alarms",
        vendor_url="https://www.axiomametering.com/en/products/water-meters/qalcosonic-w1",
        examples=(
            Example("00105E5F0040E20100", FPORT,
                    [("meter_time", 1600000000, "s"), ("low_battery", False, "bool"),
                     ("permanent_error", False, "bool"), ("alarm", "none", ""),
                     ("volume", 123.456, "m3"), *flags], f"{_DOC}: normal reading"),
            Example("80CF5E5F3441E20100", FPORT,
                    [("meter_time", 1600049024, "s"), ("low_battery", True, "bool"),
                     ("permanent_error", False, "bool"), ("alarm", "leak", ""),
                     ("volume", 123.457, "m3"),
                     *((a, a == "leak", "bool") for a in ALARMS)],
                    f"{_DOC}: leakage alarm with low battery"),
            Example("00105E5FD0E8030000", FPORT,
                    [("meter_time", 1600000000, "s"), ("low_battery", False, "bool"),
                     ("permanent_error", False, "bool"), ("alarm", "tamper", ""),
                     ("volume", 1.0, "m3"), *((a, a == "tamper", "bool") for a in ALARMS)],
                    f"{_DOC}: manipulation (tamper) alarm"),
        ))]
