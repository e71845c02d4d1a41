import math

import msgpack
import pytest

from hromada import Command, Device, Event, Frame, Reading
from hromada.units import UNITS, check_unit


def test_frame_msgpack_round_trip():
    f = Frame(b"\x01\x67\x00\xff", "sim", "70b3d57ed0000001", 1, 42, 1780000000.5,
              {"rssi": -97, "gateway": "aa555a0000000101"}, "sim")
    back = Frame.from_msgpack(f.to_msgpack())
    assert back == f
    assert back.rx == {"rssi": -97, "gateway": "aa555a0000000101"}
    assert isinstance(back.payload, bytes)


def test_reading_event_command_round_trip():
    r = Reading("dev1", 1780000000.0, "temperature_1", 21.5, "Cel")
    assert Reading.from_msgpack(r.to_msgpack()) == r
    e = Event("water.leak", "critical", "dev1", 1.0, {"nights": 3}, "leaks")
    back = Event.from_msgpack(e.to_msgpack())
    assert back == e and back.data == {"nights": 3}
    c = Command("dev1", 2, b"\x01\x28", {"dim": 40}, True, 5.0, "lighting")
    back = Command.from_msgpack(c.to_msgpack())
    assert back == c and back.action == {"dim": 40}


def test_frame_record_layout_is_a_msgpack_list():
    # The ring carries this exact layout; sources pack it without building a Frame.
    f = Frame(b"ab", "sim", "d", 1, 2, 3.0, {}, "s")
    assert msgpack.unpackb(f.to_msgpack()) == ["sim", "d", 1, 2, 3.0, b"ab", {}, "s"]


def test_models_are_frozen_and_slotted():
    r = Reading("d", 0.0, "q", 1, "")
    with pytest.raises(AttributeError):
        r.value = 2
    assert not hasattr(r, "__dict__")
    d = Device("abc", "cayenne/lpp", tags=["a", "b"])
    assert d.tags == ("a", "b")


def test_event_severity_is_checked():
    with pytest.raises(ValueError, match="severity must be one of"):
        Event("x", "fatal")


def test_units_table_senml_first():
    for senml in ("Cel", "%RH", "m3", "dB", "W", "Wh", "Pa", "lx", "%"):
        assert check_unit(senml) == senml
    for own in ("ug/m3", "ppm", "kWh"):
        assert "(hromada)" in UNITS[own]
    with pytest.raises(ValueError, match="unknown unit 'degC'"):
        check_unit("degC")


def test_nan_reading_round_trips():
    r = Reading("d", 0.0, "q", float("nan"), "")
    assert math.isnan(Reading.from_msgpack(r.to_msgpack()).value)
