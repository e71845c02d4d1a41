"""The one table of units.

SenML names (RFC 8428, section 12.1 and the IANA "SenML Units" registry) where one exists;
hromada's own names only where SenML has none, each marked below.  Readings carry these
names in ``Reading.unit``; plugins must use them (``check_unit`` tells).
"""

#: unit name -> description.  Keys are what appears in Reading.unit.
UNITS = {
    # SenML (RFC 8428 / IANA registry)
    "m": "metre",
    "kg": "kilogram",
    "g": "gram",
    "s": "second",
    "A": "ampere",
    "K": "kelvin",
    "Cel": "degree Celsius",
    "V": "volt",
    "W": "watt",
    "J": "joule",
    "Wh": "watt-hour",
    "VA": "volt-ampere",
    "var": "volt-ampere reactive",
    "Hz": "hertz",
    "Pa": "pascal",
    "hPa": "hectopascal",
    "m2": "square metre",
    "m3": "cubic metre",
    "l": "litre",
    "m3/s": "cubic metre per second",
    "l/s": "litre per second",
    "m/s": "metre per second",
    "m/s2": "metre per second squared",
    "%": "percent",
    "%RH": "percent relative humidity",
    "%EL": "percent of remaining battery energy",
    "dB": "decibel",
    "dBW": "decibel relative to 1 W",
    "dBm": "decibel relative to 1 mW",
    "lx": "lux",
    "cd": "candela",
    "rad": "radian",
    "deg": "degree (angle)",
    "lat": "degrees latitude",
    "lon": "degrees longitude",
    "count": "counter value",
    "/": "ratio",
    "1/min": "events per minute",
    "1/h": "events per hour",
    "beat/min": "heart rate",
    "Bspl": "bel (sound pressure level)",
    "bit/s": "bit per second",
    "mol": "mole",
    # Not in SenML: hromada's own names (kept as the usual engineering spelling).
    "kWh": "kilowatt-hour (hromada)",
    "MWh": "megawatt-hour (hromada)",
    "kW": "kilowatt (hromada)",
    "GJ": "gigajoule (hromada)",
    "MJ": "megajoule (hromada)",
    "m3/h": "cubic metre per hour (hromada)",
    "l/h": "litre per hour (hromada)",
    "km/h": "kilometre per hour: vehicle speeds (hromada)",
    "kg/h": "kilogram per hour: mass flow (hromada)",
    "ug/m3": "microgram per cubic metre (hromada)",
    "mg/m3": "milligram per cubic metre (hromada)",
    "ppm": "parts per million (hromada)",
    "ppb": "parts per billion (hromada)",
    "dBA": "A-weighted decibel (hromada)",
    "mm": "millimetre (hromada)",
    "nm": "nanometre (hromada)",
    "1/cm3": "particles per cubic centimetre (hromada)",
    "cm": "centimetre (hromada)",
    "bar": "bar (hromada)",
    "min": "minute (hromada)",
    "h": "hour (hromada)",
    "d": "day (hromada)",
    "bool": "true/false state (hromada)",
    "gn": "standard gravity, 9.80665 m/s2 (hromada; accelerometers)",
    "deg/s": "degree per second (hromada; gyrometers)",
    "": "dimensionless or text",
}


def check_unit(unit):
    """Return ``unit`` if it is in the table, else raise ValueError naming the close ones."""
    if unit in UNITS:
        return unit
    raise ValueError(f"unknown unit {unit!r}; use one of the names in hromada.units.UNITS")
