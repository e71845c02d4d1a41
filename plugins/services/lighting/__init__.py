"""The ``lighting`` service: adaptive street lighting by street segment.

Every plan interval the service decides a dimming level for each street segment (lamps
grouped by a ``street=NAME`` tag, else by district): off while the sun is up at the
city's coordinates (NOAA sun times, :mod:`hromada.sun`), full in the evening and the
morning, the quiet level during quiet hours unless traffic or presence readings from
the same segment say the street is busy.  A changed level goes to every lamp of the
segment as a downlink ``{"dim": level}``, encoded by the lamp's own model.  Energy used
is integrated from the lamps' power readings and set against always-on lighting (rated
power from dusk to dawn).  A lamp that draws no power while it is on is reported failed.
See README.md next to this file.
"""

from __future__ import annotations

from collections import Counter

import hromada
from hromada import Command, Event, Option, ServiceType
from hromada import sun as _sun

from .._common import (
    LocalClock,
    in_window,
    num,
    parse_window,
    select_devices,
    selection_options,
    tag_value,
    truthy,
)

EVENTS = ("lighting.dimming", "lighting.lamp_failed", "lighting.lamp_recovered")

# Per-lamp state: last power reading, on/off state, failure count.
P_T, P_W, ON_T, ON, FAILS, FAILED = range(6)


def segment_of(device, tag):
    return tag_value(device, tag) or device.district or "-"


class Lighting:
    def __init__(self, name, options, city):
        o = options
        self.name = name
        where = f"services.{name}"
        self.clock = LocalClock(city.tz)
        self.quiet = parse_window(o["quiet_hours"], f"{where}.quiet_hours")
        if o["quiet_level"] > o["full_level"]:
            raise ValueError(f"{where}.quiet_level: must not be above full_level")
        self.lamps = select_devices(city, o["families"], o["tags"])
        tag = o["segment_tag"]
        self.segment = {d.id: segment_of(d, tag) for d in self.lamps.values()}
        self.members = {}
        for dev_id in sorted(self.segment):
            self.members.setdefault(self.segment[dev_id], []).append(dev_id)
        # Activity can come from any device of a segment that has lamps (counters,
        # presence sensors, the lamps' own sensors).
        self.activity_q = frozenset(o["activity"])
        self.sensor_segment = {d.id: segment_of(d, tag) for d in city.devices.values()
                               if segment_of(d, tag) in self.members}
        self.sensed = set()  # segments where an activity reading was ever seen
        self.power_q, self.on_q, self.dim_q = o["power"], o["lamp_on"], o["dimming"]
        self.lamp_q = frozenset((self.power_q, self.on_q, self.dim_q))
        self.rated = {d.id: float(d.options.get("rated_power_w") or o["rated_power_w"])
                      for d in self.lamps.values()}
        lat, lon = city.lat, city.lon
        if lat is None or lon is None:
            placed = [d for d in self.lamps.values() if d.lat is not None and d.lon is not None]
            if not placed:
                raise ValueError(f"{where}: sun times need the city's lat and lon "
                                 "([city] lat = ..., lon = ...) or lamps with coordinates")
            lat = sum(d.lat for d in placed) / len(placed)
            lon = sum(d.lon for d in placed) / len(placed)
        self.lat, self.lon = lat, lon
        self.zenith = o["sun_zenith"]
        self.period = o["plan_interval"]
        self.full, self.quiet_level = o["full_level"], o["quiet_level"]
        self.busy_rate = o["busy_rate"]
        self.failed_w, self.failed_after = o["failed_power_w"], o["failed_after"]
        self.max_gap = o["max_gap"]
        self._sun = {}
        self.lamp = {}
        self._pending = {}  # device -> time of a power reading not judged yet
        self.level = {}
        self.activity = {}  # segment -> {bucket: count}
        self.used_wh = 0.0
        self.always_on_wh = 0.0
        self.counts = Counter()
        self.watermark = None
        self._plan_due = None

    # -- the sun -------------------------------------------------------------------------

    def sun_times(self, day):
        st = self._sun.get(day)
        if st is None:
            st = self._sun[day] = _sun.sun_times(self.clock.date(day), self.lat, self.lon,
                                                 self.zenith)
        return st

    def _daylight(self, day):
        """(start, end) of daylight on a local day, POSIX seconds."""
        st = self.sun_times(day)
        if st.polar == "day":
            return self.clock.day_start(day), self.clock.day_start(day + 1)
        if st.polar == "night":
            return st.noon, st.noon
        return st.sunrise, st.sunset

    def is_dark(self, t):
        rise, sset = self._daylight(self.clock.day(t))
        return not rise <= t < sset

    def dark_seconds(self, a, b):
        """Seconds of darkness between POSIX times a and b."""
        total = 0.0
        for day in range(self.clock.day(a), self.clock.day(b) + 1):
            lo, hi = max(a, self.clock.day_start(day)), min(b, self.clock.day_start(day + 1))
            if hi <= lo:
                continue
            rise, sset = self._daylight(day)
            light = max(0.0, min(hi, sset) - max(lo, rise))
            total += (hi - lo) - light
        return total

    # -- readings ------------------------------------------------------------------------

    def process(self, readings, ctx):
        lamps, lamp_q, activity_q = self.lamps, self.lamp_q, self.activity_q
        sensor_segment = self.sensor_segment
        period = self.period
        wm, due = self.watermark, self._plan_due
        for r in readings:
            q = r.quantity
            t = r.time
            if wm is None or t > wm:
                wm = t
                if due is None:
                    due = (t // period + 1) * period
                while t >= due:
                    self._plan(due, ctx)
                    due += period
            if q in activity_q:
                seg = sensor_segment.get(r.device)
                if seg is not None:
                    self._activity(seg, t, r.value)
            if q in lamp_q and r.device in lamps:
                self._lamp(r, ctx)
        self._flush(ctx)
        self.watermark, self._plan_due = wm, due

    def _activity(self, seg, t, value):
        v = 1.0 if isinstance(value, bool) else num(value)
        if v is None:
            return
        self.sensed.add(seg)
        bucket = int(t // self.period)
        b = self.activity.setdefault(seg, {})
        b[bucket] = b.get(bucket, 0.0) + v

    def _lamp(self, r, ctx):
        st = self.lamp.get(r.device)
        if st is None:
            st = self.lamp[r.device] = [None, None, None, None, 0, False]
        t, q, dev = r.time, r.quantity, r.device
        pending = self._pending.get(dev)
        if pending is not None and pending < t:
            self._judge(dev, st, ctx)  # an earlier frame's power, with what it knew
        if q == self.power_q:
            p = num(r.value)
            if p is None:
                return
            last_t = st[P_T]
            if last_t is not None and 0 < t - last_t <= self.max_gap:
                self.used_wh += (p + st[P_W]) / 2 * (t - last_t) / 3600.0
                self.always_on_wh += (self.rated[r.device] * self.dark_seconds(last_t, t)
                                      / 3600.0)
            elif last_t is not None and t <= last_t:
                return
            st[P_T], st[P_W] = t, p
            if st[ON_T] == t:
                self._check(dev, st, t, ctx)
            else:
                # The on-state may follow in the same frame, or (NAS UL20xx) come in
                # another frame: judge this power once either is known.
                self._pending[dev] = t
        else:
            on = truthy(r.value) if q == self.on_q else (num(r.value) or 0.0) > 0
            st[ON_T], st[ON] = t, on
            if self._pending.get(dev) == t:
                self._judge(dev, st, ctx)

    def _judge(self, dev, st, ctx):
        """Judge the pending power reading against the latest on-state near it."""
        t = self._pending.pop(dev)
        if st[ON_T] is not None and abs(t - st[ON_T]) <= self.max_gap:
            self._check(dev, st, t, ctx)

    def _flush(self, ctx):
        # A frame's readings all come in one batch: what is pending now has no partner
        # in this frame and is judged with the lamp's last known on-state.
        for dev in list(self._pending):
            self._judge(dev, self.lamp[dev], ctx)

    def _check(self, dev, st, t, ctx):
        if not st[ON]:
            return
        if st[P_W] <= self.failed_w:
            st[FAILS] += 1
            if st[FAILS] >= self.failed_after and not st[FAILED]:
                st[FAILED] = True
                self.counts["failed"] += 1
                ctx.emit(Event("lighting.lamp_failed", "warning", dev, t,
                               {"power_w": st[P_W], "segment": self.segment[dev],
                                "readings": st[FAILS]}))
        else:
            st[FAILS] = 0
            if st[FAILED]:
                st[FAILED] = False
                ctx.emit(Event("lighting.lamp_recovered", "info", dev, t,
                               {"power_w": st[P_W], "segment": self.segment[dev]}))

    # -- the plan ------------------------------------------------------------------------

    def decide(self, segment, at, rate):
        """The level for ``segment`` at time ``at`` given its activity rate (per hour)."""
        if not self.is_dark(at):
            return 0
        if not in_window(self.clock.seconds_of_day(at), self.quiet):
            return self.full
        if segment in self.sensed and rate >= self.busy_rate:
            return self.full
        return self.quiet_level

    def _plan(self, at, ctx):
        """Levels for the interval starting at ``at`` from the activity of the one before."""
        bucket = int(at // self.period) - 1
        changes = {}
        for seg, lamps in self.members.items():
            acts = self.activity.get(seg)
            count = acts.pop(bucket, 0.0) if acts else 0.0
            if acts:
                for old in [b for b in acts if b < bucket]:
                    del acts[old]
            level = self.decide(seg, at, count * 3600.0 / self.period)
            if self.level.get(seg) != level:
                self.level[seg] = level
                changes[seg] = level
                for dev in lamps:
                    ctx.command(Command(dev, action={"dim": level}, time=at))
                self.counts["commands"] += len(lamps)
        self.counts["plans"] += 1
        if changes:
            self.counts["changes"] += len(changes)
            ctx.emit(Event("lighting.dimming", "info", None, at,
                           {"levels": changes, "dark": self.is_dark(at)}))

    # -- reporting and state ---------------------------------------------------------------

    def summary(self):
        sun = {}
        if self.watermark is not None:
            day = self.clock.day(self.watermark)
            st = self.sun_times(day)
            sun = {"date": str(self.clock.date(day)),
                   "sunrise": self.clock.iso(st.sunrise) if st.sunrise else None,
                   "sunset": self.clock.iso(st.sunset) if st.sunset else None,
                   "polar": st.polar}
        used, base = self.used_wh / 1000, self.always_on_wh / 1000
        return {
            "lamps": len(self.lamps),
            "segments": len(self.members),
            "sensed_segments": len(self.sensed),
            "sun": sun,
            "energy_kwh": round(used, 3),
            "always_on_kwh": round(base, 3),
            "saved_kwh": round(base - used, 3),
            "saved_percent": round(100 * (base - used) / base, 1) if base > 0 else None,
            "failed": sorted(d for d, st in self.lamp.items() if st[FAILED]),
            "levels": dict(sorted(self.level.items())[:200]),
            "counts": dict(sorted(self.counts.items())),
        }

    def snapshot(self):
        return {"version": 1, "lamp": self.lamp, "level": self.level,
                "activity": self.activity, "sensed": sorted(self.sensed),
                "used_wh": self.used_wh, "always_on_wh": self.always_on_wh,
                "counts": dict(self.counts), "watermark": self.watermark,
                "plan_due": self._plan_due}

    def restore(self, state):
        if not isinstance(state, dict) or state.get("version") != 1:
            return
        self.lamp = {k: list(v) for k, v in state["lamp"].items()}
        self.level = dict(state["level"])
        self.activity = {k: dict(v) for k, v in state["activity"].items()}
        self.sensed = set(state["sensed"])
        self.used_wh, self.always_on_wh = state["used_wh"], state["always_on_wh"]
        self.counts = Counter(state["counts"])
        self.watermark, self._plan_due = state["watermark"], state["plan_due"]


OPTIONS = (
    *selection_options(["street_light"], "street lights"),
    Option("segment_tag", "str", default="street",
           help="devices tagged NAME=value form street segments; others go by district"),
    Option("activity", "list", default=["vehicle_count", "people_in", "people_out",
                                        "presence"],
           help="quantities that count traffic or presence in a segment (bool = 1)"),
    Option("power", "str", default="power", help="quantity of a lamp's power draw (W)"),
    Option("lamp_on", "str", default="lamp_on", help="quantity of a lamp's on/off state"),
    Option("dimming", "str", default="dimming_level",
           help="quantity of a lamp's dimming level (%, above 0 = on)"),
    Option("plan_interval", "duration", default="15min", min=60,
           help="how often the levels are decided"),
    Option("full_level", "int", default=100, min=0, max=100, help="level (%) when busy"),
    Option("quiet_level", "int", default=30, min=0, max=100,
           help="level (%) in quiet hours on an empty street"),
    Option("quiet_hours", "str", default="23:00-05:00",
           help="local time window in which empty streets are dimmed"),
    Option("busy_rate", "float", default=30.0, min=0,
           help="activity per hour (vehicles + people) from which a street is busy"),
    Option("sun_zenith", "float", default=_sun.OFFICIAL_ZENITH, min=80, max=110,
           help="sun zenith (degrees) of dusk and dawn: 90.833 sunset, 96 civil twilight"),
    Option("rated_power_w", "float", default=100.0, min=0,
           help="lamp power at full level for the always-on baseline (device option "
                "rated_power_w wins)"),
    Option("failed_power_w", "float", default=2.0, min=0,
           help="a lamp drawing this or less while on is failing"),
    Option("failed_after", "int", default=2, min=1,
           help="readings in a row without power before a lamp is reported failed"),
    Option("max_gap", "duration", default="2h",
           help="power readings further apart than this are not integrated"),
)


@hromada.hookimpl
def hromada_services():
    return [ServiceType(
        name="lighting",
        factory=Lighting,
        options=OPTIONS,
        help="Street lights: a dimming plan per street from traffic, presence and the sun, "
             "sent as downlinks; energy used and saved; failed lamps.",
        events=EVENTS,
    )]
