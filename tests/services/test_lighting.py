"""The lighting service: dimming plans, downlink commands, energy, failed lamps."""

import datetime as dt

import pytest
from service_helpers import Ctx, R, city, device, roundtrip, service, ts

from hromada import sun

KYIV = "Europe/Kyiv"
LAT, LON = 48.4393, 22.7178
# NOAA sun times in Mukachevo on 2026-06-01: sunrise 05:32:07, sunset 21:22:23 (UTC+3).
SUNSET = sun.sun_times(dt.date(2026, 6, 1), LAT, LON).sunset

L1 = device("l1", "street_light", tags=("street=Myru",), district="Tsentr")
L2 = device("l2", "street_light", tags=("street=Myru",), district="Tsentr")
L3 = device("l3", "street_light", district="Palanok")
C1 = device("c1", "traffic_counter", tags=("street=Myru",))
C2 = device("c2", "traffic_counter", tags=("street=Elsewhere",))


def kyiv_city(*devs):
    return city(*devs, tz=KYIV, lat=LAT, lon=LON)


def at(hhmm, day="2026-06-01"):
    return ts(f"{day}T{hhmm}", KYIV)


def test_sun_decides_first_then_quiet_hours_then_activity():
    svc = service("lighting", kyiv_city(L1, L3, C1))
    assert SUNSET == pytest.approx(at("21:22:23.386"), abs=0.01)
    assert not svc.is_dark(at("21:22")) and svc.is_dark(at("21:23"))
    assert svc.is_dark(at("05:31")) and not svc.is_dark(at("05:33"))
    assert svc.decide("Myru", at("12:00"), 500) == 0
    assert svc.decide("Myru", at("22:00"), 0) == 100         # evening: full
    assert svc.decide("Myru", at("23:30"), 0) == 30          # quiet hours, unsensed
    svc.sensed.add("Myru")
    assert svc.decide("Myru", at("23:30"), 29.9) == 30
    assert svc.decide("Myru", at("23:30"), 30) == 100        # busy
    assert svc.decide("Palanok", at("04:59"), 100) == 30     # no sensor: dimmed anyway
    assert svc.decide("Palanok", at("05:00"), 0) == 100      # quiet hours over, still dark


def test_plan_sends_dim_commands_per_segment_when_the_level_changes():
    svc = service("lighting", kyiv_city(L1, L2, L3, C1, C2))
    assert svc.members == {"Myru": ["l1", "l2"], "Palanok": ["l3"]}
    ctx = Ctx()
    rs = []
    t = at("21:01")
    while t < at("00:01", "2026-06-02"):
        busy = t < at("23:30")
        rs.append(R("c1", t, "vehicle_count", 20 if busy else 2, "count"))
        rs.append(R("c2", t + 1, "vehicle_count", 500, "count"))   # no lamps there
        t += 900
    svc.process(rs, ctx)
    got = [(c.device, c.action["dim"], c.time) for c in ctx.commands]
    assert got == [
        ("l1", 0, at("21:15")), ("l2", 0, at("21:15")), ("l3", 0, at("21:15")),
        ("l1", 100, at("21:30")), ("l2", 100, at("21:30")), ("l3", 100, at("21:30")),
        ("l3", 30, at("23:00")),                         # Palanok has no sensor
        ("l1", 30, at("23:45")), ("l2", 30, at("23:45")),  # 2 per 15 min = 8/h
    ]
    assert [(e.time, dict(e.data["levels"])) for e in ctx.of("lighting.dimming")] == [
        (at("21:15"), {"Myru": 0, "Palanok": 0}), (at("21:30"), {"Myru": 100, "Palanok": 100}),
        (at("23:00"), {"Palanok": 30}), (at("23:45"), {"Myru": 30})]
    s = svc.summary()
    assert s["levels"] == {"Myru": 30, "Palanok": 30}
    assert s["counts"]["commands"] == 9 and s["sensed_segments"] == 1


def test_energy_against_always_on():
    svc = service("lighting", kyiv_city(L1, L2), rated_power_w=100.0)
    ctx = Ctx()
    t0 = at("23:00")                                   # dark all along
    svc.process([R("l1", t0 + 900 * i, "power", p, "W")
                 for i, p in enumerate([100, 100, 50, 50, 50])], ctx)
    # trapezoids of 15 min: 25 + 18.75 + 12.5 + 12.5 Wh; always on: 100 W for 1 h
    assert svc.used_wh == pytest.approx(68.75)
    assert svc.always_on_wh == pytest.approx(100.0)
    # across sunset only the dark part counts for always-on
    svc.process([R("l2", at("21:15"), "power", 0, "W"),
                 R("l2", at("21:30"), "power", 100, "W")], ctx)
    assert svc.used_wh == pytest.approx(68.75 + 12.5)
    assert svc.always_on_wh == pytest.approx(100.0 + 100 * (at("21:30") - SUNSET) / 3600)
    s = svc.summary()
    assert s["energy_kwh"] == 0.081 and s["always_on_kwh"] == 0.113
    # 112.684 Wh always on, 81.25 Wh used
    assert s["saved_kwh"] == 0.031 and s["saved_percent"] == 27.9
    # readings too far apart are not integrated
    svc.process([R("l2", at("23:59"), "power", 100, "W")], ctx)
    assert svc.used_wh == pytest.approx(68.75 + 12.5)
    assert svc.dark_seconds(at("12:00"), at("12:00", "2026-06-02")) == pytest.approx(
        sun.sun_times(dt.date(2026, 6, 2), LAT, LON).sunrise - SUNSET)


def test_a_lamp_without_power_while_on_is_failed():
    rated = device("l9", "street_light", tags=("street=Myru",), rated_power_w=60.0)
    svc = service("lighting", kyiv_city(L1, L2, rated))
    assert svc.rated == {"l1": 100.0, "l2": 100.0, "l9": 60.0}
    ctx = Ctx()
    rs = []
    for i, (on, power) in enumerate([(True, 80), (True, 0.5), (True, 0), (True, 0),
                                     (False, 0), (True, 75)]):
        t = at("22:00") + 900 * i
        rs += [R("l1", t, "power", power, "W"), R("l1", t, "lamp_on", on, "bool")]
        rs += [R("l2", t, "dimming_level", 50, "%"), R("l2", t, "power", 40, "W")]
    svc.process(rs, ctx)
    assert [(e.kind, e.device, e.time) for e in ctx.events if e.kind != "lighting.dimming"] == [
        ("lighting.lamp_failed", "l1", at("22:15") + 900),
        ("lighting.lamp_recovered", "l1", at("22:00") + 900 * 5)]
    failed = ctx.of("lighting.lamp_failed")[0]
    assert dict(failed.data) == {"power_w": 0, "segment": "Myru", "readings": 2}
    assert svc.summary()["failed"] == []


def test_state_survives_a_restart():
    rs = []
    t = at("21:01")
    while t < at("01:01", "2026-06-02"):
        rs.append(R("c1", t, "vehicle_count", 20 if t < at("23:30") else 1, "count"))
        rs.append(R("l1", t + 5, "power", 100 if t < at("23:45") else 30, "W"))
        t += 900
    one = service("lighting", kyiv_city(L1, L2, L3, C1))
    ctx1 = Ctx()
    one.process(rs, ctx1)
    a = service("lighting", kyiv_city(L1, L2, L3, C1))
    ctx2 = Ctx()
    a.process(rs[:20], ctx2)
    b = service("lighting", kyiv_city(L1, L2, L3, C1))
    b.restore(roundtrip(a.snapshot()))
    b.process(rs[20:], ctx2)
    assert [(c.device, c.action, c.time) for c in ctx1.commands] == [
        (c.device, c.action, c.time) for c in ctx2.commands]
    assert b.summary() == one.summary()


def test_the_city_needs_coordinates_for_the_sun():
    lamp = device("l1", "street_light")
    with pytest.raises(ValueError, match="sun times need the city's lat and lon"):
        service("lighting", city(lamp, lat=None, lon=None))
    placed = device("l1", "street_light", lat=50.0, lon=30.0)
    assert service("lighting", city(placed, lat=None, lon=None)).lat == 50.0


def test_a_lamp_whose_state_and_power_come_in_separate_frames_is_judged():
    """NAS UL20xx style: the on-state (status frame) and the power (usage frame) come in
    different frames, even different batches; a lamp on without power is still found."""
    svc = service("lighting", kyiv_city(L1, L2))
    ctx = Ctx()
    for i, (on, power) in enumerate([(True, 80), (True, 0), (True, 0), (True, 70)]):
        t = at("22:00") + 900 * i
        svc.process([R("l1", t, "lamp_on", on, "bool")], ctx)         # status frame
        svc.process([R("l1", t + 40, "power", power, "W")], ctx)      # usage frame, later
    kinds = [(e.kind, e.time) for e in ctx.events if e.kind != "lighting.dimming"]
    assert kinds == [("lighting.lamp_failed", at("22:00") + 1800 + 40),
                     ("lighting.lamp_recovered", at("22:00") + 2700 + 40)]
