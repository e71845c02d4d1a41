"""Dragino LDDS75 (ultrasonic distance, for waste bins) and LHT65 (temperature/humidity).

Fixed big-endian frames on fPort 2, as tabulated in the Dragino user manuals; the
examples combine the field examples the manuals give (battery 0x0B45 = 2885 mV,
distance 0x0B05 = 2821 mm, DS18B20 0x0105 = 26.1 degC, 0xFF3F = -19.3 degC; LHT65
"CB F6 0B 0D 03 76 01 0A DD 7F FF").
"""

from __future__ import annotations

import math

from hromada import DeviceModel, Example, layout

from .._bins import BIN_DEPTH_OPTION, DEFAULT_BIN_DEPTH_MM, add_fill_level

FPORT = 2

LDDS75 = {"length": 8, "fields": [
    # the top two bits of the battery word are flags, not millivolts
    {"offset": 0, "type": "u16", "mask": 0x3FFF, "scale": 0.001, "quantity": "battery",
     "unit": "V"},
    # 0 means no echo: no distance reading rather than a bin that is full
    {"offset": 2, "type": "u16", "invalid": [0], "quantity": "distance", "unit": "mm"},
    {"offset": 4, "type": "u8", "bool": True, "quantity": "interrupt"},
    {"offset": 5, "type": "s16", "scale": 0.1, "quantity": "temperature", "unit": "Cel"},
    {"offset": 7, "type": "u8", "bool": True, "quantity": "sensor_connected"},
]}

LHT65 = {"length": 11, "fields": [
    {"offset": 0, "type": "u16", "mask": 0x3FFF, "scale": 0.001, "quantity": "battery",
     "unit": "V"},
    {"offset": 2, "type": "s16", "scale": 0.01, "quantity": "temperature", "unit": "Cel"},
    {"offset": 4, "type": "u16", "scale": 0.1, "quantity": "humidity", "unit": "%RH"},
    ],
    # byte 6 says what the external connector carries; 1 is a DS18B20 probe
    "switch": {"offset": 6, "type": "u8", "name": "external sensor", "cases": {
        0: {},
        1: {"fields": [{"offset": 7, "type": "s16", "scale": 0.01, "invalid": [0x7FFF],
                        "quantity": "temperature_ext", "unit": "Cel"}]},
    }},
}






def _sim_bin(device, t, rng):
    depth = device.options.get("bin_depth_mm", DEFAULT_BIN_DEPTH_MM)
    phase = (t / 86400.0 / 3.0 + rng.random() * 0.05) % 1.0
    return {"battery": 3.3, "distance": max(280, int(depth * (1 - 0.95 * phase))),
            "interrupt": False, "temperature": round(10 + rng.uniform(-2, 2), 1),
            "sensor_connected": True}


def _sim_climate(device, t, rng):
    hour = (t % 86400) / 3600.0
    temp = 12 + 8 * math.sin((hour - 9) / 24 * 2 * math.pi) + rng.uniform(-0.3, 0.3)
    return {"battery": 3.06, "temperature": round(temp, 2),
            "humidity": round(65 + rng.uniform(-10, 10), 1)}


_MAN = "field examples of the Dragino user manual"


def build_models(impl=None):
    ldds = layout.compile(LDDS75, impl)
    lht = layout.compile(LHT65, impl)
    return [
        DeviceModel(
            id="dragino/ldds75", family="waste_bin",
            decode=layout.decoder(ldds, add_fill_level), encode=layout.encoder(ldds, FPORT),
            quantities={**ldds.quantities(), "fill_level": "%"}, simulate=_sim_bin,
            options=(BIN_DEPTH_OPTION,),
            description="Ultrasonic distance sensor (280-7500 mm) on a bin or tank",
            vendor_url="https://www.dragino.com/products/distance-level-sensor/item/"
                       "161-ldds75.html",
            examples=(
                Example("0B450B0500010501", FPORT,
                        [("battery", 2.885, "V"), ("distance", 2821, "mm"),
                         ("interrupt", False, "bool"), ("temperature", 26.1, "Cel"),
                         ("sensor_connected", True, "bool"), ("fill_level", 6.0, "%")],
                        f"{_MAN}; bin 3000 mm deep", {"bin_depth_mm": 3000}),
                Example("CB490BEA01FF3F01", FPORT,
                        [("battery", 2.889, "V"), ("distance", 3050, "mm"),
                         ("interrupt", True, "bool"), ("temperature", -19.3, "Cel"),
                         ("sensor_connected", True, "bool"), ("fill_level", 0.0, "%")],
                        f"{_MAN}: interrupt uplink, flag bits set in the battery word"),
                Example("0CE4000000000000", FPORT,
                        [("battery", 3.300, "V"), ("interrupt", False, "bool"),
                         ("temperature", 0.0, "Cel"), ("sensor_connected", False, "bool")],
                        f"{_MAN}: no ultrasonic sensor attached (distance 0)"),
            )),
        DeviceModel(
            id="dragino/lht65", family="climate",
            decode=layout.decoder(lht), encode=layout.encoder(lht, FPORT),
            quantities=lht.quantities(), simulate=_sim_climate,
            description="Temperature and humidity with an optional external probe",
            vendor_url="https://www.dragino.com/products/temperature-humidity-sensor/item/"
                       "151-lht65.html",
            examples=(
                Example("CBF60B0D0376010ADD7FFF", FPORT,
                        [("battery", 3.062, "V"), ("temperature", 28.29, "Cel"),
                         ("humidity", 88.6, "%RH"), ("temperature_ext", 27.81, "Cel")],
                        "LHT65 user manual payload example"),
                Example("CBF6FF38022B017FFF7FFF", FPORT,
                        [("battery", 3.062, "V"), ("temperature", -2.0, "Cel"),
                         ("humidity", 55.5, "%RH")],
                        f"{_MAN}: probe connected but not reading (0x7FFF)"),
                Example("0BB8098A01F400FFFFFFFF", FPORT,
                        [("battery", 3.0, "V"), ("temperature", 24.42, "Cel"),
                         ("humidity", 50.0, "%RH")], f"{_MAN}: no external sensor"),
            )),
    ]
