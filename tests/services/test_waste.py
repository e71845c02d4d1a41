"""The waste service: fill rates, the collection list, routes and alarms."""

import itertools
import random

import pytest
from service_helpers import Ctx, R, city, device, roundtrip, service, ts

from hromada_plugins.services._common import haversine_km
from hromada_plugins.services.waste import route

# 2026-03-03 is a Tuesday; with collection on Thursdays at 06:00 the next collection
# after Tuesday 20:00 is 34 hours away.
TUE = "2026-03-03"

GRID = [(0.0, 0.0), (0.0, 0.03), (0.02, 0.04), (0.01, 0.01), (0.03, 0.04), (0.04, 0.03)]


def bins(n=6, **kw):
    return [device(f"b{i}", "waste_bin", lat=GRID[i][0], lon=GRID[i][1], **kw)
            for i in range(1, n)]


def hourly(dev, fills, start=f"{TUE}T16:00", quantity="fill_level", unit="%"):
    t0 = ts(start)
    return [R(dev, t0 + 3600 * i, quantity, f, unit) for i, f in enumerate(fills)]


def test_fill_rate_is_the_least_squares_slope():
    svc = service("waste", city(*bins()))
    svc.process(hourly("b1", [10, 12, 14, 16, 18]), Ctx())
    assert svc.rate("b1") == pytest.approx(2.0)
    svc.process(hourly("b2", [10, 13, 14, 17, 16], start=f"{TUE}T00:00"), Ctx())
    # x = 0..4 h, y = 10,13,14,17,16: sum xy = 156, so (5*156 - 10*70) / (5*30 - 10*10)
    assert svc.rate("b2") == pytest.approx(1.6)
    assert svc.rate("b3") is None


def test_collection_list_predicts_who_passes_the_threshold_before_collection():
    svc = service("waste", city(*bins()), collection_days=["thu"], threshold=80.0,
                  plan_at="")
    ctx = Ctx()
    rs = (hourly("b1", [46, 47, 48, 49, 50])       # 1 %/h: 50 + 34 = 84 on Thursday
          + hourly("b2", [36, 37, 38, 39, 40])     # 1 %/h: 74, stays off the list
          + hourly("b3", [83, 85])                 # already past the threshold
          + hourly("b4", [70]))                    # one reading: no rate, 70 stays 70
    rs.sort(key=lambda r: r.time)
    svc.process(rs, ctx)
    assert ctx.kinds() == ["waste.full"]
    assert ctx.events[0].device == "b3"
    now = ts(f"{TUE}T20:00")
    at, items = svc.collection_list(now)
    assert at == ts("2026-03-05T06:00")
    assert items == [("b3", 85.0, 100.0, 0.0), ("b1", 50.0, 84.0, 30.0)]


def test_plan_routes_the_bins_from_the_depot():
    svc = service("waste", city(*bins()), collection_days=["thu"], depot=[0.0, 0.0],
                  plan_at="", threshold=50.0)
    ctx = Ctx()
    svc.process(sorted(sum((hourly(f"b{i}", [60, 61]) for i in range(1, 6)), []),
                       key=lambda r: r.time), ctx)
    svc.stop(ctx)
    plan = ctx.of("waste.collection_plan")[0].data
    # nearest neighbour: b3 b1 b2 b4 b5 (14.79 km); 2-opt: b3 b5 b4 b2 b1 (14.09 km),
    # the best round (checked by brute force below).
    assert plan["route"] == ["b3", "b5", "b4", "b2", "b1"]
    assert plan["length_km"] == 14.088
    assert [b["bin"] for b in plan["bins"]] == ["b1", "b2", "b3", "b4", "b5"]
    s = svc.summary()
    assert s["route"] == plan["route"] and s["route_km"] == 14.088 and s["to_collect"] == 5


def test_route_two_opt_removes_the_crossing_and_matches_brute_force():
    d = route.distance_matrix(GRID)
    nn = route.nearest_neighbour(d)
    assert nn == [0, 3, 1, 2, 4, 5]
    assert route.tour_length(nn, d) == pytest.approx(14.7896, abs=1e-4)
    best = min(((0,) + p for p in itertools.permutations(range(1, 6))),
               key=lambda o: route.tour_length(o, d))
    opt = route.two_opt(nn, d)
    assert opt == [0, 3, 5, 4, 2, 1]
    assert route.tour_length(opt, d) == pytest.approx(route.tour_length(best, d))
    # one edge by hand: 0.01 degree of latitude is 1.111951 km on the mean sphere
    assert d[0][3] == pytest.approx(haversine_km(0, 0, 0.01, 0.01))
    assert haversine_km(0, 0, 0.01, 0) == pytest.approx(1.111951, abs=1e-6)


def test_route_open_path_and_random_tours_never_get_longer():
    rng = random.Random(7)
    for _ in range(30):
        pts = [(48.4 + rng.random() * 0.05, 22.7 + rng.random() * 0.05) for _ in range(12)]
        d = route.distance_matrix(pts)
        nn = route.nearest_neighbour(d)
        for closed in (True, False):
            opt = route.two_opt(nn, d, closed)
            assert opt[0] == 0 and sorted(opt) == list(range(12))
            assert route.tour_length(opt, d, closed) <= route.tour_length(nn, d, closed) + 1e-9
    # on a line an open path from one end is already best
    line = [(0.0, 0.0), (0.0, 0.01), (0.0, 0.02), (0.0, 0.03)]
    d = route.distance_matrix(line)
    assert route.two_opt([0, 2, 1, 3], d, closed=False) == [0, 1, 2, 3]
    assert route.plan_route((0, 0), {}, True) == ([], 0.0)


def test_distance_sensor_fill_and_emptying():
    deep = device("b1", "waste_bin", bin_depth_mm=1000)
    svc = service("waste", city(deep, *bins()[1:]), bin_depth=1.2)
    ctx = Ctx()
    svc.process([R("b1", f"{TUE}T10:00", "distance", 0.8, "m"),       # 20 %
                 R("b1", f"{TUE}T11:00", "distance", 600, "mm"),      # 40 %
                 R("b2", f"{TUE}T11:00", "distance", 60, "cm"),       # 50 % of 1.2 m
                 R("b1", f"{TUE}T12:00", "distance", 0.95, "m")], ctx)   # emptied: 5 %
    assert svc.state["b1"][0] == pytest.approx(5.0)
    assert svc.state["b2"][0] == pytest.approx(50.0)
    assert ctx.kinds() == ["waste.emptied"]
    assert ctx.events[0].data["before"] == pytest.approx(40.0)
    assert svc.rate("b1") is None  # one point since it was emptied


def test_fire_and_tilt_alarms_on_the_edge():
    svc = service("waste", city(*bins()))
    ctx = Ctx()
    svc.process([R("b1", f"{TUE}T10:00", "temperature", 25.0, "Cel"),
                 R("b1", f"{TUE}T10:15", "temperature", 71.5, "Cel"),
                 R("b1", f"{TUE}T10:30", "temperature", 80.0, "Cel"),
                 R("b1", f"{TUE}T10:45", "temperature", 55.0, "Cel"),   # not 10 below yet
                 R("b1", f"{TUE}T11:00", "temperature", 40.0, "Cel"),
                 R("b2", f"{TUE}T10:00", "tilt", 12.0, "deg"),
                 R("b2", f"{TUE}T10:15", "tilt", 80.0, "deg"),
                 R("b3", f"{TUE}T10:15", "tilt", True, "bool"),
                 R("b3", f"{TUE}T10:30", "tilt", False, "bool")], ctx)
    assert [(e.kind, e.device, e.severity) for e in ctx.events] == [
        ("waste.fire", "b1", "critical"), ("waste.fire_cleared", "b1", "info"),
        ("waste.tilt", "b2", "warning"), ("waste.tilt", "b3", "warning"),
        ("waste.tilt_cleared", "b3", "info")]
    assert ctx.events[0].data["temperature"] == 71.5
    assert svc.summary()["tilted"] == ["b2"]


def test_daily_plan_at_the_planned_hour_and_state_across_a_restart():
    a = service("waste", city(*bins()), collection_days=["thu"], plan_at="20:00")
    rs = sorted(hourly("b1", list(range(40, 70))) + hourly("b2", [30] * 30),
                key=lambda r: r.time)
    ctx = Ctx()
    a.process(rs, ctx)
    plans = ctx.of("waste.collection_plan")
    assert [p.time for p in plans] == [ts(f"{TUE}T20:00"), ts("2026-03-04T20:00")]

    b = service("waste", city(*bins()), collection_days=["thu"], plan_at="20:00")
    ctx_b = Ctx()
    b.process(rs[:20], ctx_b)
    c = service("waste", city(*bins()), collection_days=["thu"], plan_at="20:00")
    c.restore(roundtrip(b.snapshot()))
    c.process(rs[20:], ctx_b)
    assert [e.data for e in ctx_b.of("waste.collection_plan")] == [p.data for p in plans]
    assert c.rate("b1") == pytest.approx(a.rate("b1"))


def test_bad_options_are_named():
    with pytest.raises(ValueError, match="services.waste.collection_days: use day names"):
        service("waste", city(*bins()), collection_days=["someday"])
    with pytest.raises(ValueError, match=r"services.waste.depot: must be \[lat, lon\]"):
        service("waste", city(*bins()), depot=[1])


def test_a_fill_level_in_the_same_uplink_wins_over_the_distance():
    # Models like the Milesight EM310-UDL send both; the model knows the bin's depth.
    svc = service("waste", city(*bins()), threshold=80.0, bin_depth=1.2)
    ctx = Ctx()
    svc.process([R("b1", f"{TUE}T10:00", "distance", 600, "mm"),      # 50 % of 1.2 m
                 R("b1", f"{TUE}T10:00", "fill_level", 40.0, "%"),
                 R("b1", f"{TUE}T11:00", "distance", 100, "mm"),      # ignored from now on
                 R("b1", f"{TUE}T11:00", "fill_level", 45.0, "%"),
                 R("b2", f"{TUE}T10:00", "distance", 600, "mm"),
                 R("b2", f"{TUE}T10:00", "fill_level", 85.0, "%")], ctx)
    assert svc.state["b1"][0] == 45.0 and svc.rate("b1") == pytest.approx(5.0)
    assert [(e.kind, e.device, e.data["fill_level"]) for e in ctx.events] == [
        ("waste.full", "b2", 85.0)]
