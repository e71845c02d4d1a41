"""A network server's uplink delivered twice (an MQTT QoS 1 redelivery after a lost
acknowledgement, a webhook retry) is stored once."""

from nethelpers import (
    DEV_A,
    LPP_A,
    LPP_B,
    CityRun,
    chirpstack_up,
    publish_all,
    readings,
    run,
    uid,
    write_city,
)
from test_chirpstack import source_table

from conftest import need_service
from hromada_plugins.sources._mqtt import Redeliveries


def test_redeliveries_remembers_recent_uplinks_per_device():
    r = Redeliveries(per_device=2, devices=2)
    assert [r.again("a", 1, b"x"), r.again("a", 1, b"x")] == [False, True]
    assert r.again("a", 1, b"y") is False       # same fCnt, other payload: a counter reset
    assert r.again("a", 2, b"x") is False
    assert r.again("a", 1, b"x") is False       # only the last 2 of a device are kept
    assert r.again("b", 1, b"x") is False
    assert r.again("a", 2, b"x") is True        # "a" used last: kept
    assert r.again("c", 1, b"x") is False       # 3 devices: the least recent ("b") goes
    assert r.again("b", 1, b"x") is False
    # after a rejoin the counter starts again: the same (fCnt, payload) at another
    # receive time is a new uplink
    r = Redeliveries()
    assert r.again("a", 0, b"door", "2026-03-01T10:00:00Z") is False
    assert r.again("a", 0, b"door", "2026-03-01T11:30:00Z") is False
    assert r.again("a", 0, b"door", "2026-03-01T11:30:00Z") is True


T7, T8 = "2026-03-01T10:00:07Z", "2026-03-01T10:15:07Z"


def test_a_chirpstack_uplink_delivered_twice_is_stored_once(tmp_path):
    need_service("mosquitto")
    app = uid()
    path = write_city(tmp_path, source_table(app))
    up = f"application/{app}/device/{DEV_A}/event/up"

    async def main():
        async with CityRun(path) as city:
            await city.source("cs")
            first = chirpstack_up(DEV_A, 7, LPP_A, app=app, time=T7)
            # the broker delivers the very same message again
            await publish_all([(up, first), (up, first),
                               (up, chirpstack_up(DEV_A, 8, LPP_B, app=app, time=T8))])
            await city.until(lambda k: k.frames == 2 and k.errors["duplicate"] == 1,
                             what="two frames and one duplicate")
            return await city.stop()

    summary = run(main())
    assert summary["frames"] == 2 and summary["errors_by_kind"] == {"duplicate": 1}
    stored = sorted((q, v) for _d, _t, q, v, _u in readings(tmp_path / "out.db"))
    assert stored == [("relative_humidity_2", 40.0), ("temperature_1", -4.1),
                      ("temperature_1", 21.5)]   # LPP_A once, LPP_B
