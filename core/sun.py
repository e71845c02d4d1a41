"""Sunrise, sunset and the sun's elevation from the NOAA solar position equations.

City services need to know when it is dark (street lighting, energy baselines) without
calling out to a web service.  The equations are those of the NOAA Solar Calculator
(after Jean Meeus, *Astronomical Algorithms*): good to about a minute between latitudes
of +/-72 degrees for dates from 1800 to 2100.  Times are POSIX seconds (UTC).

``sun_times(date, lat, lon)`` gives sunrise, solar noon and sunset of a calendar day at a
place (east longitude positive); ``solar_elevation(t, lat, lon)`` the geometric elevation
of the sun's centre at an instant.  Standard sunrise and sunset are when the sun's upper
limb touches the horizon, allowing for refraction: a zenith of 90.833 degrees.  Civil
twilight uses 96, nautical 102, astronomical 108.
"""

from __future__ import annotations

import datetime as _dt
import math
from typing import NamedTuple

#: Zenith of the sun's centre at standard sunrise/sunset (34' refraction + 16' radius).
OFFICIAL_ZENITH = 90.833
CIVIL_ZENITH = 96.0

_EPOCH_JD = 2440587.5  # Julian day of 1970-01-01T00:00Z
_J2000 = 2451545.0


class SunTimes(NamedTuple):
    """One day's sun times as POSIX seconds; ``None`` when the sun does not cross the
    zenith asked for that day (``polar`` then says "day" or "night")."""

    sunrise: float | None
    noon: float
    sunset: float | None
    polar: str | None = None


def julian_day(t: float) -> float:
    """Julian day of POSIX time ``t``."""
    return t / 86400.0 + _EPOCH_JD


def _solar(jd: float):
    """(declination in degrees, equation of time in minutes) at Julian day ``jd``."""
    c = (jd - _J2000) / 36525.0  # Julian centuries since J2000.0
    mean_long = (280.46646 + c * (36000.76983 + c * 0.0003032)) % 360.0
    mean_anom = 357.52911 + c * (35999.05029 - 0.0001537 * c)
    ecc = 0.016708634 - c * (0.000042037 + 0.0000001267 * c)
    m = math.radians(mean_anom)
    centre = (math.sin(m) * (1.914602 - c * (0.004817 + 0.000014 * c))
              + math.sin(2 * m) * (0.019993 - 0.000101 * c)
              + math.sin(3 * m) * 0.000289)
    true_long = mean_long + centre
    omega = math.radians(125.04 - 1934.136 * c)
    app_long = math.radians(true_long - 0.00569 - 0.00478 * math.sin(omega))
    mean_obliq = 23.0 + (26.0 + (21.448 - c * (46.815 + c * (0.00059 - c * 0.001813))) / 60.0) / 60.0
    obliq = math.radians(mean_obliq + 0.00256 * math.cos(omega))
    decl = math.asin(math.sin(obliq) * math.sin(app_long))
    y = math.tan(obliq / 2) ** 2
    l0 = math.radians(mean_long)
    eq_time = 4.0 * math.degrees(
        y * math.sin(2 * l0) - 2 * ecc * math.sin(m)
        + 4 * ecc * y * math.sin(m) * math.cos(2 * l0)
        - 0.5 * y * y * math.sin(4 * l0) - 1.25 * ecc * ecc * math.sin(2 * m))
    return math.degrees(decl), eq_time


def solar_elevation(t: float, lat: float, lon: float) -> float:
    """Geometric elevation of the sun's centre in degrees (no refraction) at POSIX ``t``."""
    decl, eq_time = _solar(julian_day(t))
    minutes = (t % 86400.0) / 60.0
    true_solar = (minutes + eq_time + 4.0 * lon) % 1440.0
    hour_angle = true_solar / 4.0 - 180.0
    phi, d, h = math.radians(lat), math.radians(decl), math.radians(hour_angle)
    cos_zenith = math.sin(phi) * math.sin(d) + math.cos(phi) * math.cos(d) * math.cos(h)
    return 90.0 - math.degrees(math.acos(max(-1.0, min(1.0, cos_zenith))))


def _hour_angle(lat, decl, zenith):
    """Hour angle in degrees at which the sun reaches ``zenith``; None if it never does."""
    phi, d = math.radians(lat), math.radians(decl)
    x = (math.cos(math.radians(zenith)) / (math.cos(phi) * math.cos(d))
         - math.tan(phi) * math.tan(d))
    if x > 1.0:
        return None, "night"
    if x < -1.0:
        return None, "day"
    return math.degrees(math.acos(x)), None


def sun_times(date: _dt.date, lat: float, lon: float,
              zenith: float = OFFICIAL_ZENITH) -> SunTimes:
    """Sunrise, solar noon and sunset on calendar ``date`` at ``lat``/``lon`` (degrees,
    north and east positive), as POSIX seconds UTC.

    The day is the one whose solar noon falls on ``date`` at the place: for a city in
    Europe that is its local calendar day.  Each event is solved twice, the second time
    with the sun's position at the first estimate, as the NOAA calculator does.
    """
    if not -90.0 <= lat <= 90.0 or not -180.0 <= lon <= 180.0:
        raise ValueError(f"latitude/longitude out of range: {lat}, {lon}")
    midnight = _dt.datetime(date.year, date.month, date.day,
                            tzinfo=_dt.UTC).timestamp()

    def noon_at(t):
        _decl, eq_time = _solar(julian_day(t))
        return midnight + (720.0 - 4.0 * lon - eq_time) * 60.0

    noon = noon_at(noon_at(midnight + 43200.0))

    def event(sign):
        # sign -1: sunrise (before noon), +1: sunset.
        t = noon
        for _ in range(3):
            decl, eq_time = _solar(julian_day(t))
            ha, polar = _hour_angle(lat, decl, zenith)
            if ha is None:
                return None, polar
            t = midnight + (720.0 - 4.0 * lon + sign * 4.0 * ha - eq_time) * 60.0
        return t, None

    sunrise, polar_r = event(-1)
    sunset, polar_s = event(+1)
    return SunTimes(sunrise, noon, sunset, polar_r or polar_s)


def is_dark(t: float, lat: float, lon: float, zenith: float = OFFICIAL_ZENITH) -> bool:
    """True when the sun's centre is farther than ``zenith`` degrees from overhead."""
    refraction_free = 90.0 - zenith
    return solar_elevation(t, lat, lon) < refraction_free
