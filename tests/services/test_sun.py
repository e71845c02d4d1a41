"""hromada.sun: NOAA sunrise/sunset against published times, and its own consistency."""

import datetime as dt

import pytest

from hromada import sun

UTC = dt.UTC
GREENWICH = (51.4769, -0.0005)


def hm(t):
    return dt.datetime.fromtimestamp(t, UTC).strftime("%H:%M")


@pytest.mark.parametrize("date, rise, sset", [
    # HM Nautical Almanac Office / timeanddate.com, Greenwich, in UTC
    (dt.date(2024, 6, 21), "03:43", "20:21"),
    (dt.date(2024, 12, 21), "08:03", "15:53"),
])
def test_published_times_at_greenwich(date, rise, sset):
    st = sun.sun_times(date, *GREENWICH)
    assert st.polar is None
    # the NOAA equations are good to about a minute: compare to the minute, rounded
    assert hm(st.sunrise + 30) == rise and hm(st.sunset + 30) == sset


def test_the_sun_is_at_the_zenith_asked_for_at_sunrise_and_sunset():
    for date, (lat, lon) in [(dt.date(2026, 6, 1), (48.4393, 22.7178)),
                             (dt.date(2026, 1, 15), (-33.86, 151.21)),
                             (dt.date(2026, 9, 23), (0.0, -78.5))]:
        st = sun.sun_times(date, lat, lon)
        assert sun.solar_elevation(st.sunrise, lat, lon) == pytest.approx(-0.833, abs=0.01)
        assert sun.solar_elevation(st.sunset, lat, lon) == pytest.approx(-0.833, abs=0.01)
        assert st.sunrise < st.noon < st.sunset
        assert sun.solar_elevation(st.noon, lat, lon) > sun.solar_elevation(st.noon - 1800,
                                                                            lat, lon)
        civil = sun.sun_times(date, lat, lon, sun.CIVIL_ZENITH)
        assert civil.sunrise < st.sunrise and civil.sunset > st.sunset
        assert sun.is_dark(st.sunrise - 60, lat, lon) and not sun.is_dark(st.noon, lat, lon)


def test_polar_day_and_night():
    svalbard = (78.22, 15.65)
    summer = sun.sun_times(dt.date(2026, 6, 21), *svalbard)
    winter = sun.sun_times(dt.date(2026, 12, 21), *svalbard)
    assert (summer.sunrise, summer.sunset, summer.polar) == (None, None, "day")
    assert (winter.sunrise, winter.sunset, winter.polar) == (None, None, "night")


def test_bad_coordinates():
    with pytest.raises(ValueError, match="latitude/longitude out of range"):
        sun.sun_times(dt.date(2026, 1, 1), 91.0, 0.0)
