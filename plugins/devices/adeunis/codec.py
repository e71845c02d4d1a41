"""Adeunis PULSE: two-channel pulse counter for water, gas and electricity meters.

Frames start with a code byte and a status byte (bit 0 configuration done, bit 1 low
battery, bit 2 timestamp present, bit 3 hardware error, bits 5-7 frame counter), as in
Adeunis's PULSE technical reference; counters are big-endian.  0x46 is the periodic
data frame (index of channel A then channel B, 4B each); 0x5A / 0x5B are the
PULSE-4 data frames of channel A / B (current index, then history deltas, then an
optional timestamp; only the current index is read here).
"""

from __future__ import annotations

from hromada import DeviceModel, Example, Option, layout

FPORT = 1

_STATUS = {"offset": 1, "type": "u8", "flags": {1: "low_battery", 3: "hardware_error"}}

SPEC = {"switch": {"offset": 0, "type": "u8", "name": "frame code", "cases": {
    0x46: {"fields": [_STATUS,
                      {"offset": 2, "type": "u32", "quantity": "pulse_count_a", "unit": "count"},
                      {"offset": 6, "type": "u32", "quantity": "pulse_count_b",
                       "unit": "count"}]},
    0x5A: {"fields": [_STATUS,
                      {"offset": 2, "type": "u32", "quantity": "pulse_count_a",
                       "unit": "count"}]},
    0x5B: {"fields": [_STATUS,
                      {"offset": 2, "type": "u32", "quantity": "pulse_count_b",
                       "unit": "count"}]},
}}}


def _post(readings, options):
    for ch in ("a", "b"):
        weight = options.get(f"litres_per_pulse_{ch}")
        if not weight:
            continue
        for q, v, _unit in list(readings):
            if q == f"pulse_count_{ch}":
                readings.append((f"volume_{ch}", round(v * weight / 1000.0, 6), "m3"))
    return readings


def _sim(device, t, rng):
    hour = (t % 86400) / 3600.0
    base = int(t // 600)
    return {"low_battery": False, "hardware_error": False,
            "pulse_count_a": base * 2 + int(hour), "pulse_count_b": base}


_REF = "Adeunis PULSE technical reference"


def build_models(impl=None):
    lay = layout.compile(SPEC, impl)
    return [DeviceModel(
        id="adeunis/pulse", family="pulse_counter",
        decode=layout.decoder(lay, _post), encode=layout.encoder(lay, FPORT),
        quantities={**lay.quantities(), "volume_a": "m3", "volume_b": "m3"}, simulate=_sim,
        options=(Option("litres_per_pulse_a", "float", default=0.0, min=0.0,
                        help="pulse weight of the meter on channel A (volume when set)"),
                 Option("litres_per_pulse_b", "float", default=0.0, min=0.0,
                        help="pulse weight of the meter on channel B")),
        description="Two-channel pulse counter (water, gas, electricity meters)",
        vendor_url="https://www.adeunis.com/en/produit/pulse/",
        examples=(
            Example("5A67000001270001000200030004 14ABA3E9".replace(" ", ""), FPORT,
                    [("low_battery", True, "bool"), ("hardware_error", False, "bool"),
                     ("pulse_count_a", 295, "count")],
                    "Adeunis codec example in the TTN device repository (0x5A, channel A)"),
            Example("46200000271000000064", FPORT,
                    [("low_battery", False, "bool"), ("hardware_error", False, "bool"),
                     ("pulse_count_a", 10000, "count"), ("pulse_count_b", 100, "count"),
                     ("volume_a", 10.0, "m3")],
                    f"{_REF}: periodic data frame, 1 l per pulse on channel A",
                    {"litres_per_pulse_a": 1.0}),
            Example("5B4A00BC614E", FPORT,
                    [("low_battery", True, "bool"), ("hardware_error", True, "bool"),
                     ("pulse_count_b", 12345678, "count")],
                    f"{_REF}: channel B frame with low battery and hardware error"),
        ))]
