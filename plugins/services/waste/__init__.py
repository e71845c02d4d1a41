"""The ``waste`` service: bin fill levels, fill rates, the collection list and its route.

Each bin's fill rate is the least-squares slope of its fill level since it was last
emptied.  Bins predicted to pass the threshold before the next collection (or already
past it) make the collection list; the route visits them from the depot (nearest
neighbour, then 2-opt; length in km).  Fire (temperature) and tilt alarms are events.
See README.md next to this file.
"""

from __future__ import annotations

from collections import Counter

import hromada
from hromada import Event, Option, ServiceType

from .._common import (
    WEEKDAYS,
    LocalClock,
    num,
    parse_clock,
    select_devices,
    selection_options,
    truthy,
)
from .route import plan_route

EVENTS = ("waste.full", "waste.emptied", "waste.fire", "waste.fire_cleared", "waste.tilt",
          "waste.tilt_cleared", "waste.collection_plan")

# Per-bin state, one list (msgpack-able, and cheaper than an object per bin):
FILL, TIME, N, ST, SF, STT, STF, T0, FULL, FIRE, TILT = range(11)


class Waste:
    def __init__(self, name, options, city):
        o = options
        self.name = name
        self.clock = LocalClock(city.tz)
        where = f"services.{name}"
        days = [str(d).strip().lower()[:3] for d in o["collection_days"]]
        bad = [d for d in days if d not in WEEKDAYS]
        if bad or not days:
            raise ValueError(f"{where}.collection_days: use day names like 'mon', 'thu' "
                             f"(got {o['collection_days']!r})")
        self.collection_days = sorted({WEEKDAYS.index(d) for d in days})
        self.collection_time = parse_clock(o["collection_time"], f"{where}.collection_time")
        self.plan_at = parse_clock(o["plan_at"], f"{where}.plan_at") if o["plan_at"] else None
        self.bins = select_devices(city, o["families"], o["tags"])
        self.fill_q, self.distance_q = o["fill_level"], o["distance"]
        self.temp_q, self.tilt_q = o["temperature"], o["tilt"]
        self.handled = frozenset((self.fill_q, self.distance_q, self.temp_q, self.tilt_q))
        self.threshold = o["threshold"]
        self.empty_drop = o["empty_drop"]
        self.fire_at = o["fire_temperature"]
        self.tilt_at = o["tilt_degrees"]
        self.bin_depth = o["bin_depth"]
        self.closed = o["return_to_depot"]
        depot = o["depot"]
        if depot is None:
            if city.lat is None or city.lon is None:
                raise ValueError(f"{where}.depot: give [lat, lon] (the city has no lat/lon)")
            depot = [city.lat, city.lon]
        if (not isinstance(depot, list) or len(depot) != 2
                or not all(isinstance(x, int | float) for x in depot)):
            raise ValueError(f"{where}.depot: must be [lat, lon], not {depot!r}")
        self.depot = (float(depot[0]), float(depot[1]))
        self.state = {}
        # Bins whose model reports a fill level: their distance readings are not needed.
        self.reports_fill = set()
        self.counts = Counter()
        self.watermark = None
        self.last_plan = None
        self.plans_made = 0
        self._plan_due = None

    # -- readings ------------------------------------------------------------------------

    def process(self, readings, ctx):
        bins, handled = self.bins, self.handled
        wm = self.watermark
        plan_due = self._plan_due
        for r in readings:
            if r.quantity not in handled or r.device not in bins:
                continue
            t = r.time
            if wm is None or t > wm:
                wm = t
                if plan_due is None and self.plan_at is not None:
                    plan_due = self._first_plan_after(t)
                # Plans are made in time order, with what was known at that time.
                while plan_due is not None and t >= plan_due:
                    self.make_plan(ctx, plan_due)
                    plan_due = self._first_plan_after(plan_due)
            q = r.quantity
            if q == self.fill_q:
                v = num(r.value)
                if v is not None:
                    self.reports_fill.add(r.device)
                    self._fill(r.device, t, v, ctx, replace=True)
            elif q == self.distance_q:
                if r.device not in self.reports_fill:
                    self._distance(r, ctx)
            elif q == self.temp_q:
                self._temperature(r, ctx)
            else:
                self._tilt(r, ctx)
        self.watermark = wm
        self._plan_due = plan_due

    def _first_plan_after(self, t):
        day = self.clock.day(t)
        at = self.clock.at(day, self.plan_at)
        return at if at > t else self.clock.at(day + 1, self.plan_at)

    def _st(self, dev):
        st = self.state.get(dev)
        if st is None:
            st = self.state[dev] = [None, None, 0, 0.0, 0.0, 0.0, 0.0, None, False, False,
                                    False]
        return st

    def _distance(self, r, ctx):
        # An ultrasonic sensor gives the distance down to the waste; the bin's depth
        # (device option bin_depth_mm, or the service's bin_depth in m) turns it into %.
        v = num(r.value)
        if v is None:
            return
        dev = self.bins[r.device]
        depth_mm = dev.options.get("bin_depth_mm")
        depth = depth_mm / 1000.0 if depth_mm else self.bin_depth
        metres = v / 1000.0 if r.unit == "mm" else v / 100.0 if r.unit == "cm" else v
        fill = max(0.0, min(100.0, 100.0 * (depth - metres) / depth))
        self._fill(r.device, r.time, fill, ctx)

    def _fill(self, dev, t, fill, ctx, replace=False):
        st = self._st(dev)
        if st[TIME] is not None and t <= st[TIME]:
            if replace and t == st[TIME] and st[N] > 0:
                # The same uplink's fill level after its distance: the model knows the
                # bin's depth better than a default, so its value replaces the point.
                x = (t - st[T0]) / 3600.0
                st[SF] += fill - st[FILL]
                st[STF] += x * (fill - st[FILL])
                st[FILL] = fill
                self._check_full(dev, st, t, ctx)
            else:
                self.counts["out_of_order"] += 1
            return
        if st[FILL] is not None and st[FILL] - fill >= self.empty_drop:
            self.counts["emptied"] += 1
            ctx.emit(Event("waste.emptied", "info", dev, t,
                           {"before": st[FILL], "after": fill}))
            st[N] = 0
            st[FULL] = False
        if st[N] == 0:
            st[T0] = t
            st[ST] = st[SF] = st[STT] = st[STF] = 0.0
        x = (t - st[T0]) / 3600.0  # hours since the first point: keeps the sums small
        st[N] += 1
        st[ST] += x
        st[SF] += fill
        st[STT] += x * x
        st[STF] += x * fill
        st[FILL], st[TIME] = fill, t
        self._check_full(dev, st, t, ctx)

    def _check_full(self, dev, st, t, ctx):
        if st[FILL] >= self.threshold and not st[FULL]:
            st[FULL] = True
            self.counts["full"] += 1
            ctx.emit(Event("waste.full", "warning", dev, t,
                           {"fill_level": st[FILL], "threshold": self.threshold}))

    def _temperature(self, r, ctx):
        v = num(r.value)
        if v is None:
            return
        st = self._st(r.device)
        if v >= self.fire_at and not st[FIRE]:
            st[FIRE] = True
            self.counts["fire"] += 1
            ctx.emit(Event("waste.fire", "critical", r.device, r.time,
                           {"temperature": v, "unit": r.unit, "limit": self.fire_at}))
        elif st[FIRE] and v < self.fire_at - 10:
            st[FIRE] = False
            ctx.emit(Event("waste.fire_cleared", "info", r.device, r.time,
                           {"temperature": v, "unit": r.unit}))

    def _tilt(self, r, ctx):
        v = r.value
        tilted = truthy(v) if isinstance(v, bool | str) else (num(v) or 0.0) >= self.tilt_at
        st = self._st(r.device)
        if tilted and not st[TILT]:
            st[TILT] = True
            self.counts["tilt"] += 1
            ctx.emit(Event("waste.tilt", "warning", r.device, r.time, {"value": v}))
        elif not tilted and st[TILT]:
            st[TILT] = False
            ctx.emit(Event("waste.tilt_cleared", "info", r.device, r.time, {"value": v}))

    # -- planning ------------------------------------------------------------------------

    def rate(self, dev):
        """Fill rate of a bin in % per hour (least squares since it was emptied)."""
        st = self.state.get(dev)
        if st is None or st[N] < 2:
            return None
        n = st[N]
        den = n * st[STT] - st[ST] * st[ST]
        if den <= 1e-12:
            return None
        return (n * st[STF] - st[ST] * st[SF]) / den

    def next_collection(self, t):
        """The first collection time strictly after ``t``."""
        day = self.clock.day(t)
        for k in range(0, 8):
            d = day + k
            if (d + 3) % 7 in self.collection_days:
                at = self.clock.at(d, self.collection_time)
                if at > t:
                    return at
        raise AssertionError("no collection day in a week")  # collection_days not empty

    def collection_list(self, now):
        """Bins past the threshold, or predicted to pass it before the next collection:
        [(bin, fill now, predicted fill, hours to the threshold)], fullest first."""
        at = self.next_collection(now)
        out = []
        for dev, st in self.state.items():
            fill = st[FILL]
            if fill is None:
                continue
            rate = self.rate(dev)
            predicted = fill if rate is None else fill + max(rate, 0.0) * (at - st[TIME]) / 3600
            if fill >= self.threshold:
                hours = 0.0
            elif rate and rate > 0:
                hours = (self.threshold - fill) / rate - (now - st[TIME]) / 3600
            else:
                hours = None
            if fill >= self.threshold or predicted >= self.threshold:
                out.append((dev, round(fill, 2), round(min(predicted, 100.0), 2),
                            None if hours is None else round(max(hours, 0.0), 2)))
        out.sort(key=lambda x: (-x[2], x[0]))
        return at, out

    def make_plan(self, ctx, now):
        at, items = self.collection_list(now)
        stops, unrouted = {}, []
        for dev, *_ in items:
            d = self.bins[dev]
            if d.lat is None or d.lon is None:
                unrouted.append(dev)
            else:
                stops[dev] = (d.lat, d.lon)
        order, length = plan_route(self.depot, stops, self.closed)
        plan = {
            "made": self.clock.iso(now),
            "collection": self.clock.iso(at),
            "threshold": self.threshold,
            "bins": [{"bin": dev, "fill_level": fill, "predicted": pred,
                      "hours_to_threshold": hours} for dev, fill, pred, hours in items],
            "route": order,
            "unrouted": sorted(unrouted),
            "length_km": round(length, 3),
            "depot": list(self.depot),
            "return_to_depot": self.closed,
        }
        self.last_plan = plan
        self.plans_made += 1
        ctx.emit(Event("waste.collection_plan", "info", None, now, plan))
        return plan

    def stop(self, ctx):
        if self.watermark is not None:
            self.make_plan(ctx, self.watermark)

    # -- reporting and state ---------------------------------------------------------------

    def summary(self):
        fills = [st[FILL] for st in self.state.values() if st[FILL] is not None]
        plan = self.last_plan or {}
        return {
            "bins": len(self.bins),
            "reporting": len(fills),
            "average_fill": round(sum(fills) / len(fills), 2) if fills else None,
            "over_threshold": sum(1 for f in fills if f >= self.threshold),
            "to_collect": len(plan.get("bins", ())),
            "collection": plan.get("collection"),
            "collect": [b["bin"] for b in plan.get("bins", ())],
            "route": plan.get("route", []),
            "route_km": plan.get("length_km"),
            "fire": sorted(d for d, st in self.state.items() if st[FIRE]),
            "tilted": sorted(d for d, st in self.state.items() if st[TILT]),
            "counts": dict(sorted(self.counts.items())),
        }

    def snapshot(self):
        return {"version": 1, "state": self.state, "counts": dict(self.counts),
                "reports_fill": sorted(self.reports_fill),
                "watermark": self.watermark, "plan_due": self._plan_due}

    def restore(self, state):
        if not isinstance(state, dict) or state.get("version") != 1:
            return
        self.state = {k: list(v) for k, v in state["state"].items()}
        self.reports_fill = set(state.get("reports_fill", ()))
        self.counts = Counter(state["counts"])
        self.watermark = state["watermark"]
        self._plan_due = state["plan_due"]


OPTIONS = (
    *selection_options(["waste_bin"], "bins"),
    Option("fill_level", "str", default="fill_level", help="quantity of the fill level (%)"),
    Option("distance", "str", default="distance",
           help="quantity of the sensor-to-waste distance, used when no fill level is sent"),
    Option("temperature", "str", default="temperature", help="quantity of the temperature"),
    Option("tilt", "str", default="tilt", help="quantity of the tilt (bool, or degrees)"),
    Option("threshold", "float", default=80.0, min=1, max=100,
           help="fill level (%) at which a bin must be emptied"),
    Option("collection_days", "list", default=["mon", "thu"],
           help="weekdays the collection runs"),
    Option("collection_time", "str", default="06:00", help="when it starts (local time)"),
    Option("plan_at", "str", default="20:00",
           help="daily time (local) the collection plan is made; empty: only at stop"),
    Option("depot", "any", default=None,
           help="[lat, lon] where the trucks start; default: the city's centre"),
    Option("return_to_depot", "bool", default=True,
           help="the route ends back at the depot"),
    Option("empty_drop", "float", default=30.0, min=1,
           help="a fall of this many points means the bin was emptied"),
    Option("fire_temperature", "float", default=60.0,
           help="temperature (Cel) that raises a fire alarm"),
    Option("tilt_degrees", "float", default=45.0,
           help="tilt angle from which a bin counts as knocked over"),
    Option("bin_depth", "float", default=1.2, min=0.1,
           help="bin depth in m for distance sensors (device option bin_depth_mm wins)"),
)


@hromada.hookimpl
def hromada_services():
    return [ServiceType(
        name="waste",
        factory=Waste,
        options=OPTIONS,
        help="Waste bins: fill level and rate, the collection list before the next "
             "collection day and its route from the depot; fire and tilt alarms.",
        events=EVENTS,
    )]
