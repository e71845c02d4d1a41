"""hromada.senml: RFC 8428 packs resolved exactly as the RFC's examples say."""

import json

import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hromada import senml
from hromada.errors import DecodeError

# RFC 8428 section 5.1.2, second example: current at each second for 5 seconds.
MULTIPLE_DATAPOINTS = b"""[
 {"bn":"urn:dev:ow:10e2073a0108006:","bt":1.276020076001e+09,
  "bu":"A","bver":5,
  "n":"voltage","u":"V","v":120.1},
 {"n":"current","t":-5,"v":1.2},
 {"n":"current","t":-4,"v":1.3},
 {"n":"current","t":-3,"v":1.4},
 {"n":"current","t":-2,"v":1.5},
 {"n":"current","t":-1,"v":1.6},
 {"n":"current","v":1.7}
]"""

# RFC 8428 section 5.1.3 (multiple measurements) and 5.1.4 (the same, resolved).
MULTIPLE_MEASUREMENTS = b"""[
 {"bn":"urn:dev:ow:10e2073a01080063","bt":1.320067464e+09,
  "bu":"%RH","v":20},
 {"u":"lon","v":24.30621},
 {"u":"lat","v":60.07965},
 {"t":60,"v":20.3},
 {"u":"lon","t":60,"v":24.30622},
 {"u":"lat","t":60,"v":60.07965},
 {"t":120,"v":20.7},
 {"u":"lon","t":120,"v":24.30623},
 {"u":"lat","t":120,"v":60.07966},
 {"u":"%EL","t":150,"v":98},
 {"t":180,"v":21.2},
 {"u":"lon","t":180,"v":24.30628},
 {"u":"lat","t":180,"v":60.07967}
]"""
RESOLVED = [
    ("%RH", 1.320067464e+09, 20), ("lon", 1.320067464e+09, 24.30621),
    ("lat", 1.320067464e+09, 60.07965), ("%RH", 1.320067524e+09, 20.3),
    ("lon", 1.320067524e+09, 24.30622), ("lat", 1.320067524e+09, 60.07965),
    ("%RH", 1.320067584e+09, 20.7), ("lon", 1.320067584e+09, 24.30623),
    ("lat", 1.320067584e+09, 60.07966), ("%EL", 1.320067614e+09, 98),
    ("%RH", 1.320067644e+09, 21.2), ("lon", 1.320067644e+09, 24.30628),
    ("lat", 1.320067644e+09, 60.07967),
]


def test_single_datapoint():  # RFC 8428 section 5.1.1
    [rec] = senml.loads(b'[{"n":"urn:dev:ow:10e2073a01080063","u":"Cel","v":23.1}]')
    assert (rec.name, rec.unit, rec.value, rec.time, rec.relative) == (
        "urn:dev:ow:10e2073a01080063", "Cel", 23.1, 0, True)


def test_multiple_datapoints_now():  # RFC 8428 section 5.1.2, first example
    recs = senml.loads(b'[{"bn":"urn:dev:ow:10e2073a01080063:","n":"voltage","u":"V",'
                       b'"v":120.1},{"n":"current","u":"A","v":1.2}]')
    assert [(r.name, r.local, r.unit, r.value, r.relative) for r in recs] == [
        ("urn:dev:ow:10e2073a01080063:voltage", "voltage", "V", 120.1, True),
        ("urn:dev:ow:10e2073a01080063:current", "current", "A", 1.2, True)]


def test_multiple_datapoints_base_time_base_unit_relative_times():
    recs = senml.loads(MULTIPLE_DATAPOINTS)
    assert [(r.name, r.unit, r.value, r.time, r.version) for r in recs] == [
        ("urn:dev:ow:10e2073a0108006:voltage", "V", 120.1, 1276020076.001, 5),
        ("urn:dev:ow:10e2073a0108006:current", "A", 1.2, 1276020071.001, 5),
        ("urn:dev:ow:10e2073a0108006:current", "A", 1.3, 1276020072.001, 5),
        ("urn:dev:ow:10e2073a0108006:current", "A", 1.4, 1276020073.001, 5),
        ("urn:dev:ow:10e2073a0108006:current", "A", 1.5, 1276020074.001, 5),
        ("urn:dev:ow:10e2073a0108006:current", "A", 1.6, 1276020075.001, 5),
        ("urn:dev:ow:10e2073a0108006:current", "A", 1.7, 1276020076.001, 5)]
    assert not any(r.relative for r in recs)


def test_multiple_measurements_resolve_to_the_rfc_resolved_pack():
    recs = senml.loads(MULTIPLE_MEASUREMENTS)
    assert [(r.unit, r.time, r.value) for r in recs] == RESOLVED
    assert {r.name for r in recs} == {"urn:dev:ow:10e2073a01080063"}
    assert {r.local for r in recs} == {""}


def test_multiple_data_types():  # RFC 8428 section 5.1.5
    recs = senml.loads(b'[{"bn":"urn:dev:ow:10e2073a01080063:","n":"temperature","u":"Cel",'
                       b'"v":23.4},{"n":"label","vs":"Machine Room"},{"n":"open","vb":false},'
                       b'{"n":"nfc-reader","vd":"aGkgCg"}]')
    assert [(r.local, r.value) for r in recs] == [
        ("temperature", 23.4), ("label", "Machine Room"), ("open", False),
        ("nfc-reader", b"hi \n")]


def test_cbor_pack_of_section_6_resolves_like_its_json():
    """RFC 8428 section 6: the same pack with CBOR labels -2 bn, -3 bt, -4 bu, -1 bver,
    0 n, 1 u, 2 v, 6 t (built here with cbor2, not with hromada's encoder)."""
    pack = [{-2: "urn:dev:ow:10e2073a0108006:", -3: 1276020076.001, -4: "A", -1: 5,
             0: "voltage", 1: "V", 2: 120.1}]
    pack += [{0: "current", 6: t, 2: v}
             for t, v in ((-5, 1.2), (-4, 1.3), (-3, 1.4), (-2, 1.5), (-1, 1.6))]
    pack.append({0: "current", 2: 1.7})
    data = cbor2.dumps(pack)
    assert data[:5] == bytes.fromhex("87a721781b")  # array(7), map(7), -2, text(27)
    assert senml.loads(data, "cbor") == senml.loads(MULTIPLE_DATAPOINTS)


def test_base_value_base_sum_and_update_time():
    recs = senml.loads(b'[{"bn":"meter/","bv":1000,"bs":50,"n":"water","u":"l","v":12,'
                       b'"s":5,"ut":300},{"n":"water","v":13.5},{"n":"gas","s":1},'
                       b'{"bn":"x","n":"","vs":"text"}]')
    assert [(r.name, r.value, r.sum, r.update_time) for r in recs] == [
        ("meter/water", 1012, 55, 300), ("meter/water", 1013.5, None, None),
        ("meter/gas", None, 51, None), ("x", "text", None, None)]
    assert type(recs[0].value) is int


def test_a_value_without_base_value_keeps_its_type():
    [rec] = senml.loads(b'[{"n":"count","v":7}]')
    assert rec.value == 7 and type(rec.value) is int


def test_relative_times_become_absolute_with_now():
    recs = senml.loads(b'[{"n":"a","v":1},{"n":"a","t":-60,"v":2},{"bt":-10,"n":"a","v":3}]',
                       now=1_700_000_000.5)
    assert [(r.time, r.relative) for r in recs] == [
        (1_700_000_000.5, False), (1_699_999_940.5, False), (1_699_999_990.5, False)]
    rel = senml.loads(b'[{"n":"a","t":-60,"v":2}]')[0]
    assert rel.relative and rel.at(100.0) == 40.0
    # 2**28 and above are absolute
    assert senml.loads(b'[{"n":"a","t":268435456,"v":1}]')[0].relative is False


def test_unknown_fields_are_ignored_and_must_understand_fields_rejected():
    [rec] = senml.loads(b'[{"n":"a","v":1,"foo":{"x":1}}]')
    assert rec.value == 1
    with pytest.raises(DecodeError) as exc:
        senml.loads(b'[{"n":"a","v":1,"new_":2}]')
    assert str(exc.value) == ("record 0: field 'new_' must be understood (it ends with '_') "
                              "and is not supported")
    assert exc.value.field == "new_"
    # CBOR: an unknown integer label is an extension the receiver may ignore
    [rec] = senml.loads(cbor2.dumps([{0: "a", 2: 1, 99: "x"}]), "cbor")
    assert rec.value == 1


@pytest.mark.parametrize("data, message, field, offset", [
    (b'{"n":"a"}', "SenML JSON: a pack must be an array of records, not a map", None, None),
    (b'[1]', "record 0: must be a JSON object, not a number", None, None),
    (b'[{"n":"a","v":1},{"n":"b","v":"2"}]',
     "record 1: 'v' must be a number, not a string", "v", None),
    (b'[{"n":"a","v":true}]', "record 0: 'v' must be a number, not a boolean", "v", None),
    (b'[{"n":"a","vb":1}]', "record 0: 'vb' must be a boolean, not a number", "vb", None),
    (b'[{"n":"a","vs":3}]', "record 0: 'vs' must be a string, not a number", "vs", None),
    (b'[{"n":"a","vd":"!!"}]', "record 0: 'vd' is not base64url data", "vd", None),
    (b'[{"n":"a","v":1,"vs":"x"}]',
     "record 0: has more than one value field (v, vs)", "vs", None),
    (b'[{"n":"a"}]', "record 0: has no value (v, vs, vb or vd) and no sum (s)", "v", None),
    (b'[{"n":"a b","v":1}]',
     "record 0: name 'a b' has characters SenML does not allow (letters, digits and "
     "- : . / _ only, starting with a letter or digit)", "n", None),
    (b'[{"n":"-a","v":1}]',
     "record 0: name '-a' has characters SenML does not allow (letters, digits and "
     "- : . / _ only, starting with a letter or digit)", "n", None),
    (b'[{"bver":0,"n":"a","v":1}]',
     "record 0: 'bver' must be a positive integer, not 0", "bver", None),
    (b'[{"n":"a","v":1e999}]', "record 0: 'v' must be a finite number, not inf", "v", None),
    (b'[{"n":"a","v":NaN}]', "SenML JSON: NaN is not a JSON number", None, None),
    (b'[{"n":"a","v":1}', "SenML JSON: Expecting ',' delimiter at offset 16", None, 16),
    (b'\xff[]', "SenML JSON: not UTF-8 text at byte 0", None, 0),
])
def test_bad_json_packs_say_what_and_where(data, message, field, offset):
    with pytest.raises(DecodeError) as exc:
        senml.loads(data)
    assert (str(exc.value), exc.value.field, exc.value.offset) == (message, field, offset)


@pytest.mark.parametrize("pack, message", [
    ({0: "a"}, "SenML CBOR: a pack must be an array of records, not a map"),
    ([{0: "a", 2: b"x"}], "record 0: 'v' must be a number, not a byte string"),
    ([{0: "a", 8: "aGk"}], "record 0: 'vd' must be a byte string, not a string"),
    ([{1.5: "a", 2: 1}], "record 0: field label 1.5 is neither a string nor an integer"),
])
def test_bad_cbor_packs_say_what(pack, message):
    with pytest.raises(DecodeError) as exc:
        senml.loads(cbor2.dumps(pack), "cbor")
    assert str(exc.value) == message


def test_truncated_cbor_is_a_decode_error():
    data = senml.dumps([{"n": "temperature", "v": 21.5}], "cbor")
    for cut in range(len(data)):
        with pytest.raises(DecodeError) as exc:
            senml.loads(data[:cut], "cbor")
        assert str(exc.value).startswith("SenML CBOR: ")


def test_dumps_writes_rfc_labels():
    data = senml.dumps([{"bn": "d:", "n": "t", "u": "Cel", "v": 21.5, "vd": b"\x00\xff"}])
    assert json.loads(data) == [{"bn": "d:", "n": "t", "u": "Cel", "v": 21.5, "vd": "AP8"}]
    assert cbor2.loads(senml.dumps([{"bn": "d:", "t": -1, "vb": True}], "cbor")) == [
        {-2: "d:", 6: -1, 4: True}]
    with pytest.raises(ValueError):
        senml.dumps([{"value": 1}])


_names = st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True)
_records = st.lists(st.fixed_dictionaries(
    {"n": _names},
    optional={"u": st.sampled_from(["Cel", "V", "%RH", "m3"]),
              "t": st.integers(-10_000, 10_000),
              "bt": st.floats(1.5e9, 1.8e9),
              "bv": st.integers(-100, 100)},
).flatmap(lambda rec: st.one_of(
    st.just({**rec, "v": 1.25}), st.just({**rec, "vs": "on"}), st.just({**rec, "vb": False}),
    st.binary(max_size=8).map(lambda b: {**rec, "vd": b}),
    st.floats(-1e6, 1e6).map(lambda x: {**rec, "v": x}),
)), max_size=6)


@settings(max_examples=60, deadline=None)
@given(records=_records)
def test_json_and_cbor_resolve_alike(records):
    assert senml.loads(senml.dumps(records, "json")) == senml.loads(
        senml.dumps(records, "cbor"), "cbor")


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=64), fmt=st.sampled_from(["json", "cbor"]))
def test_random_bytes_never_crash(data, fmt):
    try:
        senml.loads(data, fmt)
    except DecodeError:
        pass


# -- review fixes ------------------------------------------------------------------------

def test_a_name_ending_in_a_newline_is_refused():
    # "$" in a regular expression also matches before a final "\n"
    with pytest.raises(DecodeError) as exc:
        senml.loads(b'[{"n":"temp\\n","v":1}]')
    assert (str(exc.value), exc.value.field) == (
        "record 0: name 'temp\\n' has characters SenML does not allow (letters, digits "
        "and - : . / _ only, starting with a letter or digit)", "n")


def test_a_newer_senml_version_is_refused():  # RFC 8428 section 4.4
    with pytest.raises(DecodeError) as exc:
        senml.loads(b'[{"bver":11,"n":"a","v":1}]')
    assert (str(exc.value), exc.value.field) == (
        "record 0: SenML version 11 is newer than this receiver understands (10)", "bver")
    [rec] = senml.loads(b'[{"bver":10,"n":"a","v":1}]')
    assert rec.version == 10


@pytest.mark.parametrize("data, fmt", [
    (b'[{"n":"a","v":1,"v":2}]', "json"),
    (cbor2.dumps([{0: "a", 2: 1, "v": 5}]), "cbor"),
])
def test_a_field_given_twice_in_a_record_is_refused(data, fmt):
    with pytest.raises(DecodeError) as exc:
        senml.loads(data, fmt)
    assert (str(exc.value), exc.value.field) == ("record 0: field 'v' appears twice", "v")
