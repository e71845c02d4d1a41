"""The traffic service: flows, congestion against the baseline, parking, busiest streets."""

import pytest
from service_helpers import Ctx, R, city, device, roundtrip, service, ts

KYIV = "Europe/Kyiv"
MON = "2026-03-02"  # a Monday
C1 = device("c1", "traffic_counter", tags=("street=Myru",))
C2 = device("c2", "traffic_counter", tags=("street=Myru",))
C3 = device("c3", "traffic_counter", tags=("street=Pushkina",), district="Palanok")
P1 = device("pc1", "people_counter", tags=("street=Pushkina",))
SPACES = [device(f"p{i}", "parking", tags=("zone=Ploshcha",)) for i in range(1, 5)]
TAGGED = device("x1", "generic", tags=("parking", "zone=Ploshcha"))


def at(hhmm, day=MON):
    return ts(f"{day}T{hhmm}", KYIV)


def seed(tmp_path, rows):
    path = tmp_path / "baseline.csv"
    path.write_text("device,weekday,hour,vehicles_per_hour\n"
                    + "".join(f"{d},{w},{h},{v}\n" for d, w, h, v in rows))
    return str(path)


def test_flow_per_counter_per_interval():
    svc = service("traffic", city(C1, P1, tz=KYIV))
    ctx = Ctx()
    svc.process([R("c1", at("08:01"), "vehicle_count", 10, "count"),
                 R("c1", at("08:06"), "vehicle_count", 15, "count"),
                 R("pc1", at("08:07"), "people_in", 4, "count"),
                 R("pc1", at("08:07"), "people_out", 3, "count"),
                 R("c1", at("08:16"), "vehicle_count", 20, "count"),
                 R("pc1", at("08:22"), "people_in", 1, "count")], ctx)
    assert svc.flows_of("c1") == [("2026-03-02T08:00:00+02:00", 25.0, None)]
    assert svc.flows_of("pc1") == [("2026-03-02T08:00:00+02:00", None, 7.0)]
    s = svc.summary()
    assert s["vehicles"] == 45 and s["people"] == 8
    assert s["busiest_streets"] == [
        {"street": "Myru", "vehicles": 45.0, "people": 0.0, "peak_per_hour": 100.0,
         "peak_at": "2026-03-02T08:00:00+02:00"}]
    assert ctx.events == []   # no baseline yet: nothing to compare with


def test_congestion_against_the_counters_own_weekday_hour_baseline(tmp_path):
    svc = service("traffic", city(C1, C3, tz=KYIV),
                  baseline=seed(tmp_path, [("C1", "mon", 8, 200), ("c3", 0, 3, 10)]))
    ctx = Ctx()
    svc.process([R("c1", at("08:05"), "vehicle_count", 50),      # 200/h: as usual
                 R("c1", at("08:20"), "vehicle_count", 80),      # 320/h: 1.6 x baseline
                 R("c1", at("08:35"), "vehicle_count", 40),      # 160/h
                 R("c1", at("08:50"), "vehicle_count", 10),
                 R("c3", at("03:05"), "vehicle_count", 10),      # 40/h: 4 x, but quiet
                 R("c3", at("03:20"), "vehicle_count", 1)], ctx)
    assert [(e.kind, e.device, e.time) for e in ctx.events] == [
        ("traffic.congestion", "c1", at("08:30")),
        ("traffic.congestion_cleared", "c1", at("08:45"))]
    assert dict(ctx.events[0].data) == {
        "street": "Myru", "vehicles_per_hour": 320.0, "baseline": 200.0, "ratio": 1.6,
        "interval_start": "2026-03-02T08:15:00+02:00"}
    # seeded as 4 weeks: the moving average takes a fifth of each new interval
    # 200 -> 200 -> 224 -> 211.2
    assert svc.baseline["c1"][8] == [pytest.approx(211.2), 7]
    assert ctx.events[1].data["baseline"] == 224.0
    assert svc.summary()["congested"] == []


def test_a_new_counter_learns_its_baseline_first(tmp_path):
    svc = service("traffic", city(C1, tz=KYIV))
    ctx = Ctx()
    rs = []
    for week in range(3):
        for q in range(4):
            n = 50 if week < 2 else 100
            rs.append(R("c1", at("08:05") + week * 7 * 86400 + q * 900, "vehicle_count", n))
    rs.append(R("c1", at("09:05") + 14 * 86400, "vehicle_count", 1))
    svc.process(rs, ctx)
    # week 1 learns (mean of 4 intervals), week 2 as usual, week 3 doubled; the moving
    # average then follows: 200 -> 240 -> 272, and 400/h is no longer 1.5 times that
    assert [(e.kind, e.time) for e in ctx.events] == [
        ("traffic.congestion", at("08:15") + 14 * 86400),
        ("traffic.congestion_cleared", at("08:45") + 14 * 86400)]
    assert ctx.events[0].data["ratio"] == 2.0
    assert ctx.events[1].data["baseline"] == 272.0


def test_cumulative_counts():
    svc = service("traffic", city(C1, tz=KYIV), cumulative_counts=True)
    svc.process([R("c1", at("08:01"), "vehicle_count", 1000),
                 R("c1", at("08:06"), "vehicle_count", 1010),
                 R("c1", at("08:11"), "vehicle_count", 1025),
                 R("c1", at("08:16"), "vehicle_count", 5),         # reset to zero
                 R("c1", at("08:31"), "vehicle_count", 9)], Ctx())
    assert svc.flows_of("c1") == [("2026-03-02T08:00:00+02:00", 25.0, None),
                                  ("2026-03-02T08:15:00+02:00", 5.0, None)]
    assert svc.summary()["vehicles"] == 34


def test_busiest_streets_ranked():
    svc = service("traffic", city(C1, C2, C3, P1, tz=KYIV), top=2)
    svc.process([R("c1", at("08:00"), "vehicle_count", 30),
                 R("c2", at("08:00"), "vehicle_count", 40),
                 R("c3", at("08:00"), "vehicle_count", 50),
                 R("pc1", at("08:00"), "people_in", 500)], Ctx())
    s = svc.summary()
    assert [(x["street"], x["vehicles"], x["people"]) for x in s["busiest_streets"]] == [
        ("Myru", 70.0, 0.0), ("Pushkina", 50.0, 500.0)]


def test_parking_occupancy_per_zone():
    svc = service("traffic", city(*SPACES, TAGGED, tz=KYIV), full_ratio=0.8,
                  tags=["parking"])
    # x1 is chosen by its tag, not its family: it is a space once it reports
    assert svc.parking_spaces("Ploshcha") == 4
    ctx = Ctx()
    rs = [R(f"p{i}", at("09:00") + i, "occupied", True, "bool") for i in range(1, 5)]
    rs += [R("x1", at("09:10"), "occupied", 1), R("p2", at("09:20"), "occupied", False),
           R("p3", at("09:30"), "occupied", False), R("p3", at("09:31"), "occupied", False)]
    svc.process(rs, ctx)
    assert svc.parking_spaces("Ploshcha") == 5
    assert [(e.kind, e.data["occupied"], e.time) for e in ctx.events] == [
        ("parking.full", 4, at("09:00") + 4),             # 4 of 4
        ("parking.full_cleared", 3, at("09:30"))]         # 4 of 5 is still full, 3 not
    assert svc.summary()["parking"] == {"Ploshcha": {
        "spaces": 5, "occupied": 3, "occupancy": 0.6, "peak": 1.0,
        "peak_at": "2026-03-02T09:00:04+02:00"}}


def test_state_survives_a_restart(tmp_path):
    base = seed(tmp_path, [("c1", 0, h, 100) for h in range(24)])
    rs = []
    for i in range(200):
        t = at("00:00") + 300 * i
        rs.append(R("c1", t, "vehicle_count", 5 + (i % 13) * (3 if 60 < i < 90 else 1)))
        rs.append(R(f"p{1 + i % 4}", t + 1, "occupied", (i // 4) % 3 != 0))
    one = service("traffic", city(C1, *SPACES, tz=KYIV), baseline=base)
    ctx1 = Ctx()
    one.process(rs, ctx1)
    a = service("traffic", city(C1, *SPACES, tz=KYIV), baseline=base)
    ctx2 = Ctx()
    a.process(rs[:211], ctx2)
    b = service("traffic", city(C1, *SPACES, tz=KYIV), baseline=base)
    b.restore(roundtrip(a.snapshot()))
    b.process(rs[211:], ctx2)
    assert [(e.kind, e.time) for e in ctx1.events] == [(e.kind, e.time) for e in ctx2.events]
    assert one.summary() == b.summary() and one.flows_of("c1") == b.flows_of("c1")
    assert ctx1.of("traffic.congestion")


def test_bad_baseline_file_is_named(tmp_path):
    path = tmp_path / "b.csv"
    path.write_text("device,weekday,hour,vehicles_per_hour\nc1,mon,8,200\nc1,funday,8,1\n")
    with pytest.raises(ValueError, match=r"services.traffic.baseline: .*b.csv: line 3: "
                                         "weekday must be"):
        service("traffic", city(C1), baseline=str(path))
    path.write_text("device,hour\n")
    with pytest.raises(ValueError, match="line 1: the header needs the columns"):
        service("traffic", city(C1), baseline=str(path))


def test_the_hour_repeated_when_summer_time_ends_is_counted_twice():
    # 2026-10-25 in Kyiv: 03:00-04:00 local runs twice; each real quarter hour is its own
    # interval, none is merged with another or dropped as late.
    svc = service("traffic", city(C1, tz=KYIV))
    ctx = Ctx()
    t0 = ts("2026-10-24T23:00:00+00:00")
    svc.process([R("c1", t0 + i * 300 + 60, "vehicle_count", 10, "count")
                 for i in range(37)], ctx)
    assert svc.flows_of("c1") == [(f"2026-10-25T0{h}:{m}:00+0{o}:00", 30.0, None)
                                  for h, o in ((2, 3), (3, 3), (3, 2))
                                  for m in ("00", "15", "30", "45")]
    assert svc.summary()["counts"] == {}
