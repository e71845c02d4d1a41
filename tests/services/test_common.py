"""Helpers shared by the services: local time across DST changes, windows, selection."""

import datetime as dt
import zoneinfo

import pytest
from service_helpers import city, device

from hromada_plugins.services._common import (
    LocalClock,
    haversine_km,
    in_window,
    parse_window,
    select_devices,
    tag_value,
    truthy,
)

KYIV = zoneinfo.ZoneInfo("Europe/Kyiv")


def kyiv(*args):
    return dt.datetime(*args, tzinfo=KYIV).timestamp()


def test_local_clock_agrees_with_zoneinfo_across_dst_changes():
    clock = LocalClock("Europe/Kyiv")
    # every 7 minutes over the spring and autumn changes of 2026
    for start in (kyiv(2026, 3, 28, 12), kyiv(2026, 10, 24, 12)):
        for i in range(0, 48 * 60, 7):
            t = start + i * 60
            local = dt.datetime.fromtimestamp(t, KYIV)
            assert clock.date(clock.day(t)) == local.date()
            sod = local.hour * 3600 + local.minute * 60 + local.second
            assert clock.seconds_of_day(t) == pytest.approx(sod)
            assert clock.weekday(t) == local.weekday()
    # the spring day is 23 hours long, the autumn day 25
    spring = clock.day(kyiv(2026, 3, 29, 12))
    autumn = clock.day(kyiv(2026, 10, 25, 12))
    assert clock.day_start(spring + 1) - clock.day_start(spring) == 23 * 3600
    assert clock.day_start(autumn + 1) - clock.day_start(autumn) == 25 * 3600
    assert clock.at(spring, 5 * 3600) == kyiv(2026, 3, 29, 5)
    assert clock.iso(kyiv(2026, 10, 25, 5)) == "2026-10-25T05:00:00+02:00"


def test_windows():
    assert parse_window("02:00-05:00") == (7200, 18000)
    night = parse_window("23:00-07:00")
    assert in_window(23 * 3600, night) and in_window(0, night) and in_window(6 * 3600, night)
    assert not in_window(7 * 3600, night) and not in_window(12 * 3600, night)
    assert parse_window("00:00-24:00") == (0, 86400)
    for bad in ("2-5", "02:00", "25:00-03:00", "02:00-02:00", "02:60-03:00"):
        with pytest.raises(ValueError, match="is not a window|empty window"):
            parse_window(bad)


def test_selection_tags_and_values():
    meter = device("m1", "water_meter", tags=("street=Myru", "medium=water"))
    lamp = device("l1", "street_light", tags=("meter",))
    other = device("x1", "climate")
    c = city(meter, lamp, other)
    assert set(select_devices(c, ["water_meter"])) == {"m1"}
    assert set(select_devices(c, ["water_meter"], ["meter"])) == {"m1", "l1"}
    assert select_devices(c, [], []) == {}
    assert tag_value(meter[0], "street") == "Myru" and tag_value(meter[0], "zone") is None
    assert [truthy(v) for v in (True, 1, "true", "On", "0", "no", 0.0, None)] == [
        True, True, True, True, False, False, False, False]
    # a quarter of the Earth's circumference along the equator
    assert haversine_km(0, 0, 0, 90) == pytest.approx(6371.0088 * 3.141592653589793 / 2)


def test_check_reports_a_bad_service_option_at_its_key_path(tmp_path, capsys):
    from hromada.cli import main

    city = tmp_path / "city.toml"
    city.write_text('[city]\nname = "Checkville"\n\n[sources.sim]\nplugin = "simulator"\n\n'
                    '[services.leaks]\nplugin = "metering"\nnight = "25:00-05:00"\n')
    assert main(["check", str(city)]) == 2
    err = capsys.readouterr().err
    assert f"{city}: services.leaks.night: " in err
    city.write_text(city.read_text().replace("25:00-05:00", "02:00-05:00"))
    assert main(["check", str(city)]) == 0


@pytest.mark.parametrize("interval", [900, 3600, 7200])
def test_interval_keys_across_the_end_and_start_of_summer_time(interval):
    # Every real instant falls in exactly one interval whose start is at or before it,
    # and intervals in real time never go back, also on 2026-10-25 and 2026-03-29.
    clock = LocalClock(KYIV)
    for first in ("2026-10-24T20:00:00+00:00", "2026-03-28T20:00:00+00:00"):
        t0 = dt.datetime.fromisoformat(first).timestamp()
        starts = []
        for i in range(0, 10 * 3600, 300):
            key = clock.interval_key(t0 + i, interval)
            start = clock.interval_start(key, interval)
            assert start <= t0 + i < start + interval + 3600
            if not starts or starts[-1] != start:
                starts.append(start)
        assert starts == sorted(set(starts))
    fall_back = dt.datetime(2026, 10, 25, 0, 30, tzinfo=dt.UTC).timestamp()
    assert clock.interval_key(fall_back, 3600) != clock.interval_key(fall_back + 3600, 3600)
    assert clock.interval_start(clock.interval_key(fall_back + 3600, 3600), 3600) == (
        fall_back + 1800)
