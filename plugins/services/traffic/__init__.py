"""The ``traffic`` service: traffic and pedestrian flow, congestion, parking occupancy.

Flow per counter per interval (vehicles, and people in + out); congestion when a
counter's flow is well above its own baseline for that weekday and hour (learned as a
moving average over the weeks, optionally seeded from a CSV of past counts); parking
occupancy per zone (``zone=NAME`` tag, else district) with its peak; the busiest
streets (``street=NAME`` tag).  See README.md next to this file.
"""

from __future__ import annotations

import csv
from collections import Counter, deque

import hromada
from hromada import Event, Option, ServiceType

from .._common import (
    WEEKDAYS,
    LocalClock,
    family_of,
    num,
    select_devices,
    selection_options,
    tag_value,
    truthy,
)

EVENTS = ("traffic.congestion", "traffic.congestion_cleared", "parking.full",
          "parking.full_cleared")

KEEP_INTERVALS = 96  # flows kept per counter for queries (a day of 15-minute intervals)


def load_baseline(path, where):
    """{device: {weekday * 24 + hour: vehicles per hour}} from a CSV with columns
    device, weekday (0 = Monday, or mon..sun), hour (0-23), vehicles_per_hour."""
    out = {}
    try:
        f = open(path, newline="", encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"{where}: cannot read {path}: {exc.strerror}") from None
    with f:
        reader = csv.DictReader(f)
        need = {"device", "weekday", "hour", "vehicles_per_hour"}
        if not need <= set(reader.fieldnames or ()):
            raise ValueError(f"{where}: {path}: line 1: the header needs the columns "
                             "device, weekday, hour, vehicles_per_hour")
        for row in reader:
            try:
                wd = row["weekday"].strip().lower()
                wd = WEEKDAYS.index(wd[:3]) if wd[:1].isalpha() else int(wd)
                hour = int(row["hour"])
                rate = float(row["vehicles_per_hour"])
                if not (0 <= wd < 7 and 0 <= hour < 24 and rate >= 0):
                    raise ValueError
            except (ValueError, AttributeError):
                raise ValueError(f"{where}: {path}: line {reader.line_num}: weekday must be "
                                 "0-6 or mon..sun, hour 0-23, vehicles_per_hour a number "
                                 ">= 0") from None
            out.setdefault(row["device"].strip().lower(), {})[wd * 24 + hour] = rate
    return out


class Traffic:
    def __init__(self, name, options, city):
        o = options
        self.name = name
        where = f"services.{name}"
        self.clock = LocalClock(city.tz)
        self.devices = select_devices(city, o["families"], o["tags"])
        self.vehicles_q = o["vehicles"]
        self.people_q = frozenset(o["people"])
        self.occupied_q = o["occupied"]
        self.handled = self.people_q | {self.vehicles_q, self.occupied_q}
        self.cumulative = o["cumulative_counts"]
        self.interval = o["interval"]
        self.ratio, self.min_flow = o["congestion_ratio"], o["min_flow"]
        self.alpha = o["baseline_alpha"]
        self.full_ratio = o["full_ratio"]
        self.top = o["top"]
        self.street = {d.id: tag_value(d, o["street_tag"]) or d.district or "-"
                       for d in self.devices.values()}
        self.zone = {d.id: tag_value(d, o["zone_tag"]) or d.district or "-"
                     for d in self.devices.values()}
        self.baseline = {}  # dev -> {weekday * 24 + hour: [vehicles per hour, weeks]}
        if o["baseline"] is not None:
            weight = o["baseline_weight"]
            for dev, slots in load_baseline(o["baseline"], f"{where}.baseline").items():
                self.baseline[dev] = {k: [v, weight] for k, v in slots.items()}
        self.open = {}      # (dev, kind) -> [interval key, count]
        self.last_total = {}  # (dev, quantity) -> last cumulative value
        self.flows = {}     # dev -> deque of [interval start, vehicles, people]
        self.streets = {}   # street -> [vehicles, people, peak per hour, peak start]
        self.congested = {}  # dev -> ratio when it started
        self.space = {}     # parking dev -> occupied
        self.parking_devices = {d.id for d in self.devices.values()
                                if family_of(city, d) == "parking"}
        self.zone_spaces = Counter(self.zone[d] for d in self.parking_devices)
        self.zones = {}     # zone -> [occupied, peak, peak time, full]
        self.counts = Counter()
        self.watermark = None

    # -- readings ------------------------------------------------------------------------

    def process(self, readings, ctx):
        devices, handled = self.devices, self.handled
        wm = self.watermark
        for r in readings:
            q = r.quantity
            if q not in handled or r.device not in devices:
                continue
            if wm is None or r.time > wm:
                wm = r.time
            if q == self.occupied_q:
                self._parking(r, ctx)
                continue
            v = num(r.value)
            if v is None or v < 0:
                continue
            if self.cumulative:
                key = (r.device, q)
                last = self.last_total.get(key)
                self.last_total[key] = v
                if last is None:
                    continue
                v = v - last if v >= last else v  # a reset counter starts again from 0
            self._count(r.device, r.time, "vehicles" if q == self.vehicles_q else "people",
                        v, ctx)
        self.watermark = wm

    def _count(self, dev, t, kind, v, ctx):
        street = self.streets.setdefault(self.street[dev], [0.0, 0.0, 0.0, None])
        street[0 if kind == "vehicles" else 1] += v
        key = self.clock.interval_key(t, self.interval)
        acc = self.open.get((dev, kind))
        if acc is None:
            self.open[(dev, kind)] = [key, v]
        elif acc[0] == key:
            acc[1] += v
        elif (self.clock.interval_start(key, self.interval)
              > self.clock.interval_start(acc[0], self.interval)):
            self._close(dev, kind, acc, ctx)
            acc[0], acc[1] = key, v
        else:
            # That interval is closed; the street total above still counts it.
            self.counts["late"] += 1

    def _close(self, dev, kind, acc, ctx):
        key, count = acc
        local = int(key) * self.interval
        start = self.clock.interval_start(key, self.interval)
        rate = count * 3600.0 / self.interval
        flows = self.flows.setdefault(dev, deque(maxlen=KEEP_INTERVALS))
        if flows and flows[-1][0] == start:
            flows[-1][1 if kind == "vehicles" else 2] = count
        else:
            flows.append([start, count, None] if kind == "vehicles" else [start, None, count])
        if kind != "vehicles":
            return
        street = self.streets[self.street[dev]]
        if rate > street[2]:
            street[2], street[3] = rate, start
        slot = int((local // 86400 + 3) % 7) * 24 + int(local % 86400 // 3600)
        slots = self.baseline.setdefault(dev, {})
        base = slots.get(slot)
        end = start + self.interval
        if base is not None and base[0] > 0:
            ratio = rate / base[0]
            busy = rate >= self.min_flow and ratio >= self.ratio
            if busy and dev not in self.congested:
                self.congested[dev] = ratio
                self.counts["congestion"] += 1
                ctx.emit(Event("traffic.congestion", "warning", dev, end,
                               {"street": self.street[dev], "vehicles_per_hour": rate,
                                "baseline": round(base[0], 1), "ratio": round(ratio, 2),
                                "interval_start": self.clock.iso(start)}))
            elif not busy and dev in self.congested:
                del self.congested[dev]
                ctx.emit(Event("traffic.congestion_cleared", "info", dev, end,
                               {"street": self.street[dev], "vehicles_per_hour": rate,
                                "baseline": round(base[0], 1), "ratio": round(ratio, 2)}))
        # The baseline learns every interval, a mean over the first weeks, then a
        # moving average that follows slow change.
        if base is None:
            slots[slot] = [rate, 1]
        else:
            base[1] += 1
            base[0] += max(self.alpha, 1.0 / base[1]) * (rate - base[0])

    def _parking(self, r, ctx):
        dev = r.device
        occupied = truthy(r.value)
        zone = self.zone[dev]
        z = self.zones.setdefault(zone, [0, 0.0, None, False])
        if dev not in self.parking_devices:  # chosen by tag, not by family
            self.parking_devices.add(dev)
            self.zone_spaces[zone] += 1
        prev = self.space.get(dev, False)
        self.space[dev] = occupied
        if occupied == prev:
            return
        z[0] += 1 if occupied else -1
        spaces = self.parking_spaces(zone)
        occ = z[0] / spaces if spaces else 0.0
        if occ > z[1]:
            z[1], z[2] = occ, r.time
        if occ >= self.full_ratio and not z[3]:
            z[3] = True
            self.counts["parking_full"] += 1
            ctx.emit(Event("parking.full", "info", None, r.time,
                           {"zone": zone, "occupied": z[0], "spaces": spaces,
                            "occupancy": round(occ, 3)}))
        elif z[3] and occ < self.full_ratio - 0.05:
            z[3] = False
            ctx.emit(Event("parking.full_cleared", "info", None, r.time,
                           {"zone": zone, "occupied": z[0], "spaces": spaces,
                            "occupancy": round(occ, 3)}))

    def parking_spaces(self, zone):
        """Spaces of a zone: its parking sensors (a space not heard from yet is free)."""
        return self.zone_spaces.get(zone, 0)

    # -- reporting and state ---------------------------------------------------------------

    def flows_of(self, dev):
        """[(interval start ISO, vehicles, people)] of the last intervals of a counter."""
        return [(self.clock.iso(s), v, p) for s, v, p in self.flows.get(dev, ())]

    def summary(self):
        streets = sorted(((s, v) for s, v in self.streets.items() if v[0] > 0),
                         key=lambda kv: (-kv[1][0], kv[0]))[:self.top]
        parking = {}
        for zone, z in sorted(self.zones.items()):
            spaces = self.parking_spaces(zone)
            parking[zone] = {"spaces": spaces, "occupied": z[0],
                             "occupancy": round(z[0] / spaces, 3) if spaces else None,
                             "peak": round(z[1], 3),
                             "peak_at": self.clock.iso(z[2]) if z[2] else None}
        return {
            "counters": len({d for d, _k in self.open}),
            "vehicles": round(sum(v[0] for v in self.streets.values()), 3),
            "people": round(sum(v[1] for v in self.streets.values()), 3),
            "busiest_streets": [
                {"street": s, "vehicles": round(v[0], 3), "people": round(v[1], 3),
                 "peak_per_hour": round(v[2], 1),
                 "peak_at": self.clock.iso(v[3]) if v[3] is not None else None}
                for s, v in streets],
            "congested": sorted(self.congested),
            "parking": parking,
            "counts": dict(sorted(self.counts.items())),
        }

    def snapshot(self):
        return {"version": 1,
                "open": [[d, k, acc] for (d, k), acc in self.open.items()],
                "last_total": [[d, q, v] for (d, q), v in self.last_total.items()],
                "flows": {d: list(f) for d, f in self.flows.items()},
                "streets": self.streets, "congested": self.congested,
                "baseline": self.baseline, "space": self.space, "zones": self.zones,
                "counts": dict(self.counts), "watermark": self.watermark}

    def restore(self, state):
        if not isinstance(state, dict) or state.get("version") != 1:
            return
        self.open = {(d, k): acc for d, k, acc in state["open"]}
        self.last_total = {(d, q): v for d, q, v in state["last_total"]}
        self.flows = {d: deque((list(x) for x in f), maxlen=KEEP_INTERVALS)
                      for d, f in state["flows"].items()}
        self.streets, self.congested = state["streets"], state["congested"]
        self.baseline = {d: {int(k): v for k, v in s.items()}
                         for d, s in state["baseline"].items()}
        self.space, self.zones = state["space"], state["zones"]
        for dev in self.space:
            if dev not in self.parking_devices:
                self.parking_devices.add(dev)
                self.zone_spaces[self.zone[dev]] += 1
        self.counts = Counter(state["counts"])
        self.watermark = state["watermark"]


OPTIONS = (
    *selection_options(["traffic_counter", "people_counter", "parking"],
                       "counters and parking sensors"),
    Option("vehicles", "str", default="vehicle_count", help="quantity of vehicle counts"),
    Option("people", "list", default=["people_in", "people_out"],
           help="quantities of people counts (summed)"),
    Option("occupied", "str", default="occupied", help="quantity of a parking space's state"),
    Option("cumulative_counts", "bool", default=False,
           help="counts are running totals (else each uplink counts since the last one)"),
    Option("interval", "duration", default="15min", min=60, help="flow interval"),
    Option("street_tag", "str", default="street", help="tag naming a counter's street"),
    Option("zone_tag", "str", default="zone", help="tag naming a parking zone"),
    Option("congestion_ratio", "float", default=1.5, min=1,
           help="flow this many times the baseline for the weekday and hour is congestion"),
    Option("min_flow", "float", default=60.0, min=0,
           help="no congestion below this many vehicles per hour"),
    Option("baseline_alpha", "float", default=0.2, min=0.01, max=1,
           help="weight of the newest week in the baseline's moving average"),
    Option("baseline", "path", default=None,
           help="CSV seeding the baseline: device, weekday, hour, vehicles_per_hour"),
    Option("baseline_weight", "int", default=4, min=1,
           help="weeks of history a seeded baseline counts for"),
    Option("full_ratio", "float", default=0.95, min=0.1, max=1,
           help="a parking zone this full is reported full"),
    Option("top", "int", default=10, min=1, help="how many busiest streets to report"),
)


@hromada.hookimpl
def hromada_services():
    return [ServiceType(
        name="traffic",
        factory=Traffic,
        options=OPTIONS,
        help="Traffic and parking: flow per counter, congestion against each counter's "
             "own weekday/hour baseline, parking occupancy per zone, busiest streets.",
        events=EVENTS,
    )]
