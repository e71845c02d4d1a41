"""The services in real city runs: the Mukachevo demo at a small scale, through the
simulator, the real device codecs, the kernel and SQLite."""

import csv
import importlib.util
import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from hromada.city import load_city
from hromada.cli import main
from hromada.runtime import run_city
from hromada_plugins.devices.nas import codec as nas_codec

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "examples" / "mukachevo"


def load(name):
    spec = importlib.util.spec_from_file_location(f"mukachevo_{name}", DEMO / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def make_city(path, scale=0.02, start="2026-10-15T00:00:00", span="1d", reset=True):
    gen = load("make_devices")
    rows = gen.generate(scale)
    gen.write_devices(rows, path / "devices.csv")
    gen.write_baseline(rows, path / "baseline.csv")
    shutil.copy(DEMO / "demo_models.py", path / "demo_models.py")
    text = (DEMO / "city.toml").read_text()
    text = text.replace('start = "2026-10-15T00:00:00"', f'start = "{start}"')
    text = text.replace('span = "1d"', f'span = "{span}"')
    text = text.replace("reset_state = true", f"reset_state = {str(reset).lower()}")
    text += '\n[sinks.db]\nplugin = "sqlite"\npath = "city.db"\n'
    (path / "city.toml").write_text(text)
    return rows


def incidents(rows):
    out = {}
    for r in rows:
        for tag in r["tags"].split(";"):
            if tag.startswith("incident="):
                out.setdefault(tag[9:], set()).add(r["id"])
    return out


def events(db, kind):
    with sqlite3.connect(db) as conn:
        return conn.execute("select device, data from events where kind = ? order by time",
                            (kind,)).fetchall()


@pytest.fixture(scope="module")
def day(tmp_path_factory):
    path = tmp_path_factory.mktemp("mukachevo")
    rows = make_city(path)
    summary = run_city(load_city(path / "city.toml"))
    return path, rows, summary


def test_every_incident_is_found_and_nothing_else(day):
    path, rows, s = day
    injected = incidents(rows)
    assert set(injected) == {"leak", "tamper", "overflow", "lamp_failed", "pollution", "jam"}
    assert s["errors"] == 0 and s["errors_by_kind"] == {}
    assert s["frames"] == len(rows) * 96
    inc = s["incidents"]
    assert inc["injected"] == {k: len(v) for k, v in sorted(injected.items())}
    assert inc["detected"] == inc["injected"]
    assert inc["missed"] == [] and inc["false_alarms"] == [] and inc["all_found"] is True
    assert set(s["demo"]) >= {"bins_to_collect", "route_km", "lighting_saved_kwh",
                              "aqi_by_district", "busiest_streets"}


def test_metering_in_a_city(day):
    path, rows, s = day
    injected = incidents(rows)
    db = path / "city.db"
    assert {d for d, _ in events(db, "metering.leak")} == injected["leak"]
    assert {d for d, _ in events(db, "metering.tamper")} == injected["tamper"]
    m = s["services"]["metering"]
    meters = [r for r in rows if r["model"] in ("demo/water-meter", "demo/pulse-water",
                                                 "demo/gas-meter", "demo/heat-meter",
                                                 "demo/power-meter")]
    assert m["meters"] == len(meters)
    [export] = m["exports"]
    billing = Path(export["file"])
    assert billing == path / "out" / "billing" / "metering-billing-2026-10-15.csv"
    with open(billing, newline="") as f:
        bill = list(csv.DictReader(f))
    # every meter has a row per register; heat meters have two (energy and volume)
    heat = sum(1 for r in meters if r["model"] == "demo/heat-meter")
    assert len(bill) == export["rows"] == len(meters) + heat
    # the district totals are the sums of the billing rows
    totals = {}
    for b in bill:
        key = f"{b['medium']}/{b['quantity']}"
        d = totals.setdefault(b["district"], {})
        d[key] = d.get(key, 0.0) + float(b["consumption"])
    daily = m["daily"]["2026-10-15"]
    assert daily.keys() == totals.keys()
    for district, t in totals.items():
        assert daily[district] == pytest.approx(t, abs=1e-5)
    assert {b["flags"] for b in bill if b["device"] in injected["tamper"]} == {"tamper"}
    # the intervals of a day add up to the day
    with open(path / "out" / "billing" / "metering-intervals-2026-10-15.csv", newline="") as f:
        sums = {}
        for r in csv.DictReader(f):
            k = (r["device"], r["quantity"])
            sums[k] = sums.get(k, 0.0) + float(r["consumption"])
    for b in bill:
        assert sums[(b["device"], b["quantity"])] == pytest.approx(float(b["consumption"]),
                                                                   abs=1e-5)


def test_hromada_verify_finds_an_edited_billing_row(day, tmp_path, capsys):
    path, _rows, s = day
    copy = tmp_path / "bill.csv"
    shutil.copy(s["services"]["metering"]["exports"][0]["file"], copy)
    assert main(["verify", str(copy)]) == 0
    lines = copy.read_text().split("\n")
    cells = lines[7].split(",")
    cells[10] = str(float(cells[10]) - 1.0)         # a consumption made smaller
    lines[7] = ",".join(cells)
    copy.write_text("\n".join(lines))
    capsys.readouterr()
    assert main(["verify", str(copy)]) == 1
    assert capsys.readouterr().err == (f"{copy}: line 8: hash does not match the row's "
                                       "content: the row was edited\n")


def test_waste_in_a_city(day):
    path, rows, s = day
    injected = incidents(rows)
    w = s["services"]["waste"]
    assert set(w["collect"]) == set(w["route"]) == injected["overflow"]
    assert w["to_collect"] == len(injected["overflow"])
    assert w["route_km"] > 0 and w["collection"] == "2026-10-16T06:00:00+03:00"
    plans = events(path / "city.db", "waste.collection_plan")
    assert len(plans) == 2   # at 20:00, and when the run stops
    assert {b["bin"] for b in json.loads(plans[0][1])["bins"]} == injected["overflow"]


def test_lighting_in_a_city(day):
    path, rows, s = day
    injected = incidents(rows)
    db = path / "city.db"
    assert {d for d, _ in events(db, "lighting.lamp_failed")} == injected["lamp_failed"]
    light = s["services"]["lighting"]
    lamps = [r["id"] for r in rows if r["model"] == "demo/street-light"]
    assert light["lamps"] == len(lamps) and light["failed"] == sorted(injected["lamp_failed"])
    assert 0 < light["energy_kwh"] < light["always_on_kwh"]
    assert light["saved_percent"] > 10
    # the commands went through the light's own downlink encoder, nas/ul2030's (no
    # source can send in a simulated city, so the kernel journals them; the summary's
    # `commands` counts only what a source sent)
    unsent = events(db, "command.unsent")
    assert {d for d, _ in unsent} == set(lamps)
    payloads = {json.loads(data)["payload"] for _d, data in unsent}
    assert payloads == {"01fe00", "01fe64", "01fe1e"}    # off, 100 %, 30 %
    assert {(json.loads(data)["fport"]) for _d, data in unsent} == {60}
    assert s["commands"] == 0 and len(unsent) == light["counts"]["commands"]
    # each is the UL2030's documented manual dimming command, fPort 60 "01 FE LL" (DALI
    # broadcast, level LL in %), with the level the plan gave the lamp's street then;
    # the controller echoes it on that port and nas/ul2030 reads the echo as that level
    ul2030 = {m.id: m for m in nas_codec.build_models()}["nas/ul2030"]
    street = {r["id"]: r["tags"].split(";")[0].removeprefix("street=") for r in rows
              if r["model"] == "demo/street-light"}
    with sqlite3.connect(db) as conn:
        plans = {t: json.loads(data)["levels"] for t, data in conn.execute(
            "select time, data from events where kind = 'lighting.dimming'")}
        sent = conn.execute("select device, time, data from events "
                            "where kind = 'command.unsent'").fetchall()
    assert len(sent) == len(unsent)
    for device, t, data in sent:
        cmd = json.loads(data)
        level = plans[t][street[device]]
        payload = bytes.fromhex(cmd["payload"])
        assert (cmd["fport"], payload) == (60, bytes([0x01, 0xFE, level]))
        assert ul2030.decode(payload, 60, {}) == [("dimming_level", level, "%")]


def test_environment_and_traffic_in_a_city(day):
    path, rows, s = day
    injected = incidents(rows)
    db = path / "city.db"
    assert {d for d, _ in events(db, "environment.air_quality")} == injected["pollution"]
    env = s["services"]["environment"]
    districts = {r["district"] for r in rows if r["model"] in (
        "demo/pm-sensor", "demo/air-station", "demo/no2-sensor")}
    assert set(env["aqi_by_district"]) == districts
    assert env["noise_alerts"] == [] and env["loudest"]
    assert {d for d, _ in events(db, "traffic.congestion")} == injected["jam"]
    t = s["services"]["traffic"]
    vehicles = [x["vehicles"] for x in t["busiest_streets"]]
    assert vehicles == sorted(vehicles, reverse=True) and vehicles[0] > 0
    assert t["parking"] and all(0 <= z["occupancy"] <= 1 for z in t["parking"].values())


def test_two_half_days_with_state_equal_one_day(tmp_path):
    """Services keep their state across a restart: the billing export of a day run in
    two halves, stopped and restarted, is the same file as that of one run."""
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    make_city(one, scale=0.01)
    run_city(load_city(one / "city.toml"))
    make_city(two, scale=0.01, span="12h")
    first = run_city(load_city(two / "city.toml"))
    assert first["services"]["metering"]["exports"] == []
    make_city(two, scale=0.01, start="2026-10-15T12:00:00", span="12h", reset=False)
    second = run_city(load_city(two / "city.toml"))
    name = "out/billing/metering-billing-2026-10-15.csv"
    assert (two / name).read_text() == (one / name).read_text()
    # each incident is found in one half or the other (a leak at night, a tamper alarm
    # in the afternoon), never twice, and nothing else raises an alarm
    missed = [{json.dumps(m) for m in run["incidents"]["missed"]} for run in (first, second)]
    assert missed[0] and missed[1] and not missed[0] & missed[1]
    assert first["incidents"]["false_alarms"] == second["incidents"]["false_alarms"] == []
