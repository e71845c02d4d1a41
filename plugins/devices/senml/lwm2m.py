"""OMA LwM2M object and resource ids -> hromada quantities and units.

Sources: the OMA LwM2M registry (github.com/OpenMobileAlliance/lwm2m-registry): the
IPSO smart objects (3300-3350, "Sensor Value" 5700 with min 5601 / max 5602) and the
uCIFI smart-city objects 3416 outdoor lamp controller, 3423 gas meter, 3424 water
meter, 3428 air quality, 3435 filling level; plus device 3 and location 6.  Units are
the registry's, spelled as hromada units (the registry's "/100" is "%").  Where two
objects give one quantity different units (energy in Wh and kWh, pressure in Pa and
hPa), the table scales to one unit so that a quantity always comes in one unit.
"""

from __future__ import annotations

import fnmatch
import re

#: (object, resource) -> (quantity, unit, scale).  Instances other than 0 get the
#: suffix ``_<instance>`` (``temperature_1`` for /3303/1/5700).
RESOURCES: dict[tuple[int, int], tuple[str, str, float]] = {}


def _add(obj, res, quantity, unit, scale=1):
    RESOURCES[(obj, res)] = (quantity, unit, scale)


# Device (3) and location (6).
_add(3, 7, "supply_voltage", "V", 0.001)      # power source voltage, mV
_add(3, 9, "battery", "%EL")                  # battery level, %
_add(6, 0, "latitude", "lat")
_add(6, 1, "longitude", "lon")
_add(6, 2, "altitude", "m")

# IPSO sensors: object -> (quantity of "Sensor Value" 5700, unit, scale).
IPSO_SENSORS = {
    3300: ("value", "", 1),                   # generic sensor: unit from 5701
    3301: ("illuminance", "lx", 1),
    3303: ("temperature", "Cel", 1),
    3304: ("humidity", "%RH", 1),
    3315: ("pressure", "hPa", 1),             # barometer
    3316: ("voltage", "V", 1),
    3317: ("current", "A", 1),
    3318: ("frequency", "Hz", 1),
    3319: ("depth", "cm", 1),
    3320: ("percentage", "%", 1),
    3321: ("altitude", "m", 1),
    3323: ("pressure", "hPa", 0.01),          # pressure object: Pa
    3324: ("noise_level", "dB", 1),           # loudness
    3325: ("concentration", "ppm", 1),
    3328: ("power", "W", 1),
    3330: ("distance", "m", 1),
    3331: ("energy", "Wh", 1),
}
for _obj, (_q, _u, _s) in IPSO_SENSORS.items():
    _add(_obj, 5700, _q, _u, _s)
    _add(_obj, 5601, f"{_q}_min", _u, _s)     # min measured value
    _add(_obj, 5602, f"{_q}_max", _u, _s)     # max measured value
_add(3200, 5500, "digital_input", "bool")
_add(3200, 5501, "digital_input_count", "count")
_add(3202, 5600, "analog_input", "")
_add(3305, 5800, "power", "W")                # power measurement: instantaneous active
_add(3305, 5805, "energy", "Wh")              # cumulative active power
_add(3331, 5805, "energy", "Wh")

# uCIFI 3424 water meter and 3423 gas meter.
for _obj in (3424, 3423):
    _add(_obj, 1, "volume", "m3")             # cumulated volume
    _add(_obj, 4, "pulse_count", "count")
    _add(_obj, 7, "flow_min", "m3/s")         # minimum flow rate since the last value
    _add(_obj, 8, "flow_max", "m3/s")
    _add(_obj, 9, "leak_suspected", "bool")
    _add(_obj, 10, "leak", "bool")
_add(3424, 11, "backflow", "bool")
_add(3424, 12, "blocked", "bool")
_add(3424, 13, "tamper", "bool")              # fraud detected
_add(3423, 11, "high_temperature", "bool")

# uCIFI 3435 filling level.
_add(3435, 1, "container_height", "cm")
_add(3435, 2, "fill_level", "%")              # actual filling percentage
_add(3435, 3, "fill_height", "cm")            # actual filling level
_add(3435, 5, "full", "bool")
_add(3435, 7, "empty", "bool")
_add(3435, 12, "out_of_location", "bool")
_add(3435, 13, "tilt", "bool")                # container out of position
_add(3435, 19, "fill_count", "count")
_add(3435, 21, "cover_open", "bool")
_add(3435, 22, "fire", "bool")                # temperature alarm
_add(3435, 23, "water_infiltration", "bool")

# uCIFI 3416 outdoor lamp controller.
_add(3416, 1, "dimming_command", "%")
_add(3416, 2, "dimming_command_active", "%")
_add(3416, 3, "dimming_level", "%")
_add(3416, 5, "lamp_failure", "bool")
_add(3416, 7, "control_gear_failure", "bool")
_add(3416, 9, "relay_failure", "bool")
_add(3416, 10, "day_burner", "bool")
_add(3416, 11, "cycling_failure", "bool")
_add(3416, 15, "lamp_hours", "h")
_add(3416, 18, "switch_count", "count")
_add(3416, 21, "control_gear_temperature", "Cel")
_add(3416, 40, "color_temperature", "K")
_add(3416, 44, "lamp_voltage", "V")
_add(3416, 45, "lamp_current", "A")
_add(3416, 46, "power", "W")                  # light source active power
_add(3416, 47, "energy", "Wh", 1000)          # light source active energy, kWh
_add(3416, 56, "driver_hours", "h")

# uCIFI 3428 air quality.
for _res, (_q, _u) in {
    1: ("pm10", "ug/m3"), 2: ("pm10_24h", "ug/m3"), 3: ("pm2_5", "ug/m3"),
    4: ("pm2_5_24h", "ug/m3"), 5: ("pm1", "ug/m3"), 6: ("pm1_24h", "ug/m3"),
    7: ("co", "ppm"), 8: ("co_8h", "ppm"), 9: ("so2", "ppm"), 10: ("so2_1h", "ppm"),
    11: ("so2_24h", "ppm"), 12: ("o3", "ppm"), 13: ("o3_1h", "ppm"), 14: ("o3_8h", "ppm"),
    15: ("no2", "ppm"), 16: ("no2_1h", "ppm"), 17: ("co2", "ppm"), 18: ("co2_1h", "ppm"),
}.items():
    _add(3428, _res, _q, _u)

#: Resources that describe other resources of their instance rather than measure:
#: 5701 sensor units, 5750 application type, 5518 timestamp and 6050 its fraction,
#: 6042/6049 measurement quality.
UNITS_RESOURCE = 5701
TIMESTAMP_RESOURCE = 5518
FRACTION_RESOURCE = 6050
METADATA = frozenset({5701, 5750, 5518, 6050, 6042, 6049})

#: A device URN in front of a name ("urn:dev:imei:356938035643809:", "urn:dev:mac:.../").
DEVICE_URN = re.compile(r"^urn:(?:dev:[A-Za-z]+|imei|esn|meid|uuid):[^:/]+[:/]?",
                        re.IGNORECASE)
#: ``object/instance/resource/resource instance``: four numbers that are the whole path
#: (after a device URN or a ":", or the whole name: "/3/0/7/1", "urn:dev:imei:1:3/0/7/1").
PATH_INSTANCE = re.compile(r"(?:^/?|:)(\d{1,5})/(\d{1,5})/(\d{1,5})/(\d{1,5})\Z")
#: ``object/instance/resource``: the last three numbers of a name, after a "/", a ":" or
#: at its start ("/3303/0/5700", "urn:dev:imei:1:3303/0/5700", "dev/1/2/3303/0/5700").
PATH = re.compile(r"(?:^|[/:])(\d{1,5})/(\d{1,5})/(\d{1,5})\Z")

#: quantity -> the path an encoder writes it to (the first object giving it).
ENCODE_PATHS: dict[str, tuple[int, int]] = {}
for (_obj, _res), (_q, _u, _s) in RESOURCES.items():
    ENCODE_PATHS.setdefault(_q, (_obj, _res))


def path(name):
    """``(object, instance, resource, resource instance or None)`` of an LwM2M name.

    The path is the end of the name, after any device URN: numbers earlier in it (a
    device id "urn:dev:imei:123/3303/0/5700", "dev/1/2/3303/0/5700") are not part of it.
    """
    name = DEVICE_URN.sub("", name, count=1)
    m = PATH_INSTANCE.search(name)
    if m is not None:
        return tuple(int(g) for g in m.groups())
    m = PATH.search(name)
    if m is None:
        return None
    obj, inst, res = m.groups()
    return int(obj), int(inst), int(res), None


def quantities():
    """Every quantity of the table with its unit, and ``<quantity>_*`` for instances.

    A quantity a shorter pattern already covers in the same unit is left out
    (``temperature_*`` covers ``temperature_min``); longer patterns come first, so that
    ``digital_input_count_*`` is found before ``digital_input_*``.
    """
    units = {}
    for q, unit, _scale in RESOURCES.values():
        units.setdefault(q, unit)
    out = {}
    for q in sorted(units, key=len):
        covered = any(fnmatch.fnmatchcase(q, p) and u == units[q] for p, u in out.items())
        if not covered:
            out[q] = units[q]
            out[f"{q}_*"] = units[q]
    return dict(sorted(out.items(), key=lambda kv: (-len(kv[0]), kv[0])))
