"""The environment service: EAQI bands, hourly and daily means, noise levels, alerts."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from service_helpers import Ctx, R, city, device, roundtrip, service, ts

from hromada_plugins.services.environment import (
    EAQI_LIMITS,
    LEVELS,
    eaqi_level,
    energy_mean,
    index_of,
    lden,
)

KYIV = "Europe/Kyiv"
A1 = device("a1", "air_quality", district="Tsentr")
A2 = device("a2", "air_quality", district="Tsentr")
A3 = device("a3", "air_quality", district="Palanok")
N1 = device("n1", "noise", district="Tsentr")


def at(hhmm, day="2026-03-02"):
    return ts(f"{day}T{hhmm}", KYIV)


def test_eaqi_bands_are_the_revised_eea_limits():
    assert EAQI_LIMITS == {
        "pm2_5": (5, 15, 50, 90, 140), "pm10": (15, 45, 120, 195, 270),
        "no2": (10, 25, 60, 100, 150), "o3": (60, 100, 120, 160, 180)}
    for pollutant, limits in EAQI_LIMITS.items():
        assert eaqi_level(pollutant, 0.0) == 1
        for i, limit in enumerate(limits):
            assert eaqi_level(pollutant, limit) == i + 1          # on the limit: lower band
            assert eaqi_level(pollutant, limit + 0.01) == i + 2
        assert eaqi_level(pollutant, 5000.0) == 6
    assert LEVELS[3] == "poor"
    assert index_of({"pm2_5": 12.0, "no2": 70.0, "o3": 30.0}) == (4, "no2")
    assert index_of({}) == (None, None)


def test_noise_formulas():
    assert energy_mean([60.0, 70.0]) == pytest.approx(10 * math.log10((1e6 + 1e7) / 2))
    assert energy_mean([55.0]) == pytest.approx(55.0)
    assert lden(60.0, 55.0, 50.0) == pytest.approx(60.0)     # 12*1e6 + 4*1e6 + 8*1e6
    # the same level all day: the penalties alone add 10 lg((12 + 4 * 10^0.5 + 8 * 10) / 24)
    assert lden(60.0, 60.0, 60.0) == pytest.approx(
        60 + 10 * math.log10((12 + 4 * 10 ** 0.5 + 80) / 24))


def test_hourly_means_alerts_and_district_index():
    svc = service("environment", city(A1, A2, A3, N1, tz=KYIV))
    ctx = Ctx()
    rs = [
        R("a1", at("10:05"), "pm2_5", 40.0, "ug/m3"), R("a1", at("10:35"), "pm2_5", 60.0),
        R("a2", at("10:10"), "pm2_5", 20.0), R("a2", at("10:10"), "no2", 30.0),
        R("a1", at("11:05"), "pm2_5", 100.0), R("a1", at("11:35"), "pm2_5", 80.0),
        R("a2", at("11:10"), "pm2_5", 30.0),
        R("a3", at("11:10"), "o3", 130.0), R("a3", at("12:10"), "o3", 90.0),
        R("a1", at("12:05"), "pm2_5", 10.0), R("a2", at("12:10"), "pm2_5", 30.0),
        R("a1", at("12:50"), "pm2_5", 20.0),
        R("a1", at("12:50"), "temperature", 99.0),     # not a pollutant: ignored
    ]
    svc.process(rs, ctx)
    # a1's 11:00 hour (mean 90, on the "poor" limit) closes with its 12:05 reading;
    # a3's o3 130 is level 4 too
    assert [(e.kind, e.device, e.time) for e in ctx.events] == [
        ("environment.air_quality", "a3", at("12:00")),
        ("environment.air_quality", "a1", at("12:00"))]
    assert dict(ctx.events[1].data) == {
        "pollutant": "pm2_5", "mean": 90.0, "unit": "ug/m3", "level": 4, "band": "poor",
        "hour": "2026-03-02T11:00:00+02:00"}
    assert ctx.events[1].severity == "warning"
    svc.stop(ctx)  # 12:50 + 15 min is past 13:00: the 12:00 hours close
    assert [(e.kind, e.device) for e in ctx.events[2:]] == [
        ("environment.air_quality_cleared", "a1"), ("environment.air_quality_cleared", "a3")]
    assert svc.hourly_means("a1", "2026-03-02") == {10: {"pm2_5": 50.0}, 11: {"pm2_5": 90.0},
                                                   12: {"pm2_5": 15.0}}
    assert svc.daily_means("a1", "2026-03-02") == {"pm2_5": pytest.approx(155 / 3)}
    # a3's 12:00 hour: wm + 15 min = 13:05 is past its end too
    assert svc.hourly_means("a3", "2026-03-02") == {11: {"o3": 130.0}, 12: {"o3": 90.0}}
    aqi = svc.district_aqi()
    # Tsentr pm2_5 by hour: (50+20)/2 = 35, (90+30)/2 = 60, (15+30)/2 = 22.5; no2 30 at 10
    assert aqi["Tsentr"] == {
        "date": "2026-03-02", "index": 3, "level": "moderate", "pollutant": "no2",
        "daily_means": {"no2": 30.0, "pm2_5": 39.17},
        "worst_hour": {"hour": "11:00", "index": 4, "level": "poor", "pollutant": "pm2_5"}}
    assert aqi["Palanok"]["index"] == 3 and aqi["Palanok"]["worst_hour"]["index"] == 4
    s = svc.summary()
    assert s["air_alerts"] == [] and s["sensors"] == 4


def test_extremely_poor_is_critical():
    svc = service("environment", city(A1, tz=KYIV))
    ctx = Ctx()
    svc.process([R("a1", at("10:00"), "pm10", 300.0), R("a1", at("11:00"), "pm10", 10.0)],
                ctx)
    assert [(e.severity, e.data["band"]) for e in ctx.events] == [("critical",
                                                                  "extremely poor")]


def test_noise_lden_lnight_and_hourly_alert():
    svc = service("environment", city(N1, tz=KYIV))
    ctx = Ctx()
    rs = []
    for h in range(24):
        level = 60.0 if 7 <= h < 19 else 55.0 if 19 <= h < 23 else 50.0
        if h == 14:
            level = 75.0
        rs.append(R("n1", at(f"{h:02d}:30"), "laeq", level, "dBA"))
    rs.append(R("n1", at("00:30", "2026-03-03"), "laeq", 50.0, "dBA"))
    svc.process(rs, ctx)
    lday = 10 * math.log10((11 * 1e6 + 10 ** 7.5) / 12)
    assert [(e.kind, e.data["metric"], e.time) for e in ctx.events] == [
        ("environment.noise", "LAeq,1h", at("15:00")),
        ("environment.noise_cleared", "LAeq,1h", at("16:00")),
        ("environment.noise", "Lden", at("00:00", "2026-03-03"))]
    assert ctx.events[2].data["value"] == round(lden(lday, 55.0, 50.0), 1)
    assert svc.noise_days["n1"]["2026-03-02"] == {
        "Lday": round(lday, 1), "Levening": 55.0, "Lnight": 50.0,
        "Lden": round(lden(lday, 55.0, 50.0), 1)}
    s = svc.summary()
    assert s["loudest"][0]["sensor"] == "n1"
    assert s["noise_lden_by_district"] == {"Tsentr": round(lden(lday, 55.0, 50.0), 1)}


def test_a_day_missing_a_period_gives_no_lden():
    svc = service("environment", city(N1, tz=KYIV))
    ctx = Ctx()
    svc.process([R("n1", at("12:00"), "laeq", 80.0), R("n1", at("12:00", "2026-03-03"),
                                                       "laeq", 50.0)], ctx)
    assert svc.noise_days == {} and svc.counts["noise_days_incomplete"] == 1


def test_state_survives_a_restart():
    rs = sorted([R("a1", at("00:00") + 600 * i, "pm2_5", 10.0 + (i % 7) * 9, "ug/m3")
                 for i in range(100)] + [R("n1", at("00:05") + 1200 * i, "laeq",
                                           50.0 + i % 30, "dBA") for i in range(80)],
                key=lambda r: r.time)
    one = service("environment", city(A1, N1, tz=KYIV))
    ctx1 = Ctx()
    one.process(rs, ctx1)
    a = service("environment", city(A1, N1, tz=KYIV))
    ctx2 = Ctx()
    a.process(rs[:77], ctx2)
    b = service("environment", city(A1, N1, tz=KYIV))
    b.restore(roundtrip(a.snapshot()))
    b.process(rs[77:], ctx2)
    assert [(e.kind, e.device, e.time, dict(e.data)) for e in ctx1.events] == [
        (e.kind, e.device, e.time, dict(e.data)) for e in ctx2.events]
    assert one.summary() == b.summary()
    assert len(ctx1.events) >= 4


def test_bad_options_are_named():
    with pytest.raises(ValueError, match="cover the 24 hours exactly once"):
        service("environment", city(A1), evening="19:00-22:00")
    with pytest.raises(ValueError, match=r"unknown EAQI pollutant\(s\) \['so2'\]"):
        service("environment", city(A1), pollutants={"so2": "so2"})


def test_gas_mixing_ratios_are_converted_to_micrograms():
    from hromada_plugins.services.environment import to_ugm3

    # at 20 Cel and 1013.25 hPa: 1 ppb O3 = 47.9982 / 24.055 = 1.9954 ug/m3
    assert to_ugm3("o3", 1.0, "ppb") == pytest.approx(1.99535, abs=1e-5)
    assert to_ugm3("no2", 0.1, "ppm") == pytest.approx(191.25, abs=0.01)
    assert to_ugm3("pm10", 0.05, "mg/m3") == pytest.approx(50.0)
    assert to_ugm3("pm10", 3.0, "ppm") is None
    svc = service("environment", city(A1, tz=KYIV))
    ctx = Ctx()
    svc.process([R("a1", at("10:00"), "o3", 0.09, "ppm"),          # 179.58 ug/m3: very poor
                 R("a1", at("10:00"), "pm10", 3.0, "ppm"),          # cannot be converted
                 R("a1", at("11:00"), "o3", 0.01, "ppm")], ctx)
    assert [(e.kind, e.data["level"], e.data["mean"]) for e in ctx.events] == [
        ("environment.air_quality", 5, 179.58)]
    assert svc.counts["unknown_unit"] == 1


@settings(max_examples=100, deadline=None)
@given(st.floats(20, 110), st.floats(-20, 20))
def test_lden_of_levels_that_cancel_the_penalties(level, shift):
    # evening 5 dB and night 10 dB quieter than the day: Lden is the day level
    assert lden(level, level - 5, level - 10) == pytest.approx(level)
    # a louder day always raises Lden, never by more than the change
    assert 0 < lden(level + abs(shift) + 0.1, level, level) - lden(level, level, level) \
        <= abs(shift) + 0.1 + 1e-9


def test_the_hour_repeated_when_summer_time_ends_is_two_hourly_means():
    # 2026-10-25 in Kyiv: 03:00-04:00 local runs twice (00:00Z and 01:00Z).
    svc = service("environment", city(A1, tz=KYIV))
    ctx = Ctx()
    t0 = ts("2026-10-24T23:00:00+00:00")
    values = [10.0] * 4 + [60.0] * 4 + [20.0] * 4 + [30.0] * 4   # one value per hour
    svc.process([R("a1", t0 + i * 900 + 60, "pm2_5", v, "ug/m3")
                 for i, v in enumerate(values)], ctx)
    svc.stop(ctx)
    assert svc.hourly_means("a1", "2026-10-25") == {
        2: {"pm2_5": 10.0}, 3: {"pm2_5": 60.0}, 3.5: {"pm2_5": 20.0}, 4: {"pm2_5": 30.0}}
    # The poor hour is the first pass of 03:00 and ends at the second pass.
    assert [(e.kind, e.time, e.data["hour"]) for e in ctx.events] == [
        ("environment.air_quality", ts("2026-10-25T01:00:00+00:00"),
         "2026-10-25T03:00:00+03:00"),
        ("environment.air_quality_cleared", ts("2026-10-25T02:00:00+00:00"),
         "2026-10-25T03:00:00+02:00")]
    assert svc.summary()["aqi_by_district"]["Tsentr"]["worst_hour"]["hour"] == "03:00"
