"""The metering service: readings with a known answer, fed straight to the service."""

import csv
import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from service_helpers import Ctx, R, city, device, roundtrip, service, ts

from hromada import verify

W1 = device("w1", "water_meter", district="Tsentr")
W2 = device("w2", "water_meter", district="Tsentr")
W3 = device("w3", "water_meter", district="Palanok")
E1 = device("e1", "electricity_meter", district="Palanok")
G1 = device("g1", "gas_meter", district="Tsentr")
T1 = device("t1", "climate")  # not a meter: ignored


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_consumption_per_interval_day_and_district(tmp_path):
    svc = service("metering", city(W1, W2, W3, E1, T1), export_dir=str(tmp_path))
    ctx = Ctx()
    svc.process([
        R("w1", "2026-03-02T00:10", "volume", 100.0, "m3"),
        R("w2", "2026-03-02T00:20", "volume", 7.0, "m3"),
        R("e1", "2026-03-02T00:30", "energy", 1000, "kWh"),
        R("t1", "2026-03-02T00:30", "volume", 5.0, "m3"),
        R("w1", "2026-03-02T00:40", "volume", 100.5, "m3"),
        R("w1", "2026-03-02T01:10", "volume", 101.0, "m3"),
        R("w2", "2026-03-02T01:20", "volume", 7.25, "m3"),
        R("w1", "2026-03-02T01:50", "volume", 102.25, "m3"),
        R("w3", "2026-03-02T02:00", "volume", 50.0, "m3"),
        R("e1", "2026-03-02T12:30", "energy", 1012.5, "kWh"),
        R("w3", "2026-03-02T23:00", "volume", 50.5, "m3"),
    ], ctx)
    assert svc.consumption("w1", "volume", "2026-03-02") == 2.25
    assert svc.consumption("e1", "energy", "2026-03-02") == 12.5
    assert svc.consumption("t1", "volume", "2026-03-02") is None
    # The next day's first readings close 2026-03-02 15 minutes after midnight.
    svc.process([R("w1", "2026-03-03T00:10", "volume", 102.5, "m3"),
                 R("w2", "2026-03-03T00:20", "volume", 7.5, "m3")], ctx)
    assert ctx.kinds() == ["metering.export"]
    s = svc.summary()
    assert s["daily"] == {"2026-03-02": {
        "Tsentr": {"water/volume": 2.5},
        "Palanok": {"water/volume": 0.5, "electricity/energy": 12.5}}}
    assert s["monthly"] == {"2026-03": s["daily"]["2026-03-02"]}
    assert s["open_days"] == {"2026-03-03": {"Tsentr": {"water/volume": 0.5}}}
    assert s["consumption"] == {"electricity/energy": 12.5, "water/volume": 3.5}
    assert s["meters"] == 4
    assert s["profile"]["date"] == "2026-03-03"

    rows = read_csv(tmp_path / "metering-billing-2026-03-02.csv")
    assert [(r["device"], r["quantity"], r["start_value"], r["end_value"],
             r["consumption"], r["readings"]) for r in rows] == [
        ("e1", "energy", "1000.0", "1012.5", "12.5", "2"),
        ("w1", "volume", "100.0", "102.25", "2.25", "4"),
        ("w2", "volume", "7.0", "7.25", "0.25", "2"),
        ("w3", "volume", "50.0", "50.5", "0.5", "2"),
    ]
    assert rows[1]["start_time"] == "2026-03-02T00:10:00.000Z"
    assert rows[1]["medium"] == "water" and rows[1]["district"] == "Tsentr"
    assert rows[1]["unit"] == "m3"
    # The interval file: consumption between two readings counts in the later one's hour.
    intervals = read_csv(tmp_path / "metering-intervals-2026-03-02.csv")
    got = {(r["device"], r["interval_start"]): float(r["consumption"]) for r in intervals}
    assert got == {
        ("w1", "2026-03-02T00:00:00.000Z"): 0.5,
        ("w1", "2026-03-02T01:00:00.000Z"): 1.75,
        ("w2", "2026-03-02T00:00:00.000Z"): 0.0,
        ("w2", "2026-03-02T01:00:00.000Z"): 0.25,
        ("e1", "2026-03-02T00:00:00.000Z"): 0.0,
        ("e1", "2026-03-02T12:00:00.000Z"): 12.5,
        ("w3", "2026-03-02T02:00:00.000Z"): 0.0,
        ("w3", "2026-03-02T23:00:00.000Z"): 0.5,
    }
    assert not (tmp_path / "metering-intervals-2026-03-03.csv").exists()


def test_rollover_replacement_and_jitter():
    svc = service("metering", city(W1, W2, E1))
    ctx = Ctx()
    svc.process([
        R("w1", "2026-03-02T01:00", "volume", 99999.5, "m3"),
        R("w1", "2026-03-02T02:00", "volume", 0.7, "m3"),        # rolled over: +1.2
        R("w1", "2026-03-02T03:00", "volume", 1.0, "m3"),
        R("w2", "2026-03-02T01:00", "volume", 523.4, "m3"),
        R("w2", "2026-03-02T02:00", "volume", 2.0, "m3"),        # a new meter
        R("w2", "2026-03-02T03:00", "volume", 2.5, "m3"),
        R("e1", "2026-03-02T01:00", "energy", 10.0, "kWh"),
        R("e1", "2026-03-02T02:00", "energy", 9.995, "kWh"),     # jitter: nothing used
        R("e1", "2026-03-02T03:00", "energy", 10.5, "kWh"),      # +0.5, not +0.505
        R("e1", "2026-03-02T02:30", "energy", 10.2, "kWh"),      # out of order: ignored
    ], ctx)
    assert svc.consumption("w1", "volume", "2026-03-02") == 1.5
    assert svc.consumption("w2", "volume", "2026-03-02") == 0.5
    assert svc.consumption("e1", "energy", "2026-03-02") == 0.5
    assert ctx.kinds() == ["metering.rollover", "metering.meter_replaced"]
    assert ctx.events[0].data["consumption"] == 1.2
    assert dict(ctx.events[1].data) == {"quantity": "volume", "old_register": 523.4,
                                        "new_register": 2.0}
    assert svc.summary()["counts"] == {"metering.meter_replaced": 1,
                                       "metering.rollover": 1, "out_of_order": 1,
                                       "replacements": 1, "rollovers": 1}


def test_rollover_needs_both_ends_of_the_register():
    # From the middle of the register back to zero is a replacement, not a rollover.
    svc = service("metering", city(W1), register_max={"volume": 1000.0})
    ctx = Ctx()
    svc.process([R("w1", "2026-03-02T01:00", "volume", 995.0, "m3"),
                 R("w1", "2026-03-02T02:00", "volume", 3.0, "m3"),
                 R("w1", "2026-03-02T03:00", "volume", 500.0, "m3"),
                 R("w1", "2026-03-02T04:00", "volume", 20.0, "m3")], ctx)
    assert ctx.kinds() == ["metering.rollover", "metering.meter_replaced"]
    assert svc.consumption("w1", "volume", "2026-03-02") == 8.0 + 497.0


def night_readings(dev, date, values, quantity="flow", tz="Europe/Kyiv"):
    """Readings every 30 minutes from 01:30 to 05:30 local."""
    times = ["01:30", "02:00", "02:30", "03:00", "03:30", "04:00", "04:30", "05:30"]
    return [R(dev, f"{date}T{hh}", quantity, v, "l/h", tz) for hh, v in
            zip(times, values, strict=True)]


def test_night_flow_that_never_stops_is_a_leak_after_n_nights():
    kyiv = city(W1, W2, W3, G1, tz="Europe/Kyiv")
    svc = service("metering", kyiv, leak_nights=2)
    ctx = Ctx()
    night1 = (night_readings("w1", "2026-03-02", [0, 3, 2, 4, 2, 3, 2, 0])        # leak
              + night_readings("w2", "2026-03-02", [5, 3, 0, 4, 2, 3, 2, 9])      # one zero
              + night_readings("g1", "2026-03-02", [5, 3, 2, 4, 2, 3, 2, 9]))     # gas: not
    svc.process(sorted(night1, key=lambda r: r.time), ctx)
    assert ctx.events == []
    assert svc.streak == {"w1": 1}
    night2 = (night_readings("w1", "2026-03-03", [0, 1, 1, 1, 1, 1, 1, 0])
              + night_readings("w2", "2026-03-03", [5, 3, 1, 4, 2, 3, 2, 9]))
    svc.process(sorted(night2, key=lambda r: r.time), ctx)
    assert ctx.kinds() == ["metering.leak"]
    leak = ctx.events[0]
    assert leak.device == "w1" and leak.severity == "warning"
    assert leak.time == ts("2026-03-03T05:00", "Europe/Kyiv")
    assert dict(leak.data) == {"by": "night_flow", "medium": "water", "nights": 2,
                               "min_night_flow": 1.0, "unit": "l/h",
                               "night": "2026-03-03"}
    assert svc.summary()["leaks"] == ["w1"]
    # A night with a pause clears it.
    svc.process(night_readings("w1", "2026-03-04", [0, 1, 0, 1, 1, 1, 1, 0]), ctx)
    assert ctx.kinds() == ["metering.leak", "metering.leak_cleared"]
    assert svc.summary()["leaks"] == []


def test_night_flow_from_the_register_alone():
    # No flow quantity: the register's rate between readings inside the window counts.
    svc = service("metering", city(W1, W2), leak_nights=1, night="02:00-04:00")
    ctx = Ctx()
    w1 = [100.0, 100.01, 100.02, 100.03, 100.04, 100.05]       # 20 l/h all night
    w2 = [50.0, 50.01, 50.01, 50.03, 50.04, 50.05]             # stops 02:30-03:00
    rs = []
    for i, (a, b) in enumerate(zip(w1, w2, strict=True)):
        t = ts("2026-03-02T02:00") + i * 1800
        rs += [R("w1", t, "volume", a, "m3"), R("w2", t + 1, "volume", b, "m3")]
    rs.append(R("w1", ts("2026-03-02T04:30"), "volume", 100.06, "m3"))
    svc.process(rs, ctx)
    assert ctx.kinds() == ["metering.leak"]
    assert ctx.events[0].device == "w1"
    assert ctx.events[0].data["min_night_flow"] == pytest.approx(0.02)
    assert ctx.events[0].data["unit"] == "m3/h"


def test_a_night_without_enough_readings_is_no_evidence():
    svc = service("metering", city(W1), leak_nights=1)
    ctx = Ctx()
    svc.process([R("w1", "2026-03-02T02:10", "flow", 3.0, "l/h"),
                 R("w1", "2026-03-02T02:40", "flow", 3.0, "l/h"),
                 R("w1", "2026-03-02T06:00", "flow", 3.0, "l/h")], ctx)
    assert ctx.events == []


def test_sudden_pressure_drop_and_recovery():
    svc = service("metering", city(W1))
    ctx = Ctx()
    values = [4.0, 4.1, 3.9, 4.0, 3.8, 2.5, 2.4, 3.3, 3.9, 3.0]
    svc.process([R("w1", ts("2026-03-02T00:00") + 900 * i, "pressure", v, "bar")
                 for i, v in enumerate(values)], ctx)
    # mean of the last four before the drop: (4.1 + 3.9 + 4.0 + 3.8) / 4 = 3.95
    assert ctx.kinds() == ["metering.pressure_drop", "metering.pressure_restored"]
    drop = ctx.events[0]
    assert drop.time == ts("2026-03-02T01:15")
    assert dict(drop.data) == {"pressure": 2.5, "unit": "bar", "level": 3.95,
                               "drop_percent": 36.7}
    # 2.4 and 3.3 stay below 3.95 * (1 - 0.3 / 2); 3.9 is back within half the drop
    assert ctx.events[1].time == ts("2026-03-02T02:00")
    # the window restarts from 3.9: one value is too few to call 3.0 a drop
    assert svc.pressure["w1"] == [[3.9, 3.0], None]


def test_flags_are_events_on_the_edge(tmp_path):
    svc = service("metering", city(W1, W2), export_dir=str(tmp_path))
    ctx = Ctx()
    svc.process([
        R("w1", "2026-03-02T01:00", "volume", 1.0, "m3"),
        R("w1", "2026-03-02T01:00", "tamper", True, "bool"),
        R("w1", "2026-03-02T02:00", "tamper", True, "bool"),
        R("w2", "2026-03-02T02:00", "backflow", 1, "bool"),
        R("w1", "2026-03-02T03:00", "tamper", False, "bool"),
        R("w2", "2026-03-02T03:00", "alarm", "false", ""),
        R("w1", "2026-03-02T04:00", "leak", "true", ""),
    ], ctx)
    assert [(e.kind, e.device) for e in ctx.events] == [
        ("metering.tamper", "w1"), ("metering.backflow", "w2"),
        ("metering.tamper_cleared", "w1"), ("metering.leak", "w1")]
    assert ctx.events[0].severity == "warning"
    assert ctx.events[3].data["by"] == "device"
    s = svc.summary()
    assert s["flags"] == {"backflow": ["w2"], "leak": ["w1"]}
    assert s["leaks"] == ["w1"]
    svc.stop(ctx)  # not a whole day: nothing exported yet
    assert not list(tmp_path.glob("*billing*"))
    svc.process([R("w1", "2026-03-03T00:30", "volume", 1.5, "m3")], ctx)
    rows = read_csv(tmp_path / "metering-billing-2026-03-02.csv")
    assert [(r["device"], r["flags"]) for r in rows] == [("w1", "leak;tamper")]


def test_billing_export_is_hash_chained_and_edits_are_found(tmp_path):
    svc = service("metering", city(W1, W2, W3, E1), export_dir=str(tmp_path))
    ctx = Ctx()
    rs = []
    for i in range(24):
        t = ts("2026-03-02T00:50") + 3600 * i
        rs += [R("w1", t, "volume", 10 + 0.01 * i, "m3"),
               R("w2", t + 60, "volume", 20 + 0.02 * i, "m3"),
               R("w3", t + 120, "volume", 30 + 0.03 * i, "m3"),
               R("e1", t + 180, "energy", 40 + 0.5 * i, "kWh")]
    svc.process(rs, ctx)
    svc.stop(ctx)  # the day is over but for the last minutes: exported on stop
    export = ctx.of("metering.export")[0].data
    path = tmp_path / "metering-billing-2026-03-02.csv"
    assert export["file"] == str(path) and export["rows"] == 4
    ok = verify.verify_file(path)
    assert ok.ok and ok.rows == 4 and ok.head == export["head"]
    assert verify.verify_file(path, head=export["head"]).ok

    lines = path.read_text().splitlines()
    assert lines[0] == ("date,device,district,medium,quantity,unit,start_time,start_value,"
                        "end_time,end_value,consumption,readings,flags,prev_hash,hash")
    edited = lines[:]
    edited[3] = edited[3].replace(",0.46,", ",0.40,")
    assert edited[3] != lines[3]
    path.write_text("\n".join(edited) + "\n")
    bad = verify.verify_file(path)
    assert (bad.ok, bad.line, bad.rows) == (False, 4, 2)
    assert bad.message == "hash does not match the row's content: the row was edited"
    # Deleting the last row keeps the chain: only the head kept elsewhere shows it.
    path.write_text("\n".join(lines[:-1]) + "\n")
    assert verify.verify_file(path).ok
    cut = verify.verify_file(path, head=export["head"])
    assert not cut.ok and cut.line is None and "rows were removed" in cut.message


def test_state_survives_a_restart(tmp_path):
    kyiv = city(W1, W2, tz="Europe/Kyiv")
    rs = []
    for day in ("2026-03-02", "2026-03-03"):
        rs += night_readings("w1", day, [1, 2, 2, 2, 2, 2, 2, 1])
        rs += [R("w2", f"{day}T{h:02d}:00", "volume", 10 + i * 0.5 + (day > "2026-03-02") * 12,
                 "m3", "Europe/Kyiv") for i, h in enumerate(range(0, 24))]
    rs.sort(key=lambda r: r.time)
    cut = len(rs) // 2

    one = service("metering", kyiv, leak_nights=2, export_dir=str(tmp_path / "a"))
    ctx1 = Ctx()
    one.process(rs, ctx1)

    first = service("metering", kyiv, leak_nights=2, export_dir=str(tmp_path / "b"))
    ctx2 = Ctx()
    first.process(rs[:cut], ctx2)
    first.stop(ctx2)
    state = roundtrip(first.snapshot())
    second = service("metering", kyiv, leak_nights=2, export_dir=str(tmp_path / "b"))
    second.restore(state)
    second.process(rs[cut:], ctx2)

    assert ctx1.kinds() == ctx2.kinds() == ["metering.export", "metering.leak"]
    s1, s2 = one.summary(), second.summary()
    for key in ("daily", "open_days", "consumption", "leaks", "profile"):
        assert s1[key] == s2[key], key
    a = (tmp_path / "a" / "metering-billing-2026-03-02.csv").read_text()
    b = (tmp_path / "b" / "metering-billing-2026-03-02.csv").read_text()
    assert a == b


def test_devices_chosen_by_tag_and_medium_from_tag():
    pump = device("p1", "pulse_counter", tags=("medium=water",))
    other = device("x1", "generic", tags=("meter",))
    svc = service("metering", city(pump, other, W1), families=["pulse_counter"],
                  tags=["meter"], leak_media=["water"])
    assert svc.meta == {"p1": ("-", "water"), "x1": ("-", "generic")}


def test_bad_options_are_named():
    with pytest.raises(ValueError, match=r"services.metering.night: '2-5' is not a window like '02:00-05:00'"):
        service("metering", city(W1), night="2-5")
    with pytest.raises(ValueError, match="pressure_drop: must be a fraction"):
        service("metering", city(W1), pressure_drop=1.5)


def test_registers_in_other_units_are_converted():
    # Wh from a smart socket and l from a pulse counter add up with kWh and m3 meters
    svc = service("metering", city(E1, W1, W3))
    svc.process([R("e1", "2026-03-02T01:00", "energy", 1_000_000, "Wh"),
                 R("e1", "2026-03-02T02:00", "energy", 1_002_500, "Wh"),
                 R("w1", "2026-03-02T01:00", "volume", 1000, "l"),
                 R("w1", "2026-03-02T02:00", "volume", 1250, "l"),
                 R("w3", "2026-03-02T01:00", "volume", 3.0, "m3"),
                 R("w3", "2026-03-02T02:00", "volume", 3.5, "m3")], Ctx())
    assert svc.consumption("e1", "energy", "2026-03-02") == 2.5
    assert svc.summary()["consumption"] == {"electricity/energy": 2.5, "water/volume": 0.75}
    assert svc.reg["e1"]["energy"][4] == "kWh" and svc.reg["w1"]["volume"][4] == "m3"


@settings(max_examples=60, deadline=None)
@given(st.floats(0, 99_000), st.lists(st.floats(0, 900), min_size=1, max_size=40))
def test_consumption_is_the_sum_of_the_steps_across_rollovers(start, steps):
    # A register that wraps at 100000 m3: whatever it shows, the day's consumption is
    # what flowed through it.
    svc = service("metering", city(W1))
    t0 = ts("2026-03-02T00:10")
    readings, value = [R("w1", t0, "volume", round(start, 3), "m3")], round(start, 3)
    for i, step in enumerate(steps):
        value = round((value + round(step, 3)) % 100_000.0, 3)
        readings.append(R("w1", t0 + 1800 * (i + 1), "volume", value, "m3"))
    svc.process(readings, Ctx())
    used = sum(svc.days[d]["w1"]["volume"][4] for d in svc.days)
    assert used == pytest.approx(sum(round(s, 3) for s in steps), abs=1e-6)


def test_leak_nights_must_be_in_a_row():
    # Leaking nights 2, 4 and 5 March with no readings on the night of 3 March: only two
    # nights in a row, so no leak yet with leak_nights=3; the 6th makes three.
    svc = service("metering", city(W1, tz="Europe/Kyiv"), leak_nights=3)
    ctx = Ctx()
    for date in ("2026-03-02", "2026-03-04", "2026-03-05"):
        svc.process(night_readings("w1", date, [1] * 8), ctx)
    assert ctx.events == []
    assert svc.streak == {"w1": 2}
    state = roundtrip(svc.snapshot())
    svc = service("metering", city(W1, tz="Europe/Kyiv"), leak_nights=3)
    svc.restore(state)
    svc.process(night_readings("w1", "2026-03-06", [1] * 8), ctx)
    assert ctx.kinds() == ["metering.leak"]
    assert ctx.events[0].data["nights"] == 3 and ctx.events[0].data["night"] == "2026-03-06"


def test_intervals_on_the_days_summer_time_ends_and_starts(tmp_path):
    # Kyiv: 2026-10-25 has 25 hours (03:00-04:00 local twice), 2026-03-29 has 23.
    kyiv = city(W1, tz="Europe/Kyiv")
    for date, first_utc, hours in (("2026-10-25", "2026-10-24T21", 25),
                                   ("2026-03-29", "2026-03-28T22", 23)):
        out = tmp_path / date
        svc = service("metering", kyiv, export_dir=str(out))
        ctx = Ctx()
        t0 = ts(f"{first_utc}:30Z")
        svc.process([R("w1", t0 + i * 3600, "volume", 100.0 + i, "m3")
                     for i in range(hours + 2)], ctx)
        svc.stop(ctx)
        rows = read_csv(out / f"metering-intervals-{date}.csv")
        # One row per real hour, each starting an hour after the one before.
        assert [r["interval_start"] for r in rows] == [
            dt.datetime.fromtimestamp(t0 - 1800 + i * 3600, dt.UTC).strftime(
                "%Y-%m-%dT%H:00:00.000Z") for i in range(hours)]
        assert [float(r["consumption"]) for r in rows] == [0.0] + [1.0] * (hours - 1)
        assert svc.summary()["daily"] == {date: {"Tsentr": {"water/volume": hours - 1.0}}}


def test_a_late_reading_after_its_day_was_closed(tmp_path):
    # w2's uplink of 23:00 on 2 March arrives after the day was closed: billing counts
    # it on 3 March, and its interval row goes in 3 March's file, not in a .part file of
    # 2 March that would never be completed.
    svc = service("metering", city(W1, W2), export_dir=str(tmp_path))
    ctx = Ctx()
    svc.process([R("w1", "2026-03-02T10:00", "volume", 1.0, "m3"),
                 R("w2", "2026-03-02T10:00", "volume", 1.0, "m3"),
                 R("w1", "2026-03-03T01:00", "volume", 2.0, "m3")], ctx)
    svc.process([R("w2", "2026-03-02T23:00", "volume", 1.5, "m3")], ctx)
    svc.process([R("w1", "2026-03-04T01:00", "volume", 3.0, "m3")], ctx)
    svc.stop(ctx)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "metering-billing-2026-03-02.csv", "metering-billing-2026-03-03.csv",
        "metering-intervals-2026-03-02.csv", "metering-intervals-2026-03-03.csv"]
    assert svc.summary()["daily"]["2026-03-03"] == {"Tsentr": {"water/volume": 1.5}}
    got = {(r["device"], r["interval_start"], r["consumption"])
           for r in read_csv(tmp_path / "metering-intervals-2026-03-03.csv")}
    assert got == {("w1", "2026-03-03T01:00:00.000Z", "1.0"),
                   ("w2", "2026-03-02T23:00:00.000Z", "0.5")}
