"""Mukachevo demo plugin: device models with simulated days and injected incidents, and
a sink that scores the incidents the city services found.

Loaded by the demo city through ``[plugins] modules = ["demo_models.py"]``.

Every ``demo/*`` model wraps a real first-party device model: its payloads are encoded
and decoded by the vendor codec (Axioma, Adeunis, Elvaco, Milesight, Dragino, Decentlab,
Bosch, NAS), so every simulated byte takes the real decode path.  Only ``simulate`` is the
demo's own: smooth, repeatable days for a city in Europe/Kyiv, plus the incidents a
device's tags ask for:

=====================  ===================================================================
``incident=leak``      a water meter whose register never stops at night (15-25 l/h)
``incident=tamper``    a water meter reporting the manipulation alarm from 14:00
``incident=overflow``  a bin filling fast: about 75 % by the evening, over 80 % by midnight
``incident=lamp_failed``  a street light switched on after dusk that draws no power
``incident=pollution``  an air sensor in a pollution episode, 10:00-14:00 (PM "poor")
``incident=jam``       a traffic counter with three times its usual flow, 17:00-19:00
=====================  ===================================================================

Families without a first-party model (gas meters use the Adeunis pulse counter with a
gas family; traffic counters and NO2 sensors speak Cayenne LPP) get a small wrapper that
renames the codec's quantities.  The street light wraps the NAS UL2030 luminaire
controller (``nas/ul2030``) with its own downlink encoder: the lighting service's
``{"dim": N}`` goes out as the UL2030's manual dimming command, fport 60 ``01 FE LL``
(DALI broadcast, LL the level in %).  Like a UL2030 set to report both, a lamp sends a
status packet (fport 23: relay, dimming level, derived ``lamp_on``) and a usage packet
(fport 26: power, energy, voltage, power factor, lamp-on time) in turn, one each half
hour; the lighting service judges each power reading by the on-state of the status
packet before it.

The ``incident-score`` sink reads every event the city's services emit and compares
them with the incidents the device list injects; ``hromada_shutdown`` adds the result
to the run summary as ``incidents`` (and the headline figures as ``demo``).
"""

from __future__ import annotations

import importlib
import math
import shutil
import zlib
from pathlib import Path

import hromada
from hromada import DeviceModel, Option, SinkType, sun

TZ = "Europe/Kyiv"
CENTRE = (48.4393, 22.7178)
_REF = 1767225600.0  # 2026-01-01T00:00Z: registers grow from here

# -- helpers ---------------------------------------------------------------------------

_offsets = {}


def local_hours(t):
    """(local day number, hour of day as a float) in Europe/Kyiv."""
    slot = int(t // 900)
    off = _offsets.get(slot)
    if off is None:
        import datetime as dt
        import zoneinfo

        off = dt.datetime.fromtimestamp(slot * 900, zoneinfo.ZoneInfo(TZ)).utcoffset()
        off = _offsets[slot] = off.total_seconds()
    local = t + off
    return int(local // 86400), (local % 86400) / 3600.0


def incident(device):
    for tag in device.tags:
        if tag.startswith("incident="):
            return tag[9:]
    return None


_params = {}


def unit(device, k):
    """A repeatable number in [0, 1) for (device, k): a device's own character."""
    key = (device.id, k)
    v = _params.get(key)
    if v is None:
        v = _params[key] = zlib.crc32(f"{device.id}/{k}".encode()) / 4294967296.0
    return v


def cumulative(profile, day, hour):
    """Days of use so far: ``day`` whole days plus the share of ``profile`` (24 hourly
    weights) used by ``hour``."""
    whole = int(hour)
    total = sum(profile)
    done = sum(profile[:whole]) + profile[whole] * (hour - whole) if whole < 24 else total
    return day + done / total


# Households: nothing between midnight and five, peaks in the morning and the evening.
WATER = [0, 0, 0, 0, 0, 0.5, 3, 6, 5, 3, 2, 2, 2.5, 2, 1.5, 1.5, 2, 3, 4, 5, 4.5, 3, 2, 0.5]
GAS = [0.3, 0.2, 0.2, 0.2, 0.3, 0.6, 2, 3, 2, 1, 0.8, 0.8, 1.2, 0.8, 0.6, 0.6, 0.8, 1.5,
       3, 3, 2, 1.2, 0.8, 0.5]
POWER = [0.4, 0.3, 0.3, 0.3, 0.3, 0.5, 1.2, 1.8, 1.4, 1, 0.9, 0.9, 1, 0.9, 0.9, 1, 1.3, 2,
         2.8, 3, 2.7, 2, 1.2, 0.7]
HEAT = [0.8, 0.8, 0.8, 0.9, 1, 1.3, 1.6, 1.5, 1.2, 1, 0.9, 0.8, 0.8, 0.8, 0.8, 0.9, 1, 1.2,
        1.4, 1.4, 1.3, 1.1, 1, 0.9]


def traffic_profile(hour):
    """Share of a street's peak flow by hour: rush hours at 8:00 and 17:30.  Smooth
    enough that a quarter hour is within 20 % of its hour's mean (the baseline)."""
    return (0.2 + 0.9 * math.exp(-((hour - 8.0) ** 2) / 12.0)
            + 0.4 * math.exp(-((hour - 13.0) ** 2) / 16.0)
            + 0.9 * math.exp(-((hour - 17.5) ** 2) / 12.0))


def rush(hour):
    return math.exp(-((hour - 8) ** 2) / 4) + math.exp(-((hour - 18) ** 2) / 4)


_dark = {}


def dark(t):
    """Is the sun down over the city (per minute, the lamps' own photocell)."""
    key = int(t // 60)
    v = _dark.get(key)
    if v is None:
        v = _dark[key] = sun.is_dark(key * 60.0, *CENTRE)
    return v


# -- wrapping the real models -------------------------------------------------------------


def real_model(plugin, model_id):
    mod = importlib.import_module(f"hromada_plugins.devices.{plugin}")
    for m in mod.hromada_device_models():
        if m.id == model_id:
            return m
    raise LookupError(f"device model {model_id} not found in plugin {plugin}")


def wrap(real, demo_id, family, simulate, *, rename=None, options=(), description="",
         downlink=None, quantities=None):
    """A demo model: ``real``'s codec, the demo's ``simulate``, quantities renamed."""
    rename = rename or {}
    real_decode, real_encode = real.decode, real.encode

    if rename:
        back = {v: k for k, v in rename.items()}

        def decode(payload, fport, opts):
            return [(rename.get(q, q), v, u) for q, v, u in real_decode(payload, fport, opts)]

        def encode(values, opts):
            return real_encode({back.get(q, q): v for q, v in values.items()}, opts)
    else:
        decode, encode = real_decode, real_encode
    qs = quantities or {rename.get(q, q): u for q, u in real.quantities.items()}
    return DeviceModel(id=demo_id, family=family, decode=decode, encode=encode,
                       encode_downlink=downlink, simulate=simulate, quantities=qs,
                       options=tuple(real.options) + tuple(options),
                       description=description or f"demo: {real.id} with a simulated day")


# -- simulated days -----------------------------------------------------------------------


def sim_water(device, t, rng):
    day, hour = local_hours(t)
    daily = 120 + 260 * unit(device, "daily")                      # litres a day
    litres = 50_000 + 2_000_000 * unit(device, "start") + daily * cumulative(WATER, day, hour)
    alarm = "none"
    kind = incident(device)
    if kind == "leak":
        litres += (15 + 10 * unit(device, "leak")) * (t - _REF) / 3600.0
    elif kind == "tamper" and hour >= 14:
        alarm = "tamper"
    return {"meter_time": int(t), "volume": int(litres) / 1000.0, "low_battery": False,
            "permanent_error": False, "alarm": alarm}


def sim_pulse_water(device, t, rng):
    v = sim_water(device, t, rng)
    litres_per_pulse = device.options.get("litres_per_pulse") or 1.0
    return {"battery": 90, "temperature": 12.0, "humidity": 60.0,
            "pulse_count": int(v["volume"] * 1000 / litres_per_pulse)}


def sim_gas(device, t, rng):
    day, hour = local_hours(t)
    daily = 1_000 + 3_000 * unit(device, "daily")
    litres = 1_000_000 * unit(device, "start") + daily * cumulative(GAS, day, hour)
    per_pulse = device.options.get("litres_per_pulse_a") or 10.0
    return {"low_battery": False, "hardware_error": False,
            "pulse_count_a": int(litres / per_pulse), "pulse_count_b": 0}


def sim_heat(device, t, rng):
    day, hour = local_hours(t)
    daily = 40 + 80 * unit(device, "daily")                        # kWh a day
    kwh = 20_000 * unit(device, "start") + daily * cumulative(HEAT, day, hour)
    power = daily / 24 * HEAT[int(hour)] / (sum(HEAT) / 24)
    return {"energy": int(kwh), "volume": round(kwh * 0.02, 2), "power": round(power, 1),
            "flow": round(power / 35.0, 3), "supply_temperature": 68.0,
            "return_temperature": 44.0, "error_flags": 0}


def sim_power(device, t, rng):
    day, hour = local_hours(t)
    daily = 4_000 + 12_000 * unit(device, "daily")                 # Wh a day
    wh = 3_000_000 * unit(device, "start") + daily * cumulative(POWER, day, hour)
    watts = daily / 24 * POWER[int(hour)] / (sum(POWER) / 24)
    return {"voltage": 230.0, "power": int(watts), "power_factor": 92, "energy": int(wh),
            "current": round(watts / 230.0, 3), "relay_on": True}


def sim_bin(device, t, rng):
    day, hour = local_hours(t)
    depth = device.options.get("bin_depth_mm") or 1200
    if incident(device) == "overflow":
        fill = 30.0 + 2.2 * hour                  # 74 % at 20:00, 82.8 % at midnight
    else:
        # Ordinary bins: 0.3-1.2 % an hour, emptied when they reach 60 %.
        rate = 0.3 + 0.9 * unit(device, "rate")
        fill = 5.0 + ((day * 24 + hour) * rate + 55 * unit(device, "phase")) % 55.0
    values = {"battery": 90, "distance": int(depth * (1 - fill / 100.0)), "tilt": False}
    if device.model == "demo/bin-dragino":
        values = {"battery": 3.3, "distance": values["distance"], "interrupt": False,
                  "temperature": round(12.0 + 4 * math.sin((hour - 9) / 24 * 2 * math.pi), 1),
                  "sensor_connected": True}
    return values


def sim_pm(device, t, rng, real=None):
    _day, hour = local_hours(t)
    pm25 = 5.0 + 6.0 * rush(hour) + 2.0 * unit(device, "site") + rng.random()
    if incident(device) == "pollution" and 10 <= hour < 14:
        pm25 = 70.0 + 10.0 * math.sin((hour - 10) / 4 * math.pi) + rng.random()
    values = dict(real(device, t, rng))
    values.update({"pm1": round(pm25 * 0.8, 1), "pm2_5": round(pm25, 1),
                   "pm4": round(pm25 * 1.1, 1), "pm10": round(pm25 * 1.7, 1)})
    return values


def sim_station(device, t, rng, real=None):
    _day, hour = local_hours(t)
    values = dict(real(device, t, rng))
    pm25 = 5.0 + 6.0 * rush(hour) + 2.0 * unit(device, "site") + rng.random()
    if incident(device) == "pollution" and 10 <= hour < 14:
        pm25 = 70.0 + 10.0 * math.sin((hour - 10) / 4 * math.pi) + rng.random()
    sunny = max(0.0, math.sin((hour - 7) / 12 * math.pi))
    values.update({"pm2_5": int(pm25), "pm10": int(pm25 * 1.7),
                   "o3": round(0.02 + 0.02 * sunny, 2)})
    return values


def sim_no2(device, t, rng):
    _day, hour = local_hours(t)
    return {"analog_input_1": round(10.0 + 28.0 * rush(hour) + 4 * rng.random(), 2)}


def sim_noise(device, t, rng):
    _day, hour = local_hours(t)
    base = 55.0 if 7 <= hour < 19 else 52.0 if 19 <= hour < 23 else 44.0
    laeq = base + 2 * unit(device, "street") + rng.uniform(-1.5, 1.5)
    return {"battery": 97, "noise_level": round(laeq - 1, 1), "laeq": round(laeq, 1),
            "lamax": round(laeq + 9 + rng.uniform(0, 6), 1)}


def sim_light(device, t, rng):
    """A UL2030 on the demo's day: on from dusk to dawn (the sun over the city), 30 %
    from 23:00 to 05:00 (the controller's own calendar), a status packet in even quarter
    hours and a usage packet in odd ones."""
    _day, hour = local_hours(t)
    on = dark(t)
    level = (30 if hour >= 23 or hour < 5 else 100) if on else 0
    if int(t // 900) % 2 == 0:
        # The MCU runs a few degrees above the air, warmer while the driver is on.
        temp = 9 + 5 * math.sin((hour - 9) / 24 * 2 * math.pi) + (6 if on else 0)
        return {"relay_on": on, "dimming_level": level, "lamp_on": on,
                "temperature": int(round(temp))}
    rated = device.options.get("rated_power_w") or 80.0
    power = int(rated * level / 100 + rng.uniform(-1, 1)) if on else 0
    if incident(device) == "lamp_failed":
        power = 0
    hours_on = (t - _REF) / 3600.0 * 12.5 / 24
    return {"energy": int(hours_on * rated * 0.75) / 1000,          # kWh, to the Wh
            "power": power, "power_factor": 0.95 if power else 0.0,
            "voltage": int(round(229 + rng.uniform(-2, 2))),
            "lamp_on_time": int(hours_on * 3600)}


def sim_parking(device, t, rng):
    _day, hour = local_hours(t)
    busy = 0.7 if 9 <= hour < 19 else 0.3
    slot = int(t // 1800)
    return {"occupied": unit(device, slot) < busy}


def sim_counter(device, t, rng):
    _day, hour = local_hours(t)
    peak = 200 + 700 * unit(device, "peak")                        # vehicles an hour
    rate = peak * traffic_profile(hour)
    if incident(device) == "jam" and 17 <= hour < 19:
        rate *= 3
    return {"generic_sensor_1": int(round(rate / 4 * (1 + 0.08 * (2 * rng.random() - 1))))}


def baseline_rate(device, hour):
    """The counter's usual vehicles per hour in one hour of a weekday (its history)."""
    peak = 200 + 700 * unit(device, "peak")
    return peak * sum(traffic_profile(hour + i / 60) for i in range(60)) / 60


# -- the models ---------------------------------------------------------------------------


def build():
    axioma = real_model("axioma", "axioma/qalcosonic-w1")
    em300di = real_model("milesight", "milesight/em300-di")
    adeunis = real_model("adeunis", "adeunis/pulse")
    elvaco = real_model("elvaco", "elvaco/cmi4110")
    ws523 = real_model("milesight", "milesight/ws523")
    em310 = real_model("milesight", "milesight/em310-udl")
    ldds75 = real_model("dragino", "dragino/ldds75")
    dlpm = real_model("decentlab", "decentlab/dl-pm")
    am319 = real_model("milesight", "milesight/am319")
    ws302 = real_model("milesight", "milesight/ws302")
    ul2030 = real_model("nas", "nas/ul2030")
    tps110 = real_model("bosch", "bosch/tps110")
    vs133 = real_model("milesight", "milesight/vs133")
    lpp = real_model("cayenne", "cayenne/lpp")
    return [
        wrap(axioma, "demo/water-meter", "water_meter", sim_water),
        wrap(em300di, "demo/pulse-water", "pulse_counter", sim_pulse_water),
        wrap(adeunis, "demo/gas-meter", "gas_meter", sim_gas,
             rename={"volume_a": "volume"}),
        wrap(elvaco, "demo/heat-meter", "heat_meter", sim_heat),
        wrap(ws523, "demo/power-meter", "electricity_meter", sim_power),
        wrap(em310, "demo/bin-ultrasonic", "waste_bin", sim_bin),
        wrap(ldds75, "demo/bin-dragino", "waste_bin", sim_bin),
        wrap(dlpm, "demo/pm-sensor", "air_quality",
             lambda d, t, rng: sim_pm(d, t, rng, dlpm.simulate)),
        wrap(am319, "demo/air-station", "air_quality",
             lambda d, t, rng: sim_station(d, t, rng, am319.simulate)),
        wrap(lpp, "demo/no2-sensor", "air_quality", sim_no2,
             rename={"analog_input_1": "no2"}, quantities={"no2": "ug/m3"}),
        wrap(ws302, "demo/noise-sensor", "noise", sim_noise),
        wrap(ul2030, "demo/street-light", "street_light", sim_light,
             downlink=ul2030.encode_downlink,
             options=(Option("rated_power_w", "float", default=80.0, min=0,
                             help="lamp power at full level"),)),
        wrap(tps110, "demo/parking-space", "parking", sim_parking),
        wrap(lpp, "demo/traffic-counter", "traffic_counter", sim_counter,
             rename={"generic_sensor_1": "vehicle_count"},
             quantities={"vehicle_count": "count"}),
        wrap(vs133, "demo/people-counter", "people_counter", vs133.simulate),
    ]


@hromada.hookimpl
def hromada_device_models():
    return build()


# -- scoring the incidents -----------------------------------------------------------------

#: incident -> the event kinds that find it (``plan``: on the waste collection list)
FOUND_BY = {
    "leak": ("metering.leak",),
    "tamper": ("metering.tamper",),
    "overflow": ("waste.full", "plan"),
    "lamp_failed": ("lighting.lamp_failed",),
    "pollution": ("environment.air_quality",),
    "jam": ("traffic.congestion",),
}
ALARMS = ("warning", "critical")
_RESULTS = {}


class IncidentScore:
    """A sink that keeps the alarms the city's services raise and scores them."""

    def __init__(self, name, options, city):
        self.city = city
        self.injected = {}
        for dev in city.devices.values():
            kind = incident(dev)
            if kind is not None:
                self.injected.setdefault(kind, set()).add(dev.id)
        self.services = set(city.services)
        self.alarms = set()
        self.plan = None
        if options["reset_state"]:
            # Every run simulates the same day: start from clean service state.  (Sinks
            # are built before services restore their state.)
            state = Path(city.state_dir)
            if state.is_dir():
                shutil.rmtree(state)

    def open(self):
        pass

    def write(self, readings, events):
        for e in events:
            if e.source not in self.services:
                continue
            if e.kind == "waste.collection_plan":
                self.plan = e.data
            elif e.severity in ALARMS:
                self.alarms.add((e.kind, e.device))

    def close(self):
        found = set(self.alarms)
        if self.plan is not None:
            found |= {("plan", b["bin"]) for b in self.plan["bins"]}
        expected = {}
        for kind, devices in self.injected.items():
            for dev in devices:
                expected.setdefault(dev, set()).update(FOUND_BY.get(kind, ()))
        detected, missed = {}, []
        for kind, devices in sorted(self.injected.items()):
            detected[kind] = 0
            for dev in sorted(devices):
                if any((k, dev) in found for k in FOUND_BY.get(kind, ())):
                    detected[kind] += 1
                else:
                    missed.append({"incident": kind, "device": dev})
        false_alarms = [{"event": k, "device": d} for k, d in sorted(found, key=str)
                        if k not in expected.get(d, ())]
        _RESULTS[id(self.city)] = {
            "injected": {k: len(v) for k, v in sorted(self.injected.items())},
            "detected": detected,
            "missed": missed,
            "false_alarms": false_alarms,
            "all_found": not missed and not false_alarms,
        }


@hromada.hookimpl
def hromada_sinks():
    return [SinkType("incident-score", IncidentScore,
                     (Option("reset_state", "bool", default=True,
                             help="remove the services' saved state before the run"),),
                     help="Demo: scores the incidents the services found against the "
                          "incidents the device list injects.")]


def _first(services, plugin_name, city):
    for name, comp in city.services.items():
        if comp.plugin == plugin_name and name in services:
            return services[name]
    return {}


@hromada.hookimpl
def hromada_shutdown(city, summary):
    result = _RESULTS.pop(id(city), None)
    if result is None:
        return
    # The summary dict is the one `hromada run --summary-json` writes.
    summary["incidents"] = result
    services = summary.get("services", {})
    waste = _first(services, "waste", city)
    lighting = _first(services, "lighting", city)
    env = _first(services, "environment", city)
    traffic = _first(services, "traffic", city)
    metering = _first(services, "metering", city)
    summary["demo"] = {
        "bins_to_collect": waste.get("to_collect"),
        "route_km": waste.get("route_km"),
        "lighting_saved_kwh": lighting.get("saved_kwh"),
        "lighting_saved_percent": lighting.get("saved_percent"),
        "aqi_by_district": {d: {"index": a["index"], "level": a["level"],
                                "worst_hour": a["worst_hour"]["level"]}
                            for d, a in env.get("aqi_by_district", {}).items()},
        "busiest_streets": [(s["street"], s["vehicles"])
                            for s in traffic.get("busiest_streets", [])[:5]],
        "billing_exports": [e["file"] for e in metering.get("exports", [])],
    }
