"""The ``metering`` service: water, gas, heat and electricity meters.

Consumption from cumulative registers (per interval, per day and per month, per meter
and per district), register rollover and meter replacement, night-flow leak detection,
sudden pressure drops, device flags (leak, backflow, tamper, alarm) as events, and a
billing-grade daily export whose rows are hash-chained (``hromada verify`` checks it).
See README.md next to this file for the rules in full.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path

import hromada
from hromada import CliCommand, Event, Option, ServiceType
from hromada import verify as _verify

from .._common import (
    LocalClock,
    family_of,
    num,
    parse_window,
    select_devices,
    selection_options,
    tag_value,
    truthy,
)

MEDIUM = {"water_meter": "water", "gas_meter": "gas", "heat_meter": "heat",
          "electricity_meter": "electricity", "pulse_counter": "pulse"}

EVENTS = (
    "metering.leak", "metering.leak_cleared", "metering.backflow",
    "metering.backflow_cleared", "metering.tamper", "metering.tamper_cleared",
    "metering.alarm", "metering.alarm_cleared", "metering.pressure_drop",
    "metering.pressure_restored", "metering.meter_replaced", "metering.rollover",
    "metering.export",
)

BILLING_COLUMNS = ("date", "device", "district", "medium", "quantity", "unit",
                   "start_time", "start_value", "end_time", "end_value", "consumption",
                   "readings", "flags")
INTERVAL_COLUMNS = ("device", "quantity", "interval_start", "consumption", "unit")

_LIST_CAP = 200  # device lists in the summary are cut here (the count stays exact)

#: Registers are kept in one unit per kind, so that meters of different makes add up.
CANONICAL = {"Wh": ("kWh", 0.001), "MWh": ("kWh", 1000.0), "l": ("m3", 0.001),
             "J": ("MJ", 1e-6), "GJ": ("MJ", 1000.0)}


def _iso(t):
    return dt.datetime.fromtimestamp(t, dt.UTC).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z")


def _fmt(x):
    if isinstance(x, float):
        x = round(x, 6)
        return repr(x + 0.0)  # +0.0 turns -0.0 into 0.0
    return str(x)


def _capped(items):
    items = sorted(items)
    return items[:_LIST_CAP]


class Metering:
    """One metering service instance (see the module docstring)."""

    def __init__(self, name, options, city):
        o = options
        self.name = name
        self.clock = LocalClock(city.tz)
        where = f"services.{name}"
        self.night = parse_window(o["night"], f"{where}.night")
        if not 0 < o["pressure_drop"] < 1:
            raise ValueError(f"{where}.pressure_drop: must be a fraction between 0 and 1")
        self.meta = {}
        for dev in select_devices(city, o["families"], o["tags"]).values():
            fam = family_of(city, dev)
            medium = tag_value(dev, "medium") or MEDIUM.get(fam, fam or "other")
            self.meta[dev.id] = (dev.district or "-", medium)
        self.registers = frozenset(o["registers"])
        self.flow_q = o["flow"]
        self.pressure_q = o["pressure"]
        self.flags = frozenset(o["flags"])
        self.handled = self.registers | self.flags | {self.flow_q, self.pressure_q}
        self.register_max = {k: float(v) for k, v in dict(o["register_max"]).items()}
        self.rollover_window = o["rollover_window"]
        self.tolerance = o["backward_tolerance"]
        self.interval = o["interval"]
        self.leak_nights = o["leak_nights"]
        self.night_min_samples = o["night_min_samples"]
        self.night_zero = o["night_flow_zero"]
        self.leak_media = frozenset(o["leak_media"])
        self.drop = o["pressure_drop"]
        self.close_after = o["close_after"]
        self.export_dir = Path(o["export_dir"]) if o["export_dir"] is not None else None
        self._reset_state()

    def _reset_state(self):
        self.reg = {}        # dev -> {q: [value, time, interval key, interval amount, unit]}
        self.days = {}       # day -> {dev: {q: [t0, v0, t1, v1, consumption, n, unit]}}
        self.day_flags = {}  # day -> {dev: [flags]}
        self.daily = {}      # date -> {district: {medium/q: total}}
        self.monthly = {}    # YYYY-MM -> {district: {medium/q: total}}
        self.profile = {}    # day -> {medium/q: {slot: total}}
        self.closed_through = None
        self.watermark = None
        self.nights = {}     # dev -> [night, min rate, samples, unit]
        self.night_ids = set()  # nights some device still has samples of
        self.streak = {}     # dev -> consecutive nights with flow that never stopped
        self.streak_night = {}  # dev -> the last night counted in its streak
        self.leaking = {}    # dev -> night the leak was found
        self.flag_state = {}  # dev -> {flag: True}
        self.pressure = {}   # dev -> [recent values, level when the drop was seen]
        self.counts = Counter()
        self.exports = []
        self._interval_rows = []  # closed intervals waiting to be appended to the file
        self._starts = {}         # interval key -> (local day, ISO start time)
        self._series = {}         # (dev, quantity) -> "medium/quantity"

    # -- time helpers ------------------------------------------------------------------

    def _night_of(self, local):
        """The local day on which the night window containing local time ``local``
        (seconds, as LocalClock.local gives) ends, or None."""
        start, end = self.night
        sod = local % 86400.0
        day = int(local // 86400.0)
        if start < end:
            return day if start <= sod < end else None
        if sod >= start:
            return day + 1
        return day if sod < end else None

    def _night_end(self, night):
        return self.clock.at(night, self.night[1])

    # -- processing --------------------------------------------------------------------

    def process(self, readings, ctx):
        handled, meta = self.handled, self.meta
        registers, flags = self.registers, self.flags
        wm = self.watermark
        for r in readings:
            q = r.quantity
            if q not in handled or r.device not in meta:
                continue
            if wm is None or r.time > wm:
                wm = r.time
            if q in registers:
                self._register(r, ctx)
            elif q in flags:
                self._flag(r, ctx)
            elif q == self.flow_q:
                self._flow(r, ctx)
            else:
                self._pressure(r, ctx)
        self.watermark = wm
        if wm is not None:
            self._advance(ctx, wm)
        self._flush_intervals()

    def _register(self, r, ctx):
        v = num(r.value)
        if v is None or isinstance(r.value, bool):
            self.counts["bad_values"] += 1
            return
        unit = r.unit
        conv = CANONICAL.get(unit)
        if conv is not None:
            unit, factor = conv
            v *= factor
        dev, q, t = r.device, r.quantity, r.time
        regs = self.reg.setdefault(dev, {})
        st = regs.get(q)
        if st is None:
            regs[q] = [v, t, None, 0.0, unit]
            self._book(dev, q, t, t, v, v, 0.0, unit, self.clock.local(t))
            return
        last_v, last_t = st[0], st[1]
        if t <= last_t:
            self.counts["out_of_order"] += 1
            return
        delta = v - last_v
        if delta < 0:
            if -delta <= self.tolerance:
                # Jitter or a meter that counts a little backflow back: keep the
                # high-water mark so the next forward step is not counted twice.
                delta, v = 0.0, last_v
            else:
                mx = self.register_max.get(q)
                w = self.rollover_window
                if mx is not None and last_v >= mx * (1 - w) and v <= mx * w:
                    delta = v + mx - last_v
                    self.counts["rollovers"] += 1
                    self._emit(ctx, "metering.rollover", "info", dev, t,
                               {"quantity": q, "before": last_v, "after": v,
                                "register_max": mx, "consumption": round(delta, 6)})
                else:
                    # A new meter starts from its own reading: the consumption between
                    # the last reading of the old one and the swap is not known.
                    delta = 0.0
                    self.counts["replacements"] += 1
                    self._emit(ctx, "metering.meter_replaced", "info", dev, t,
                               {"quantity": q, "old_register": last_v,
                                "new_register": v})
        local = self.clock.local(t)
        if self.meta[dev][1] in self.leak_media:
            night = self._night_of(local)
            if night is not None and night == self._night_of(self.clock.local(last_t)):
                self._night_sample(dev, night, delta / (t - last_t) * 3600.0,
                                   f"{unit}/h" if unit else "", ctx)
        self._book(dev, q, last_t, t, last_v, v, delta, unit, local)
        st[0], st[1], st[4] = v, t, unit

    def _book(self, dev, q, t0, t1, v0, v1, delta, unit, local):
        """Count ``delta`` (consumed between t0 and t1; ``local`` is t1 in local
        seconds) in t1's day and interval."""
        day = int(local // 86400.0)
        if self.closed_through is not None and day <= self.closed_through:
            self.counts["late_readings"] += 1
            day = self.closed_through + 1
        recs = self.days.setdefault(day, {}).setdefault(dev, {})
        rec = recs.get(q)
        if rec is None:
            recs[q] = [t0, v0, t1, v1, delta, 1, unit]
        else:
            rec[2], rec[3] = t1, v1
            rec[4] += delta
            rec[5] += 1
        key = self.clock.interval_key(t1, self.interval)
        st = self.reg[dev][q]
        if st[2] != key:
            if st[2] is not None:
                self._close_interval(dev, q, st)
            st[2], st[3] = key, delta
        else:
            st[3] += delta
        if delta:
            name = self._series.get((dev, q))
            if name is None:
                name = self._series[(dev, q)] = f"{self.meta[dev][1]}/{q}"
            series = self.profile.setdefault(day, {}).setdefault(name, {})
            slot = int((local % 86400.0) // self.interval)
            series[slot] = series.get(slot, 0.0) + delta

    def _close_interval(self, dev, q, st):
        if self.export_dir is not None:
            start = self._starts.get(st[2])
            if start is None:
                # Every meter shares the interval starts: build each one's text once.
                start_local = int(st[2]) * self.interval
                utc = self.clock.interval_start(st[2], self.interval)
                start = self._starts[st[2]] = (int(start_local // 86400.0), _iso(utc))
            day = start[0]
            if self.closed_through is not None and day <= self.closed_through:
                # A late reading's interval: its day's file is final, and the billing
                # counts it on the first open day, so its row goes in that day's file.
                day = self.closed_through + 1
            self._interval_rows.append((day, dev, q, start[1], _fmt(st[3]), st[4]))
        st[2] = None

    def _flush_intervals(self):
        rows, self._interval_rows = self._interval_rows, []
        if not rows or self.export_dir is None:
            return
        by_day = {}
        for row in rows:
            by_day.setdefault(row[0], []).append(row[1:])
        self.export_dir.mkdir(parents=True, exist_ok=True)
        for day, day_rows in by_day.items():
            path = self._interval_part(day)
            new = not path.exists()
            with open(path, "a", encoding="utf-8", newline="") as f:
                if new:
                    f.write(",".join(INTERVAL_COLUMNS) + "\n")
                f.writelines(",".join(row) + "\n" for row in day_rows)

    def _interval_part(self, day):
        return self.export_dir / f"{self.name}-intervals-{self.clock.date(day)}.csv.part"

    def _flow(self, r, ctx):
        if self.meta[r.device][1] not in self.leak_media:
            return
        v = num(r.value)
        if v is None:
            self.counts["bad_values"] += 1
            return
        night = self._night_of(self.clock.local(r.time))
        if night is not None:
            self._night_sample(r.device, night, v, r.unit, ctx)

    def _night_sample(self, dev, night, rate, unit, ctx):
        rec = self.nights.get(dev)
        if rec is None or rec[0] != night:
            if rec is not None:  # a batch spanning two nights: the first one is over
                self._evaluate_night(dev, rec, ctx)
            self.nights[dev] = [night, rate, 1, unit]
            self.night_ids.add(night)
        else:
            if rate < rec[1]:
                rec[1] = rate
            rec[2] += 1

    def _pressure(self, r, ctx):
        v = num(r.value)
        if v is None:
            self.counts["bad_values"] += 1
            return
        st = self.pressure.setdefault(r.device, [[], None])
        values, level = st
        if level is not None:
            if v >= level * (1 - self.drop / 2):
                st[0], st[1] = [v], None
                self._emit(ctx, "metering.pressure_restored", "info", r.device, r.time,
                           {"pressure": v, "unit": r.unit, "level": round(level, 4)})
            return
        if len(values) >= 2:
            mean = sum(values) / len(values)
            if v < mean * (1 - self.drop):
                st[1] = mean
                self._emit(ctx, "metering.pressure_drop", "warning", r.device, r.time,
                           {"pressure": v, "unit": r.unit, "level": round(mean, 4),
                            "drop_percent": round(100 * (1 - v / mean), 1)})
                return
        values.append(v)
        if len(values) > 4:
            del values[0]

    def _flag(self, r, ctx):
        dev, flag, value = r.device, r.quantity, r.value
        on = value if value is True or value is False else truthy(value)
        state = self.flag_state.get(dev)
        if state is None:
            if not on:
                return  # the usual case: a flag that was never raised stays down
            state = self.flag_state[dev] = {}
        was = state.get(flag, False)
        if on and not was:
            state[flag] = True
            day = self.clock.day(r.time)
            flags = self.day_flags.setdefault(day, {}).setdefault(dev, [])
            if flag not in flags:
                flags.append(flag)
            self._emit(ctx, f"metering.{flag}", "warning", dev, r.time,
                       {"by": "device", "medium": self.meta[dev][1]})
        elif not on and was:
            state.pop(flag)
            self._emit(ctx, f"metering.{flag}_cleared", "info", dev, r.time,
                       {"by": "device", "medium": self.meta[dev][1]})

    def _emit(self, ctx, kind, severity, device, t, data):
        self.counts[kind] += 1
        ctx.emit(Event(kind, severity, device, t, data))

    # -- closing nights and days ---------------------------------------------------------

    def _advance(self, ctx, wm, stopping=False):
        """Evaluate the nights and close the days that are over by ``wm``, in time order."""
        while True:
            night = min(self.night_ids) if self.night_ids else None
            night_at = self._night_end(night) if night is not None else None
            day = min(self.days) if self.days else None
            day_at = None
            if day is not None:
                # A day closes a little after midnight so that late uplinks of its last
                # minutes still count; when stopping, a day over but for that margin.
                end = self.clock.day_start(day + 1)
                if wm >= end + self.close_after or (stopping and wm >= end - self.close_after):
                    day_at = end + self.close_after
            if night_at is not None and night_at <= wm and (day_at is None or night_at <= day_at):
                self.night_ids.discard(night)
                for dev in sorted(d for d, rec in self.nights.items() if rec[0] == night):
                    self._evaluate_night(dev, self.nights.pop(dev), ctx)
            elif day_at is not None:
                self._close_day(day, ctx)
            else:
                return

    def _evaluate_night(self, dev, rec, ctx):
        night, low, samples, unit = rec
        if samples < self.night_min_samples:
            return
        if low > self.night_zero:
            # "In a row": a night without evidence (no or too few readings) between two
            # leaking nights breaks the run, it does not bridge it.
            last = self.streak_night.get(dev)
            n = self.streak.get(dev, 0) + 1 if last is not None and night == last + 1 else 1
            self.streak[dev], self.streak_night[dev] = n, night
            if n >= self.leak_nights and dev not in self.leaking:
                self.leaking[dev] = night
                self._emit(ctx, "metering.leak", "warning", dev, self._night_end(night),
                           {"by": "night_flow", "medium": self.meta[dev][1], "nights": n,
                            "min_night_flow": round(low, 6), "unit": unit,
                            "night": str(self.clock.date(night))})
        else:
            self.streak.pop(dev, None)
            self.streak_night.pop(dev, None)
            if self.leaking.pop(dev, None) is not None:
                self._emit(ctx, "metering.leak_cleared", "info", dev,
                           self._night_end(night),
                           {"by": "night_flow", "medium": self.meta[dev][1],
                            "night": str(self.clock.date(night))})

    def _close_day(self, day, ctx):
        recs = self.days.pop(day)
        flags = self.day_flags.pop(day, {})
        date = str(self.clock.date(day))
        month = date[:7]
        daily = self.daily.setdefault(date, {})
        monthly = self.monthly.setdefault(month, {})
        rows = []
        for dev in sorted(recs):
            district, medium = self.meta.get(dev, ("-", "other"))
            dflags = ";".join(sorted(flags.get(dev, ())))
            for q in sorted(recs[dev]):
                t0, v0, t1, v1, used, n, unit = recs[dev][q]
                key = f"{medium}/{q}"
                for table in (daily, monthly):
                    d = table.setdefault(district, {})
                    d[key] = d.get(key, 0.0) + used
                rows.append((date, dev, district, medium, q, unit, _iso(t0), _fmt(v0),
                             _iso(t1), _fmt(v1), _fmt(used), n, dflags))
            # An interval still open belongs to this day: it is complete now.
            for q, st in self.reg.get(dev, {}).items():
                if st[2] is not None and int(st[2]) * self.interval // 86400 <= day:
                    self._close_interval(dev, q, st)
        for table in (daily, monthly):
            for totals in table.values():
                for k, v in totals.items():
                    totals[k] = round(v, 6)
        self.closed_through = day if self.closed_through is None else max(
            self.closed_through, day)
        for old in [d for d in self.profile if d < day]:
            del self.profile[old]
        self._starts = {k: v for k, v in self._starts.items() if v[0] > day}
        if self.export_dir is not None:
            self._flush_intervals()
            part = self._interval_part(day)
            if part.exists():
                part.replace(part.with_suffix(""))
            path = self.export_dir / f"{self.name}-billing-{date}.csv"
            head = _verify.write_chained_csv(path, BILLING_COLUMNS, rows)
            export = {"date": date, "file": str(path), "rows": len(rows), "head": head}
            self.exports.append(export)
            self._emit(ctx, "metering.export", "info", None,
                       self.clock.day_start(day + 1), export)

    def stop(self, ctx):
        if self.watermark is not None:
            self._advance(ctx, self.watermark, stopping=True)
        self._flush_intervals()

    # -- reporting and state -----------------------------------------------------------------

    def consumption(self, device, quantity, date):
        """Consumption of one meter on a local date (``YYYY-MM-DD``) while the day is
        open; None when the meter has no reading that day."""
        for day, recs in self.days.items():
            if str(self.clock.date(day)) == date:
                rec = recs.get(device, {}).get(quantity)
                return None if rec is None else round(rec[4], 6)
        return None

    def summary(self):
        totals = Counter()
        for table in self.daily.values():
            for d in table.values():
                totals.update(d)
        open_days = {}
        for day, recs in sorted(self.days.items()):
            per = open_days.setdefault(str(self.clock.date(day)), {})
            for dev, qs in recs.items():
                district, medium = self.meta.get(dev, ("-", "other"))
                d = per.setdefault(district, {})
                for q, rec in qs.items():
                    key = f"{medium}/{q}"
                    d[key] = round(d.get(key, 0.0) + rec[4], 6)
                    totals[key] += rec[4]
        profile = {}
        if self.profile:
            day = max(self.profile)
            slots = int(86400 // self.interval)
            profile = {"date": str(self.clock.date(day)), "interval_s": self.interval,
                       "series": {k: [round(v.get(i, 0.0), 6) for i in range(slots)]
                                  for k, v in sorted(self.profile[day].items())}}
        raised = {}
        for dev, flags in self.flag_state.items():
            for flag in flags:
                raised.setdefault(flag, []).append(dev)
        return {
            "meters": len(self.meta),
            "consumption": {k: round(v, 6) for k, v in sorted(totals.items())},
            "daily": self.daily,
            "open_days": open_days,
            "monthly": self.monthly,
            "profile": profile,
            "leaks": _capped(set(self.leaking) | set(raised.get("leak", ()))),
            "flags": {k: _capped(v) for k, v in sorted(raised.items())},
            "pressure_drops": _capped(d for d, st in self.pressure.items()
                                      if st[1] is not None),
            "exports": self.exports,
            "counts": dict(sorted(self.counts.items())),
        }

    def snapshot(self):
        return {
            "version": 1,
            "reg": self.reg, "days": self.days, "day_flags": self.day_flags,
            "daily": self.daily, "monthly": self.monthly,
            "profile": {d: {k: list(v.items()) for k, v in p.items()}
                        for d, p in self.profile.items()},
            "closed_through": self.closed_through, "watermark": self.watermark,
            "nights": self.nights, "streak": self.streak,
            "streak_night": self.streak_night, "leaking": self.leaking,
            "flag_state": self.flag_state, "pressure": self.pressure,
            "counts": dict(self.counts), "exports": self.exports,
        }

    def restore(self, state):
        if not isinstance(state, dict) or state.get("version") != 1:
            return
        self._reset_state()
        self.reg = state["reg"]
        self.days = state["days"]
        self.day_flags = state["day_flags"]
        self.daily, self.monthly = state["daily"], state["monthly"]
        self.profile = {d: {k: dict(v) for k, v in p.items()}
                        for d, p in state["profile"].items()}
        self.closed_through, self.watermark = state["closed_through"], state["watermark"]
        self.nights, self.streak = state["nights"], state["streak"]
        self.streak_night = state.get("streak_night", {})
        self.night_ids = {rec[0] for rec in self.nights.values()}
        self.leaking, self.flag_state = state["leaking"], state["flag_state"]
        self.pressure = state["pressure"]
        self.counts = Counter(state["counts"])
        self.exports = state["exports"]


OPTIONS = (
    *selection_options(MEDIUM, "meters"),
    Option("registers", "list", default=["volume", "energy"],
           help="cumulative register quantities (m3, kWh ...) to turn into consumption"),
    Option("flow", "str", default="flow", help="quantity of the flow rate, if measured"),
    Option("pressure", "str", default="pressure", help="quantity of the network pressure"),
    Option("flags", "list", default=["leak", "backflow", "tamper", "alarm"],
           help="boolean quantities reported as events metering.<flag> when they turn true"),
    Option("interval", "duration", default="1h", min=60,
           help="length of a consumption interval (local time)"),
    Option("night", "str", default="02:00-05:00",
           help="the night window (city local time) in which a tight network sees no flow"),
    Option("leak_nights", "int", default=3, min=1,
           help="nights in a row with flow that never stops before a leak is reported"),
    Option("night_min_samples", "int", default=3, min=1,
           help="readings a night needs before it counts as evidence either way"),
    Option("night_flow_zero", "float", default=0.0, min=0,
           help="a night flow (or register rate per hour) at or below this counts as no flow"),
    Option("leak_media", "list", default=["water"],
           help="media checked for night flow (gas and heat often flow at night)"),
    Option("pressure_drop", "float", default=0.3,
           help="a reading this fraction below the recent mean is a sudden pressure drop"),
    Option("register_max", "table", default={"volume": 100000.0, "energy": 1000000.0},
           help="where each register rolls over to zero (quantity -> value, in m3, kWh "
                "or MJ: Wh, MWh, l, J and GJ readings are converted to those)"),
    Option("rollover_window", "float", default=0.1, min=0, max=0.5,
           help="a backwards step is a rollover only from the top this fraction of the "
                "register to the bottom this fraction; otherwise it is a meter replacement"),
    Option("backward_tolerance", "float", default=0.01, min=0,
           help="backwards steps up to this size are jitter, not a replacement"),
    Option("close_after", "duration", default="15min",
           help="a day is closed (exported) this long after midnight"),
    Option("export_dir", "path", default=None, output=True,
           help="directory for the daily billing export (hash-chained CSV) and the "
                "interval consumption files; none: no files"),
)


@hromada.hookimpl
def hromada_services():
    return [ServiceType(
        name="metering",
        factory=Metering,
        options=OPTIONS,
        help="Water, gas, heat and electricity meters: consumption per interval, day and "
             "month; leaks, pressure drops, tamper and backflow; hash-chained billing export.",
        events=EVENTS,
    )]


@hromada.hookimpl
def hromada_commands():
    return [CliCommand("verify", "check a hash-chained CSV (billing export): exit 0 if "
                       "intact, 1 naming the first bad line", _verify.configure,
                       _verify.run)]
