"""The ``environment`` service: the European Air Quality Index and environmental noise.

Air: hourly means per sensor and pollutant (PM2.5, PM10, NO2, O3), banded into the
European Air Quality Index of the European Environment Agency (six levels, the revised
band limits of the 2024 ETC HE report in use since 2025, one-hour reference time); the
index of a sensor or district is the worst of its pollutants.  District values are the
mean of the district's sensors.  Daily means are the mean of the hourly means.

Noise: from LAeq readings, the hourly equivalent level and, per day, Lday, Levening,
Lnight and Lden as the EU Environmental Noise Directive defines them (annex I: energy
mean with 5 dB added in the evening and 10 dB at night).

Threshold alerts are events.  See README.md next to this file.
"""

from __future__ import annotations

import bisect
import datetime as dt
import math
from collections import Counter

import hromada
from hromada import Event, Option, ServiceType

from .._common import (
    LocalClock,
    in_window,
    num,
    parse_window,
    select_devices,
    selection_options,
)

EVENTS = ("environment.air_quality", "environment.air_quality_cleared",
          "environment.noise", "environment.noise_cleared")

#: Upper limits (ug/m3, one-hour means) of the first five EAQI bands; above the last
#: is "extremely poor".  A value on a limit belongs to the lower band.
EAQI_LIMITS = {
    "pm2_5": (5.0, 15.0, 50.0, 90.0, 140.0),
    "pm10": (15.0, 45.0, 120.0, 195.0, 270.0),
    "no2": (10.0, 25.0, 60.0, 100.0, 150.0),
    "o3": (60.0, 100.0, 120.0, 160.0, 180.0),
}
LEVELS = ("good", "fair", "moderate", "poor", "very poor", "extremely poor")

#: Gas mixing ratios -> ug/m3 at 20 Cel and 1013.25 hPa (molar volume 24.055 l), the
#: reference conditions of EU air quality reporting: ug/m3 = ppb * M / 24.055.
MOLAR_MASS = {"no2": 46.0055, "o3": 47.9982}
MOLAR_VOLUME = 24.055


def to_ugm3(pollutant, value, unit):
    """A concentration in ug/m3, or None when the unit cannot be converted."""
    if unit in ("ug/m3", ""):
        return value
    if unit == "mg/m3":
        return value * 1000.0
    mass = MOLAR_MASS.get(pollutant)
    if mass is None:
        return None
    if unit == "ppb":
        return value * mass / MOLAR_VOLUME
    if unit == "ppm":
        return value * 1000.0 * mass / MOLAR_VOLUME
    return None


def eaqi_level(pollutant, value):
    """EAQI level 1 (good) .. 6 (extremely poor) of a one-hour mean concentration."""
    return bisect.bisect_left(EAQI_LIMITS[pollutant], value) + 1


def index_of(means):
    """(level, dominant pollutant) of {pollutant: mean}; (None, None) when empty."""
    best = (None, None)
    for p in sorted(means):
        level = eaqi_level(p, means[p])
        if best[0] is None or level > best[0]:
            best = (level, p)
    return best


def energy_mean(levels_db):
    """Energy (logarithmic) mean of sound levels in dB."""
    return 10.0 * math.log10(sum(10.0 ** (x / 10.0) for x in levels_db) / len(levels_db))


def lden(lday, levening, lnight, day_hours=12, evening_hours=4, night_hours=8,
         evening_penalty=5.0, night_penalty=10.0):
    """Day-evening-night level (EU END annex I) from the three period levels."""
    total = day_hours + evening_hours + night_hours
    return 10.0 * math.log10((day_hours * 10 ** (lday / 10)
                              + evening_hours * 10 ** ((levening + evening_penalty) / 10)
                              + night_hours * 10 ** ((lnight + night_penalty) / 10)) / total)


def _hours(window):
    start, end = window
    return ((end - start) % 86400) / 3600.0


class Environment:
    def __init__(self, name, options, city):
        o = options
        self.name = name
        where = f"services.{name}"
        self.clock = LocalClock(city.tz)
        pol = dict(o["pollutants"])
        bad = sorted(set(pol) - set(EAQI_LIMITS))
        if bad:
            raise ValueError(f"{where}.pollutants: unknown EAQI pollutant(s) {bad}; "
                             f"known: {sorted(EAQI_LIMITS)}")
        self.pollutant_of = {q: p for p, q in pol.items()}  # quantity -> pollutant
        self.laeq_q = o["laeq"]
        self.periods = {k: parse_window(o[k], f"{where}.{k}")
                        for k in ("day", "evening", "night")}
        for sod in range(0, 86400, 300):
            if sum(in_window(sod, w) for w in self.periods.values()) != 1:
                raise ValueError(f"{where}: day, evening and night must cover the 24 hours "
                                 "exactly once")
        self.period_hours = {k: _hours(w) for k, w in self.periods.items()}
        self.sensors = select_devices(city, o["families"], o["tags"])
        self.district = {d.id: d.district or "-" for d in self.sensors.values()}
        self.alert_level = o["alert_level"]
        self.laeq_limit, self.lden_limit = o["laeq_limit"], o["lden_limit"]
        self.lnight_limit = o["lnight_limit"]
        self.evening_penalty, self.night_penalty = o["evening_penalty"], o["night_penalty"]
        self.handled = frozenset(self.pollutant_of) | {self.laeq_q}
        self.open = {}        # sensor -> {pollutant or "laeq": [hour, sum, n]}
        self.hourly = {}      # sensor -> {hour: {pollutant: mean}}   (recent hours)
        self.district_hours = {}  # district -> {hour: {pollutant: [sum, n]}}
        self.alerted = {}     # sensor -> {pollutant or "laeq": level}
        self.noise_open = {}  # sensor -> [day, {period: [energy sum, n]}]
        self.noise_days = {}  # sensor -> {date: {Lday, Levening, Lnight, Lden}}
        self.counts = Counter()
        self.watermark = None

    # -- readings ------------------------------------------------------------------------

    def process(self, readings, ctx):
        sensors, handled = self.sensors, self.handled
        wm = self.watermark
        for r in readings:
            if r.quantity not in handled or r.device not in sensors:
                continue
            v = num(r.value)
            if v is None or isinstance(r.value, bool):
                continue
            if wm is None or r.time > wm:
                wm = r.time
            key = self.pollutant_of.get(r.quantity, "laeq")
            hour = self.clock.interval_key(r.time, 3600)
            if key != "laeq" and r.unit != "ug/m3":
                v = to_ugm3(key, v, r.unit)
                if v is None:
                    self.counts["unknown_unit"] += 1
                    continue
            if key == "laeq":
                self._noise_day(r.device, r.time, v, ctx)
                v = 10.0 ** (v / 10.0)  # hourly LAeq is an energy mean
            acc = self.open.setdefault(r.device, {}).get(key)
            if acc is None:
                self.open[r.device][key] = [hour, v, 1]
            elif acc[0] == hour:
                acc[1] += v
                acc[2] += 1
            elif hour > acc[0]:
                self._close_hour(r.device, key, acc, ctx)
                acc[0], acc[1], acc[2] = hour, v, 1
            else:
                self.counts["late"] += 1
        self.watermark = wm

    def _hour_time(self, hour):
        """POSIX time at the end of local hour ``hour``."""
        return self.clock.interval_start(hour, 3600) + 3600

    def _close_hour(self, sensor, key, acc, ctx):
        hour, total, n = acc
        mean = total / n
        t = self._hour_time(hour)
        if key == "laeq":
            level_db = 10.0 * math.log10(mean)
            self._alert(ctx, sensor, "laeq", level_db > self.laeq_limit, t,
                        "environment.noise",
                        {"metric": "LAeq,1h", "value": round(level_db, 1),
                         "limit": self.laeq_limit, "unit": "dBA"})
            return
        hours = self.hourly.setdefault(sensor, {})
        hours.setdefault(hour, {})[key] = mean
        for old in [h for h in hours if h < hour - 47]:
            del hours[old]
        dh = self.district_hours.setdefault(self.district[sensor], {}).setdefault(hour, {})
        s = dh.setdefault(key, [0.0, 0])
        s[0] += mean
        s[1] += 1
        level = eaqi_level(key, mean)
        self._alert(ctx, sensor, key, level >= self.alert_level, t,
                    "environment.air_quality",
                    {"pollutant": key, "mean": round(mean, 2), "unit": "ug/m3",
                     "level": level, "band": LEVELS[level - 1],
                     "hour": self.clock.iso(t - 3600)},
                    severity="critical" if level >= 5 else "warning")

    def _alert(self, ctx, sensor, key, over, t, kind, data, severity="warning"):
        alerted = self.alerted.setdefault(sensor, {})
        if over and key not in alerted:
            alerted[key] = True
            self.counts[kind] += 1
            ctx.emit(Event(kind, severity, sensor, t, data))
        elif not over and key in alerted:
            del alerted[key]
            ctx.emit(Event(f"{kind}_cleared", "info", sensor, t, data))

    def _noise_day(self, sensor, t, laeq, ctx):
        day = self.clock.day(t)
        rec = self.noise_open.get(sensor)
        if rec is None or rec[0] != day:
            if rec is not None:
                if day < rec[0]:
                    return
                self._close_noise_day(sensor, rec, ctx)
            rec = self.noise_open[sensor] = [day, {}]
        sod = self.clock.seconds_of_day(t)
        for period, window in self.periods.items():
            if in_window(sod, window):
                acc = rec[1].setdefault(period, [0.0, 0])
                acc[0] += 10.0 ** (laeq / 10.0)
                acc[1] += 1
                break

    def _close_noise_day(self, sensor, rec, ctx):
        day, periods = rec
        if len(periods) != 3:
            self.counts["noise_days_incomplete"] += 1
            return
        lv = {k: 10.0 * math.log10(s / n) for k, (s, n) in periods.items()}
        ph = self.period_hours
        value = lden(lv["day"], lv["evening"], lv["night"], ph["day"], ph["evening"],
                     ph["night"], self.evening_penalty, self.night_penalty)
        date = str(self.clock.date(day))
        result = {"Lday": round(lv["day"], 1), "Levening": round(lv["evening"], 1),
                  "Lnight": round(lv["night"], 1), "Lden": round(value, 1)}
        days = self.noise_days.setdefault(sensor, {})
        days[date] = result
        for old in sorted(days)[:-2]:
            del days[old]
        t = self.clock.day_start(day + 1)
        for metric, limit in (("Lden", self.lden_limit), ("Lnight", self.lnight_limit)):
            if result[metric] > limit:
                self.counts["environment.noise"] += 1
                ctx.emit(Event("environment.noise", "warning", sensor, t,
                               {"metric": metric, "value": result[metric], "limit": limit,
                                "unit": "dBA", "date": date}))

    def stop(self, ctx):
        """Close the hours and days that are over (within 15 minutes) at the end of a run."""
        if self.watermark is None:
            return
        wm = self.watermark + 900
        for sensor in sorted(self.open):
            for key, acc in list(self.open[sensor].items()):
                if self._hour_time(acc[0]) <= wm:
                    self._close_hour(sensor, key, acc, ctx)
                    del self.open[sensor][key]
        for sensor in sorted(self.noise_open):
            rec = self.noise_open[sensor]
            if self.clock.day_start(rec[0] + 1) <= wm:
                self._close_noise_day(sensor, rec, ctx)
                del self.noise_open[sensor]

    # -- queries and reporting -------------------------------------------------------------

    def hourly_means(self, sensor, date):
        """{local hour 0-23: {pollutant: mean}} of one sensor on a local date (the second
        pass of the hour repeated when summer time ends is hour + 0.5)."""
        day = self._date_day(date)
        return {h - day * 24: dict(v) for h, v in sorted(self.hourly.get(sensor, {}).items())
                if h // 24 == day}

    def daily_means(self, sensor, date):
        """{pollutant: mean of the hourly means} of one sensor on a local date."""
        sums = {}
        for means in self.hourly_means(sensor, date).values():
            for p, m in means.items():
                s = sums.setdefault(p, [0.0, 0])
                s[0] += m
                s[1] += 1
        return {p: s / n for p, (s, n) in sums.items()}

    @staticmethod
    def _date_day(date):
        return (dt.date.fromisoformat(date) - dt.date(1970, 1, 1)).days

    def district_aqi(self):
        """Per district, for its latest day: the daily index, the worst hour, means."""
        out = {}
        for district, hours in sorted(self.district_hours.items()):
            if not hours:
                continue
            day = int(max(hours) // 24)
            daily, worst = {}, None
            for h in sorted(hours):
                if h // 24 != day:
                    continue
                means = {p: s / n for p, (s, n) in hours[h].items()}
                level, dominant = index_of(means)
                if worst is None or level > worst[0]:
                    worst = (level, dominant, h)
                for p, m in means.items():
                    d = daily.setdefault(p, [0.0, 0])
                    d[0] += m
                    d[1] += 1
            daily_means = {p: s / n for p, (s, n) in daily.items()}
            level, dominant = index_of(daily_means)
            out[district] = {
                "date": str(self.clock.date(day)),
                "index": level, "level": LEVELS[level - 1], "pollutant": dominant,
                "daily_means": {p: round(m, 2) for p, m in sorted(daily_means.items())},
                "worst_hour": {"hour": f"{int(worst[2]) % 24:02d}:00", "index": worst[0],
                               "level": LEVELS[worst[0] - 1], "pollutant": worst[1]},
            }
        return out

    def summary(self):
        latest = {}
        for sensor, days in self.noise_days.items():
            if days:
                latest[sensor] = days[max(days)]
        loudest = sorted(latest.items(), key=lambda kv: (-kv[1]["Lden"], kv[0]))[:10]
        by_district = {}
        for sensor, res in latest.items():
            by_district.setdefault(self.district[sensor], []).append(res["Lden"])
        return {
            "sensors": len(self.sensors),
            "aqi_by_district": self.district_aqi(),
            "air_alerts": sorted(s for s, a in self.alerted.items()
                                 if any(k != "laeq" for k in a)),
            "noise_alerts": sorted(s for s, a in self.alerted.items() if "laeq" in a),
            "noise_lden_by_district": {d: round(energy_mean(v), 1)
                                       for d, v in sorted(by_district.items())},
            "loudest": [{"sensor": s, **res} for s, res in loudest],
            "counts": dict(sorted(self.counts.items())),
        }

    def snapshot(self):
        return {"version": 1, "open": self.open, "hourly": self.hourly,
                "district_hours": self.district_hours, "alerted": self.alerted,
                "noise_open": self.noise_open, "noise_days": self.noise_days,
                "counts": dict(self.counts), "watermark": self.watermark}

    def restore(self, state):
        if not isinstance(state, dict) or state.get("version") != 1:
            return
        for key in ("open", "hourly", "district_hours", "alerted", "noise_open",
                    "noise_days", "watermark"):
            setattr(self, key, state[key])
        self.counts = Counter(state["counts"])


OPTIONS = (
    *selection_options(["air_quality", "noise"], "air-quality and noise sensors"),
    Option("pollutants", "table",
           default={"pm2_5": "pm2_5", "pm10": "pm10", "no2": "no2", "o3": "o3"},
           help="EAQI pollutant -> the quantity that carries it (ug/m3; mg/m3, and ppm "
                "or ppb for NO2 and O3, are converted)"),
    Option("laeq", "str", default="laeq", help="quantity of the A-weighted Leq (dBA)"),
    Option("alert_level", "int", default=4, min=2, max=6,
           help="EAQI level (4 = poor) of an hourly mean that raises an alert"),
    Option("laeq_limit", "float", default=70.0, help="hourly LAeq (dBA) alert limit"),
    Option("lden_limit", "float", default=55.0, help="daily Lden (dBA) alert limit"),
    Option("lnight_limit", "float", default=50.0, help="Lnight (dBA) alert limit"),
    Option("day", "str", default="07:00-19:00", help="the day period (END default)"),
    Option("evening", "str", default="19:00-23:00", help="the evening period"),
    Option("night", "str", default="23:00-07:00", help="the night period"),
    Option("evening_penalty", "float", default=5.0, help="dB added to the evening"),
    Option("night_penalty", "float", default=10.0, help="dB added to the night"),
)


@hromada.hookimpl
def hromada_services():
    return [ServiceType(
        name="environment",
        factory=Environment,
        options=OPTIONS,
        help="Air quality (European Air Quality Index per sensor and district, hourly and "
             "daily means) and noise (LAeq, Lden, Lnight) with threshold alerts.",
        events=EVENTS,
    )]
