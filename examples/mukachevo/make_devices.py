"""Generate the Mukachevo demo's device list (devices.csv) and traffic baseline
(baseline.csv).

    python examples/mukachevo/make_devices.py [--scale 1.0] [--out DIR]

About 10,100 devices of every family over eight districts and forty streets of a city of
some 30 km2 around Mukachevo's centre, with a few devices tagged ``incident=...`` (see
demo_models.py for what each incident does).  The output is the same on every run (a
fixed seed); ``--scale`` shrinks or grows every family (the tests use a small city).
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import math
import random
from pathlib import Path
from types import SimpleNamespace

HERE = Path(__file__).resolve().parent
CENTRE = (48.4393, 22.7178)
KM_LAT = 1 / 111.195                                  # degrees of latitude per km
KM_LON = 1 / (111.195 * math.cos(math.radians(CENTRE[0])))

# name, centre (km east, km north of the city centre), weight (share of the buildings)
DISTRICTS = [
    ("Tsentr", (0.0, 0.0), 3), ("Palanok", (-1.8, -1.3), 2), ("Rosvyhovo", (2.1, 0.9), 2),
    ("Pidhoriany", (-1.6, 1.9), 2), ("Pivnichnyi", (0.4, 2.4), 2),
    ("Pivdennyi", (0.6, -2.2), 2), ("Zakhidnyi", (-2.9, 0.3), 1), ("Promzona", (2.7, -1.6), 1),
]
STREETS = [
    "Myru", "Pushkina", "Yaroslava Mudroho", "Hrushevskoho", "Shevchenka", "Ivana Franka",
    "Lvivska", "Uzhhorodska", "Berehivska", "Kotliarevskoho", "Dukhnovycha", "Zhupanatska",
    "Tolstoho", "Sobranetska", "Lesi Ukrainky", "Pidhirna", "Zamkova", "Kyivska", "Vokzalna",
    "Kooperatyvna", "Fedynetsia", "Tsentralna", "Sadova", "Lisova", "Rakoczi", "Latorytska",
    "Hrabovska", "Chynadiivska", "Svaliavska", "Mukachivska", "Dovzhenka", "Kobylianskoi",
    "Mendeleieva", "Naberezhna", "Parkova", "Promyslova", "Zavodska", "Poliova",
    "Vynohradna", "Karpatska",
]
PARKING_ZONES = ["Ploshcha Myru", "Zamok Palanok", "Vokzal", "Rynok", "Likarnia",
                 "Stadion", "Universytet", "Teatralna"]

# model, family label for names, count, extra CSV options
FAMILIES = [
    ("demo/water-meter", "water", 3400, {}),
    ("demo/pulse-water", "pulse", 200, {"litres_per_pulse": 1.0}),
    ("demo/gas-meter", "gas", 800, {"litres_per_pulse_a": 10.0}),
    ("demo/heat-meter", "heat", 300, {}),
    ("demo/power-meter", "power", 1500, {}),
    ("demo/bin-ultrasonic", "bin", 900, {"bin_depth_mm": 1200}),
    ("demo/bin-dragino", "bin", 300, {"bin_depth_mm": 1000}),
    ("demo/pm-sensor", "air", 80, {}),
    ("demo/air-station", "air", 50, {}),
    ("demo/no2-sensor", "air", 20, {}),
    ("demo/noise-sensor", "noise", 100, {}),
    ("demo/street-light", "lamp", 1600, {}),
    ("demo/parking-space", "parking", 400, {}),
    ("demo/traffic-counter", "counter", 60, {}),
    ("demo/people-counter", "people", 40, {}),
    ("milesight/em300-th", "climate", 300, {}),
    ("cayenne/lpp", "generic", 50, {}),
]
OPTION_COLUMNS = ["bin_depth_mm", "litres_per_pulse", "litres_per_pulse_a", "rated_power_w"]

# How many devices of each incident, and which model carries it.
INCIDENTS = [
    ("leak", "demo/water-meter", 6),
    ("tamper", "demo/water-meter", 2),
    ("overflow", "demo/bin-ultrasonic", 6),
    ("overflow", "demo/bin-dragino", 2),
    ("lamp_failed", "demo/street-light", 3),
    ("pollution", "demo/pm-sensor", 2),     # in Promzona, the industrial district
    ("pollution", "demo/air-station", 2),
    ("jam", "demo/traffic-counter", 2),      # both on Berehivska
]


def load_demo_models():
    spec = importlib.util.spec_from_file_location("demo_models", HERE / "demo_models.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def build_streets(rng):
    """Five streets per district: a straight segment through the district."""
    streets = {}
    names = list(STREETS)
    for i, (district, (cx, cy), _w) in enumerate(DISTRICTS):
        for j in range(5):
            name = names[i * 5 + j]
            angle = rng.uniform(0, math.pi)
            length = rng.uniform(0.8, 1.6)
            ox, oy = cx + rng.uniform(-0.5, 0.5), cy + rng.uniform(-0.5, 0.5)
            dx, dy = math.cos(angle) * length / 2, math.sin(angle) * length / 2
            streets[name] = (district, (ox - dx, oy - dy), (ox + dx, oy + dy))
    return streets


def place(rng, street):
    _district, (x0, y0), (x1, y1) = street
    f = rng.random()
    x = x0 + (x1 - x0) * f + rng.gauss(0, 0.02)
    y = y0 + (y1 - y0) * f + rng.gauss(0, 0.02)
    return round(CENTRE[0] + y * KM_LAT, 6), round(CENTRE[1] + x * KM_LON, 6)


def generate(scale=1.0, seed=20261015):
    rng = random.Random(seed)
    streets = build_streets(rng)
    by_district = {}
    for name, (district, _a, _b) in streets.items():
        by_district.setdefault(district, []).append(name)
    weights = [w for _n, _c, w in DISTRICTS]
    names = [n for n, _c, _w in DISTRICTS]
    main_streets = [s for i, s in enumerate(STREETS) if i % 5 < 3]  # 24 main streets
    rows = []
    serial = 0
    for model, label, count, options in FAMILIES:
        n = max(1, round(count * scale))
        for k in range(n):
            serial += 1
            if model == "demo/street-light":
                street = STREETS[k % len(STREETS)]              # every street is lit
            elif model in ("demo/traffic-counter", "demo/people-counter"):
                street = main_streets[k % len(main_streets)]
            else:
                district = rng.choices(names, weights)[0]
                street = rng.choice(by_district[district])
            district = streets[street][0]
            lat, lon = place(rng, streets[street])
            tags = [f"street={street}"]
            if model == "demo/parking-space":
                tags.append(f"zone={PARKING_ZONES[k % len(PARKING_ZONES)]}")
            if model == "demo/pulse-water":
                tags.append("medium=water")
            row = {"id": f"70b3d5e75e{serial:06x}", "model": model,
                   "name": f"{label}-{k + 1:05d}", "lat": lat, "lon": lon,
                   "district": district, "tags": tags, **options}
            if model == "demo/street-light":
                row["rated_power_w"] = rng.choice((60.0, 80.0, 100.0))
            rows.append(row)
    inject(rng, rows)
    for row in rows:
        row["tags"] = ";".join(row["tags"])
    return rows


def inject(rng, rows):
    taken = set()
    for kind, model, count in INCIDENTS:
        pool = [r for r in rows if r["model"] == model and r["id"] not in taken]
        if kind == "pollution":
            pool = [r for r in pool if r["district"] == "Promzona"] or pool
        elif kind == "jam":
            on = [r for r in pool if "street=Berehivska" in r["tags"]]
            pool = on if len(on) >= count else pool
        for r in rng.sample(pool, min(count, len(pool))):
            r["tags"].append(f"incident={kind}")
            taken.add(r["id"])


def write_devices(rows, path):
    columns = ["id", "model", "name", "lat", "lon", "district", "tags", *OPTION_COLUMNS]
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, columns, lineterminator="\n")
        w.writeheader()
        for r in rows:
            w.writerow({c: r.get(c, "") for c in columns})


def write_baseline(rows, path):
    """The counters' usual flow for every weekday hour: the history a city would have."""
    demo = load_demo_models()
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["device", "weekday", "hour", "vehicles_per_hour"])
        for r in rows:
            if r["model"] != "demo/traffic-counter":
                continue
            dev = SimpleNamespace(id=r["id"])
            for weekday in range(7):
                for hour in range(24):
                    w.writerow([r["id"], weekday, hour,
                                round(demo.baseline_rate(dev, hour), 1)])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--scale", type=float, default=1.0, help="size of the city (1.0: 10,100)")
    p.add_argument("--out", type=Path, default=HERE, help="directory for the CSV files")
    args = p.parse_args(argv)
    rows = generate(args.scale)
    args.out.mkdir(parents=True, exist_ok=True)
    write_devices(rows, args.out / "devices.csv")
    write_baseline(rows, args.out / "baseline.csv")
    print(f"{len(rows)} devices -> {args.out / 'devices.csv'}, baseline -> "
          f"{args.out / 'baseline.csv'}")


if __name__ == "__main__":
    main()
