"""Device model ``cayenne/lpp``: any device that speaks Cayenne Low Power Payload.

Cayenne LPP (myDevices) is the self-describing format many DIY and generic LoRaWAN
sensors use; TTN and ChirpStack offer it as a built-in payload formatter.  The codec
is :mod:`hromada.lpp` (compiled, with a pure twin); this plugin only describes it:
quantities and units, examples from the published documents, an encoder and a
simulator for a small city climate sensor.
"""

from __future__ import annotations

import math
import zlib

import hromada
from hromada import DeviceModel, Example, Option, lpp

DEFAULT_FPORT = 1


def decode(payload, fport, options):
    """Readings ``[(quantity, value, unit), ...]`` of one LPP payload (any fport)."""
    return lpp.decode(payload)


def encode(values, options):
    """``(fport, payload)`` for a mapping of quantity -> value (``temperature_1``...)."""
    fport = (options or {}).get("fport", DEFAULT_FPORT)
    return fport, lpp.encode(values)


_DAY = 86400.0


def simulate(device, t, rng):
    """Values of a city climate sensor on LPP at POSIX time ``t``.

    Channel 1 temperature (a daily wave around 10 Cel, warmest at 15:00 UTC),
    channel 2 relative humidity (falls as it warms), channel 3 barometric pressure
    (slow weather swings around 1013 hPa), channel 4 battery voltage (a 3.6 V lithium
    cell losing about 0.05 V a year).  Each device gets its own small offsets from its
    id; noise comes from ``rng`` (a ``random.Random``), so the result is fixed by
    ``rng``'s state, ``t`` and the device.  Values are already at LPP resolution.
    """
    seed = zlib.crc32(device.id.encode()) if device is not None else 0
    offset = ((seed & 0xFF) - 128) / 128.0  # -1 .. +1 Cel between sensors
    hour_angle = 2 * math.pi * (t % _DAY) / _DAY
    temperature = (10.0 + offset + 6.0 * math.sin(hour_angle - 2 * math.pi * 9 / 24)
                   + rng.gauss(0.0, 0.3))
    humidity = 70.0 - 2.5 * (temperature - 10.0) + rng.gauss(0.0, 2.0)
    humidity = min(100.0, max(15.0, humidity))
    pressure = (1013.25 + 8.0 * math.sin(2 * math.pi * t / (4.3 * _DAY) + (seed >> 8 & 0xFF))
                + rng.gauss(0.0, 0.3))
    # The cell is replaced every ten years; sensors were installed on different days.
    age_years = ((t / _DAY + (seed >> 16 & 0xFFF)) % 3652.5) / 365.25
    voltage = min(3.7, max(3.0, 3.6 - 0.05 * age_years + rng.gauss(0.0, 0.005)))
    return {
        "temperature_1": round(temperature, 1),
        "relative_humidity_2": round(humidity * 2) / 2,
        "barometric_pressure_3": round(pressure, 1),
        "voltage_4": round(voltage, 2),
    }


def _quantities():
    out = {}
    for t in lpp.TYPES.values():
        if t.axes:
            for axis, unit in zip(t.axes, t.unit, strict=True):
                out[f"{t.name}_*_{axis}"] = unit
        else:
            out[f"{t.name}_*"] = t.unit[0]
    return out


_DOC = "myDevices Cayenne LPP document"

EXAMPLES = (
    Example(
        "03 67 01 10 05 67 00 FF", 1,
        [("temperature_3", 27.2, "Cel"), ("temperature_5", 25.5, "Cel")],
        description=f"{_DOC}: device with 2 temperature sensors",
    ),
    Example(
        "01 67 FF D7", 1,
        [("temperature_1", -4.1, "Cel")],
        description=f"{_DOC}: temperature and acceleration sensors, frame N",
    ),
    Example(
        "06 71 04 D2 FB 2E 00 00", 1,
        [("accelerometer_6_x", 1.234, "gn"), ("accelerometer_6_y", -1.234, "gn"),
         ("accelerometer_6_z", 0.0, "gn")],
        description=f"{_DOC}: temperature and acceleration sensors, frame N+1",
    ),
    Example(
        "01 88 06 76 5F F2 96 0A 00 03 E8", 1,
        [("gps_1_latitude", 42.3519, "lat"), ("gps_1_longitude", -87.9094, "lon"),
         ("gps_1_altitude", 10.0, "m")],
        description=f"{_DOC}: device with GPS",
    ),
    Example(
        "00 67 FF D7 01 71 04 D2 FB 2E 00 00 03 68 3C 04 73 27 9D"
        " 05 88 06 76 5F F2 96 0A 00 03 E8", 1,
        [("temperature_0", -4.1, "Cel"),
         ("accelerometer_1_x", 1.234, "gn"), ("accelerometer_1_y", -1.234, "gn"),
         ("accelerometer_1_z", 0.0, "gn"),
         ("relative_humidity_3", 30.0, "%RH"),
         ("barometric_pressure_4", 1014.1, "hPa"),
         ("gps_5_latitude", 42.3519, "lat"), ("gps_5_longitude", -87.9094, "lon"),
         ("gps_5_altitude", 10.0, "m")],
        description="myDevices Cayenne-LPP library README (mbed): the example frame",
    ),
    Example(
        "01 67 00 E1 02 73 29 EC", 1,
        [("temperature_1", 22.5, "Cel"), ("barometric_pressure_2", 1073.2, "hPa")],
        description="TTN / ElectronicCats CayenneLPP API example: addTemperature(1, 22.5),"
                    " addBarometricPressure(2, 1073.21) (its GPS record left out)",
    ),
)

MODEL = DeviceModel(
    id="cayenne/lpp",
    family="generic",
    decode=decode,
    encode=encode,
    simulate=simulate,
    quantities=_quantities(),
    options=(
        Option("fport", type="int", default=DEFAULT_FPORT, min=1, max=223,
               help="FPort of uplinks this model encodes (simulator); decoding takes any"),
    ),
    examples=EXAMPLES,
    description="Cayenne Low Power Payload (myDevices LPP v1 plus the extended types of "
                "the ElectronicCats library): channel, type, big-endian value records.",
    vendor_url="https://docs.mydevices.com/docs/lorawan/cayenne-lpp",
)


@hromada.hookimpl
def hromada_device_models():
    return [MODEL]
