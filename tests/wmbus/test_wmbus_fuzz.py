"""Random input: no crash (only DecodeError), and the compiled twin equals the pure one.

HROMADA_FUZZ_EXAMPLES=20000 runs a deeper search than the default 250 per test.
"""

import math
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from wmbus_vectors import (
    AMBER_LONG,
    KAMSTRUP_ELL,
    KAMSTRUP_KEY,
    LUG_HEAT,
    OMS_MODE5,
    OMS_MODE5_CRC,
    OMS_MODE5_KEY,
    OMS_MODE7,
    OMS_MODE7_CRC,
    OMS_MODE7_KEY,
)

from hromada import compiled
from hromada.errors import DecodeError
from hromada.wmbus.encode import CODINGS, raw_record, telegram

COMPILED, PURE = compiled.both("wmbus")
IMPLS = [PURE] if compiled.NO_EXTENSIONS or COMPILED is None else [COMPILED, PURE]
KEYS = {"ELS": OMS_MODE5_KEY, "KAM": KAMSTRUP_KEY}
SETTINGS = settings(max_examples=int(os.environ.get("HROMADA_FUZZ_EXAMPLES", "250")),
                    deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


def _key_for(manufacturer, ident):
    return KEYS.get(manufacturer, OMS_MODE7_KEY)


def _same(a, b):
    """Equality where NaN equals NaN (a real32 record may carry one)."""
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or a == b
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(map(_same, a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


def _outcome(fn, *args):
    try:
        return ("ok", fn(*args))
    except DecodeError as exc:
        return ("error", str(exc), exc.offset, exc.field)


def _check_all(name, *args):
    results = [_outcome(getattr(impl, name), *args) for impl in IMPLS]
    for r in results[1:]:
        assert _same(r, results[0]), (args, results)
    return results[0]


@given(st.binary(max_size=300))
@SETTINGS
def test_random_record_streams(data):
    _check_all("parse_records", data, 7)


@given(st.binary(min_size=0, max_size=260), st.sampled_from(["auto", "A", "B", "none"]))
@SETTINGS
def test_random_telegrams(data, fmt):
    _check_all("decode", data, _key_for, fmt)


@given(st.binary(min_size=11, max_size=255), st.sampled_from([0x78, 0x7A, 0x72, 0x8C,
                                                              0x8D, 0x90]))
@SETTINGS
def test_random_telegrams_with_valid_length_and_ci(body, ci):
    # L right and a known CI, so the random bytes reach the layers behind them.
    data = bytearray([len(body)]) + body
    data[11] = ci
    _check_all("decode", bytes(data), _key_for, "none")


VALID = [OMS_MODE5, OMS_MODE5_CRC, OMS_MODE7, OMS_MODE7_CRC, KAMSTRUP_ELL, LUG_HEAT,
         AMBER_LONG]


@given(st.sampled_from(VALID), st.lists(
    st.tuples(st.integers(0, 300), st.integers(0, 255), st.sampled_from(["set", "cut", "ins"])),
    min_size=1, max_size=4))
@SETTINGS
def test_mutated_published_telegrams(base, edits):
    data = bytearray(base)
    for pos, value, how in edits:
        if not data:
            break
        pos %= len(data)
        if how == "set":
            data[pos] = value
        elif how == "cut":
            del data[pos:]
        else:
            data.insert(pos, value)
    _check_all("decode", bytes(data), _key_for, "auto")


_VIFS = st.one_of(st.integers(0, 0x7F).filter(lambda v: v not in (0x7B, 0x7C, 0x7D)),
                  st.tuples(st.sampled_from([0xFB, 0xFD]), st.integers(0, 0x7F)).map(bytes))


@st.composite
def _records(draw):
    out = b""
    for _ in range(draw(st.integers(0, 12))):
        coding = draw(st.sampled_from(sorted(set(CODINGS) - {"var"})))
        size = CODINGS[coding][1]
        raw = draw(st.binary(min_size=size, max_size=size)) if size else None
        out += raw_record(draw(_VIFS), raw, coding,
                          storage=draw(st.integers(0, 40)), tariff=draw(st.integers(0, 3)),
                          subunit=draw(st.integers(0, 1)),
                          function=draw(st.sampled_from(["instantaneous", "maximum",
                                                         "minimum", "error"])))
    return out


@given(_records(), st.sampled_from([0, 5, 7]), st.sampled_from(["none", "A", "B"]),
       st.sampled_from([None, "8c", "8d"]))
@SETTINGS
def test_encoded_telegrams_decode_identically(records, mode, fmt, ell):
    if mode and len(records) > 200:
        return
    t = telegram(records, manufacturer="ELS", security_mode=mode, key=OMS_MODE5_KEY,
                 ell=ell, ell_encrypt=ell == "8d", frame_format=fmt)
    result = _check_all("decode", t, _key_for, "auto")
    # Every record the encoder wrote comes back (the plaintext padding adds none).
    assert result[0] == "ok", result
    header, recs = result[1]
    assert header["frame_format"] == fmt
    assert len(recs) == len(PURE.parse_records(records))


@pytest.mark.parametrize("impl", IMPLS)
def test_inputs_of_other_types(impl):
    assert impl.parse_records(bytearray(b"\x01\x16\x05")) == [
        ("volume", 5, "m3", 0, 0, 0, "instantaneous", "0116")]
    assert impl.decode(memoryview(LUG_HEAT))[0]["id"] == "67991306"
