"""Small helpers shared by the first-party city services.

Local time without a datetime per reading (the UTC offset is cached per quarter hour),
time-of-day windows like ``"02:00-05:00"``, device selection by model family or tag,
``key=value`` tags, and great-circle distances.
"""

from __future__ import annotations

import datetime as dt
import math
import zoneinfo

from hromada import Option

DAY = 86400.0
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class LocalClock:
    """POSIX seconds -> local calendar facts in one time zone, fast.

    Readings arrive by the million; building a ``datetime`` for each is too slow.  The
    UTC offset changes only on the quarter hour in every zone in use, so it is cached
    per 15-minute slot and everything else is integer arithmetic on local seconds.
    """

    def __init__(self, tz):
        self.tz = zoneinfo.ZoneInfo(tz) if isinstance(tz, str) else tz
        self._offsets = {}
        self._folds = {}
        self._interval_starts = {}
        self._day_starts = {}

    def offset(self, t):
        slot = int(t // 900)
        off = self._offsets.get(slot)
        if off is None:
            utc = dt.datetime.fromtimestamp(slot * 900, dt.UTC)
            off = utc.astimezone(self.tz).utcoffset().total_seconds()
            self._offsets[slot] = off
        return off

    def fold(self, t):
        """1 when ``t`` is the second pass of a wall-clock time repeated by a change back
        from summer time (the last Sunday of October in Europe), else 0."""
        slot = int(t // 900)
        f = self._folds.get(slot)
        if f is None:
            f = self._folds[slot] = dt.datetime.fromtimestamp(slot * 900, self.tz).fold
        return f

    def utc_of(self, local, fold=0):
        """POSIX time of local wall time ``local`` (seconds as :meth:`local` gives);
        ``fold`` picks the second pass of a repeated wall-clock time."""
        naive = dt.datetime(1970, 1, 1) + dt.timedelta(seconds=local)
        return naive.replace(tzinfo=self.tz, fold=fold).timestamp()

    def interval_key(self, t, interval):
        """Number of the local-time interval of length ``interval`` holding ``t``.

        Whole numbers count intervals of local wall time; an interval that starts in the
        wall-clock hour repeated when summer time ends gets ``+ 0.5`` on its second
        pass, so that two real hours are never one interval.  Keys are for equality;
        order intervals by :meth:`interval_start`.
        """
        key = int(self.local(t) // interval)
        if self.fold(t) and self._repeated(key * interval):
            return key + 0.5
        return key

    def interval_start(self, key, interval):
        """POSIX time at which the interval ``key`` (see :meth:`interval_key`) starts."""
        t = self._interval_starts.get((key, interval))
        if t is None:
            t = self.utc_of(int(key) * interval, 1 if key % 1 else 0)
            self._interval_starts[(key, interval)] = t
        return t

    def _repeated(self, local):
        return self.utc_of(local, 0) != self.utc_of(local, 1)

    def local(self, t):
        """Seconds since 1970-01-01T00:00 local wall time."""
        return t + self.offset(t)

    def day(self, t):
        """Local day number (days since 1970-01-01 in local calendar terms)."""
        return int(self.local(t) // DAY)

    def seconds_of_day(self, t):
        return self.local(t) % DAY

    def weekday(self, t):
        """0 = Monday (1970-01-01 was a Thursday)."""
        return (self.day(t) + 3) % 7

    @staticmethod
    def date(day):
        return dt.date(1970, 1, 1) + dt.timedelta(days=day)

    def day_start(self, day):
        """POSIX time of local midnight starting local day ``day``."""
        t = self._day_starts.get(day)
        if t is None:
            d = self.date(day)
            t = dt.datetime(d.year, d.month, d.day, tzinfo=self.tz).timestamp()
            self._day_starts[day] = t
        return t

    def at(self, day, seconds):
        """POSIX time of ``seconds`` after local midnight on ``day`` (wall clock)."""
        d = self.date(day)
        naive = dt.datetime(d.year, d.month, d.day) + dt.timedelta(seconds=seconds)
        return naive.replace(tzinfo=self.tz).timestamp()

    def iso(self, t):
        return dt.datetime.fromtimestamp(t, self.tz).isoformat(timespec="seconds")


def parse_clock(text, where="time"):
    """Seconds after midnight of ``"HH:MM"`` (``"24:00"`` allowed)."""
    try:
        hh, mm = str(text).strip().split(":")
        h, m = int(hh), int(mm)
    except ValueError:
        raise ValueError(f"{where}: {text!r} is not a time of day like '02:00'") from None
    if not (0 <= h <= 24 and 0 <= m < 60) or (h == 24 and m):
        raise ValueError(f"{where}: {text!r} is not a time of day like '02:00'")
    return h * 3600 + m * 60


def parse_window(text, where="window"):
    """``"02:00-05:00"`` -> (start, end) seconds after midnight; end < start wraps past
    midnight (``"23:00-07:00"``)."""
    parts = str(text).split("-")
    try:
        if len(parts) != 2:
            raise ValueError
        start, end = parse_clock(parts[0]), parse_clock(parts[1])
    except ValueError:
        raise ValueError(f"{where}: {text!r} is not a window like '02:00-05:00'") from None
    if start == end:
        raise ValueError(f"{where}: {text!r} is an empty window")
    return start, end


def in_window(sod, window):
    start, end = window
    if start < end:
        return start <= sod < end
    return sod >= start or sod < end


def tag_value(device, key):
    """Value of a ``key=value`` tag of ``device``, or None."""
    prefix = key + "="
    for tag in device.tags:
        if tag.startswith(prefix):
            return tag[len(prefix):]
    return None


def family_of(city, device):
    model = city.host.device_models.get(device.model)
    return model.family if model is not None else None


def select_devices(city, families, tags=()):
    """The city's devices whose model family is in ``families`` or that carry one of
    ``tags`` (plain tags or ``key=value`` tags matched whole)."""
    families, tags = set(families or ()), set(tags or ())
    out = {}
    for dev in city.devices.values():
        if (families and family_of(city, dev) in families) or (tags and tags & set(dev.tags)):
            out[dev.id] = dev
    return out


def selection_options(families, what):
    """The two options every service has for choosing its devices."""
    return (
        Option("families", "list", default=list(families),
               help=f"device model families whose devices are {what}"),
        Option("tags", "list", default=[],
               help=f"devices with any of these tags are {what} too (any model family)"),
    )


def truthy(value):
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


EARTH_RADIUS_KM = 6371.0088  # IUGG mean radius


def haversine_km(lat1, lon1, lat2, lon2):
    """Great-circle distance in km between two points given in degrees."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def num(value):
    """A reading's value as float, or None when it is not a number."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value) if math.isfinite(value) else None
    return None
