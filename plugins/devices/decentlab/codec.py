"""Decentlab DL-PM: particulate matter, temperature, humidity and pressure.

Decentlab's protocol v2: version (1B, = 2), device id (2B), a flags word (2B) saying
which sensor blocks follow, then each present block as big-endian 16-bit words.  The
conversions are Decentlab's published ones (product data sheet and the codec Decentlab
contributed to The Things Network device repository), written as a layout with a
``present`` bitmap.
"""

from __future__ import annotations

import math

from hromada import DeviceModel, Example, layout

FPORT = 1


def _w(i, quantity, unit, **conv):
    return {"offset": 2 * i, "type": "u16", "quantity": quantity, "unit": unit, **conv}


SPEC = {
    "fields": [{"offset": 0, "type": "u8", "name": "protocol version", "expect": 2}],
    "present": {"offset": 3, "type": "u16", "name": "sensor flags", "at": 5, "blocks": [
        {"bit": 0, "name": "battery", "size": 2, "fields": [
            _w(0, "battery", "V", scale=0.001)]},
        {"bit": 1, "name": "particulate matter", "size": 20, "fields": [
            _w(0, "pm1", "ug/m3", scale=0.1), _w(1, "pm2_5", "ug/m3", scale=0.1),
            _w(2, "pm4", "ug/m3", scale=0.1), _w(3, "pm10", "ug/m3", scale=0.1),
            _w(4, "particle_size", "nm"),
            _w(5, "pm0_5_count", "1/cm3", scale=0.1), _w(6, "pm1_count", "1/cm3", scale=0.1),
            _w(7, "pm2_5_count", "1/cm3", scale=0.1), _w(8, "pm4_count", "1/cm3", scale=0.1),
            _w(9, "pm10_count", "1/cm3", scale=0.1)]},
        # Sensirion SHT conversions, as the vendor writes them (multiply, then divide)
        {"bit": 2, "name": "air temperature and humidity", "size": 4, "fields": [
            _w(0, "temperature", "Cel", scale=175.72, divide=65536, add=-46.85),
            _w(1, "humidity", "%RH", scale=125, divide=65536, add=-6.0)]},
        {"bit": 3, "name": "barometric pressure", "size": 2, "fields": [
            _w(0, "pressure", "Pa", scale=2)]},
    ]},
}


def _sim(device, t, rng):
    hour = (t % 86400) / 3600.0
    rush = math.exp(-((hour - 8) ** 2) / 4) + math.exp(-((hour - 18) ** 2) / 4)
    pm25 = round(6 + 30 * rush + 4 * rng.random(), 1)
    # values on the sensor's own grid so that encode -> decode gives them back
    temp_raw = int((14 + 6 * math.sin((hour - 9) / 24 * 2 * math.pi) + 46.85) * 65536 / 175.72)
    hum_raw = int((60 + 6) * 65536 / 125)
    return {"battery": 3.1, "pm1": round(pm25 * 0.8, 1), "pm2_5": pm25,
            "pm4": round(pm25 * 1.1, 1), "pm10": round(pm25 * 1.4, 1), "particle_size": 480,
            "pm0_5_count": 26.3, "pm1_count": 30.0, "pm2_5_count": 30.1,
            "pm4_count": 30.1, "pm10_count": 30.1,
            "temperature": temp_raw * 175.72 / 65536 - 46.85,
            "humidity": hum_raw * 125.0 / 65536 - 6.0, "pressure": 96800.0}


_TTN = "Decentlab codec example in the TTN device repository"


def build_models(impl=None):
    lay = layout.compile(SPEC, impl)
    climate = [("temperature", 24.35660461425781, "Cel"), ("humidity", 41.63221740722656, "%RH"),
               ("pressure", 96800, "Pa")]
    return [DeviceModel(
        id="decentlab/dl-pm", family="air_quality",
        decode=layout.decoder(lay), encode=layout.encoder(lay, FPORT),
        quantities=lay.quantities(), simulate=_sim,
        description="Particulate matter (PM1/2.5/4/10), temperature, humidity, pressure",
        vendor_url="https://www.decentlab.com/products/particulate-matter-temperature-"
                   "humidity-and-barometric-pressure-sensor-for-lorawan",
        examples=(
            Example("021b50000f0c25002500270027002701f50107012c012d012d012d67bd618dbd10",
                    FPORT,
                    [("battery", 3.109, "V"), ("pm1", 3.7, "ug/m3"), ("pm2_5", 3.9, "ug/m3"),
                     ("pm4", 3.9, "ug/m3"), ("pm10", 3.9, "ug/m3"),
                     ("particle_size", 501, "nm"), ("pm0_5_count", 26.3, "1/cm3"),
                     ("pm1_count", 30.0, "1/cm3"), ("pm2_5_count", 30.1, "1/cm3"),
                     ("pm4_count", 30.1, "1/cm3"), ("pm10_count", 30.1, "1/cm3"),
                     *climate], f"{_TTN}, example 1"),
            Example("021b50000d0c2567bd618dbd10", FPORT,
                    [("battery", 3.109, "V"), *climate], f"{_TTN}, example 2"),
            Example("021b5000010c25", FPORT, [("battery", 3.109, "V")],
                    f"{_TTN}, example 3"),
        ))]
