"""JSCodec: JavaScript codecs to The Things Stack / ChirpStack contract, with limits."""

import datetime as dt
import os
import threading
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hromada.errors import DecodeError, EncodeError, PluginError

pytest.importorskip("quickjs", reason="the JavaScript engine (pip install 'hromada[js]')")

from hromada.codecs import JSCodec, js_device_model  # noqa: E402
from hromada.codecs.js import available_engines  # noqa: E402
from hromada.testing import check_model  # noqa: E402

CODECS = Path(__file__).parent / "codecs"
CLIMATE_MAPPING = {
    "temperature": ("temperature", "Cel"),
    "humidity": ("humidity", "%RH"),
    "battery.millivolts": ("battery", "V", 0.001),
    "door_open": {"quantity": "door_open"},
}


@pytest.fixture(scope="module", params=available_engines(), autouse=True)
def engine(request):
    """Every test runs on each installed engine (the default engine follows the env)."""
    old = os.environ.get("HROMADA_JS_ENGINE")
    os.environ["HROMADA_JS_ENGINE"] = request.param
    yield request.param
    if old is None:
        del os.environ["HROMADA_JS_ENGINE"]
    else:
        os.environ["HROMADA_JS_ENGINE"] = old


def load(name, **kwargs):
    return JSCodec.from_file(CODECS / name, **kwargs)


# -- the contract ----------------------------------------------------------------------------


def test_decode_uplink_returns_the_scripts_object(engine):
    codec = load("climate.js", engine=engine)
    assert codec.engine == engine
    assert codec.decode_uplink(bytes.fromhex("00d7500bb801"), 1) == {
        "data": {"temperature": 21.5, "humidity": 40, "battery": {"millivolts": 3000},
                 "door_open": True, "received": None},
        "warnings": [], "errors": []}
    assert codec.last_result["data"]["temperature"] == 21.5


def test_decode_uplink_gives_negative_values_and_warnings(engine):
    codec = load("climate.js", engine=engine)
    out = codec.decode_uplink(bytes.fromhex("ff9c000a2800"), 1)
    assert out["data"]["temperature"] == -10.0
    assert out["data"]["door_open"] is False
    assert out["warnings"] == ["battery low"]


def test_errors_the_script_reports_stay_in_the_result(engine):
    codec = load("climate.js", engine=engine)
    assert codec.decode_uplink(b"\x00", 1) == {"errors": ["payload too short: 1 bytes, need 6"]}
    assert codec.decode_uplink(b"\x00" * 6, 9) == {"errors": ["unknown fPort 9"]}


@pytest.mark.parametrize("recv_time", [
    1700000000,
    1700000000.0,
    dt.datetime(2023, 11, 14, 22, 13, 20, tzinfo=dt.UTC),
    dt.datetime(2023, 11, 14, 22, 13, 20),  # naive: taken as UTC
])
def test_recv_time_is_a_date(engine, recv_time):
    codec = load("climate.js", engine=engine)
    out = codec.decode_uplink(bytes.fromhex("00d7500bb801"), 1, recv_time=recv_time)
    assert out["data"]["received"] == "2023-11-14T22:13:20.000Z"


def test_bytes_reach_the_script_intact():
    codec = JSCodec("function decodeUplink(i) { return {data: {b: i.bytes, p: i.fPort}}; }",
                    name="echo.js")
    payload = bytes(range(256))
    assert codec.decode_uplink(payload, 223) == {"data": {"b": list(range(256)), "p": 223}}
    assert codec.decode_uplink(b"", 0) == {"data": {"b": [], "p": 0}}


_ECHO = {}


@settings(max_examples=60, deadline=None)
@given(payload=st.binary(max_size=64), fport=st.integers(0, 255))
def test_any_bytes_round_trip_through_the_engine(engine, payload, fport):
    codec = _ECHO.get(engine)
    if codec is None:
        codec = _ECHO[engine] = JSCodec(
            "function decodeUplink(i) { return {data: {b: i.bytes, p: i.fPort}}; }",
            name="echo.js")
    assert codec.engine == engine
    assert codec.decode_uplink(payload, fport) == {"data": {"b": list(payload), "p": fport}}


def test_variables_reach_the_script():
    src = "function decodeUplink(i) { return {data: {v: i.variables}}; }"
    codec = JSCodec(src, name="vars.js", variables={"depth": "120"})
    assert codec.decode_uplink(b"\x01", 1) == {"data": {"v": {"depth": "120"}}}
    assert JSCodec(src, name="v.js").decode_uplink(b"", 1) == {"data": {}}


def test_json_conversion_of_odd_values():
    src = ("function decodeUplink(i) { return {data: {u: undefined, n: NaN, "
           "d: new Date(0), s: 'x'}}; }")
    assert JSCodec(src, name="odd.js").decode_uplink(b"", 1) == {
        "data": {"n": None, "d": "1970-01-01T00:00:00.000Z", "s": "x"}}


def test_legacy_decoders():
    v2 = load("legacy_ttn_v2.js")
    assert v2.decode_uplink(b"\x07\x00", 9) == {
        "data": {"port": 9, "first": 7, "count": 2}, "warnings": [], "errors": []}
    v3 = JSCodec("function Decode(fPort, bytes, variables) { return {n: bytes.length}; }",
                 name="cs3.js")
    assert v3.decode_uplink(b"\x01\x02", 5)["data"] == {"n": 2}


def test_encode_and_decode_downlink(engine):
    codec = load("streetlight.js", engine=engine)
    assert codec.encode_downlink({"dim": 40, "on": True}) == {
        "bytes": [1, 1, 40], "fPort": 10, "warnings": [], "errors": []}
    assert codec.downlink_bytes({"dim": 40, "on": True}) == (10, b"\x01\x01\x28")
    assert codec.decode_downlink(b"\x01\x00\x64", 10) == {
        "data": {"on": False, "dim": 100}, "warnings": [], "errors": []}


def test_encode_downlink_errors():
    codec = load("streetlight.js")
    assert codec.encode_downlink({"dim": 140}) == {"errors": ["dim must be 0..100, got 140"]}
    with pytest.raises(EncodeError) as info:
        codec.downlink_bytes({"dim": 140})
    assert str(info.value) == ("JS codec streetlight.js: encodeDownlink reported: dim must "
                               "be 0..100, got 140")
    with pytest.raises(EncodeError, match="^JS codec streetlight.js: downlink data is not "
                                          "JSON: Object of type bytes"):
        codec.encode_downlink({"dim": b"x"})
    with pytest.raises(EncodeError, match="^JS codec climate.js: the script defines no "
                                          "encodeDownlink$"):
        load("climate.js").encode_downlink({})


def test_downlink_bytes_must_be_bytes():
    codec = JSCodec("function decodeUplink(i) { return {}; }\n"
                    "function encodeDownlink(i) { return {bytes: [1, 256], fPort: 2}; }",
                    name="big.js")
    with pytest.raises(EncodeError) as info:
        codec.downlink_bytes({})
    assert str(info.value) == ("JS codec big.js: encodeDownlink bytes[1] is 256, not an "
                               "integer 0..255")


# -- failures and limits ------------------------------------------------------------------------


def test_a_throwing_script_is_a_decode_error(engine):
    codec = load("throws.js", engine=engine)
    with pytest.raises(DecodeError) as info:
        codec.decode_uplink(b"\x05\x00", 1)
    assert str(info.value).startswith("JS codec throws.js: decodeUplink(fPort 1, 2 bytes) "
                                      "threw Error: unsupported frame type 5")
    assert codec.decode_uplink(b"\x01", 1) == {"data": {"ok": True}}


def test_throwing_a_plain_value():
    codec = JSCodec("function decodeUplink(i) { throw 'bad length'; }", name="plain.js")
    with pytest.raises(DecodeError, match=r"^JS codec plain.js: decodeUplink\(fPort 3, 0 bytes\)"
                                          r" threw bad length"):
        codec.decode_uplink(b"", 3)


def test_an_endless_loop_times_out_and_the_codec_goes_on(engine):
    codec = load("loop.js", engine=engine, timeout=0.05)
    t0 = time.perf_counter()
    with pytest.raises(DecodeError) as info:
        codec.decode_uplink(b"\x01", 2)
    elapsed = time.perf_counter() - t0
    assert str(info.value) == ("JS codec loop.js: decodeUplink(fPort 2, 1 bytes) timed out "
                               "after 50 ms")
    assert elapsed < 5  # stopped, not hung (generous: a busy 2-core box)
    assert codec.decode_uplink(b"\x01", 1) == {"data": {"port": 1}}
    with pytest.raises(DecodeError, match="timed out"):
        codec.decode_uplink(b"\x01", 2)
    assert codec.decode_uplink(b"\x01", 4) == {"data": {"port": 4}}


def test_a_script_cannot_catch_the_time_limit():
    codec = JSCodec("function decodeUplink(i) {\n"
                    "  for (;;) { try { for (;;) {} } catch (e) { } }\n}", name="sly.js",
                    timeout=0.05)
    with pytest.raises(DecodeError, match="^JS codec sly.js: decodeUplink\\(fPort 1, 0 bytes\\) "
                                          "timed out after 50 ms$"):
        codec.decode_uplink(b"", 1)


def test_unbounded_allocation_hits_the_memory_limit(engine):
    codec = load("hog.js", engine=engine, memory_limit=8 * 1024 * 1024, timeout=5)
    with pytest.raises(DecodeError) as info:
        codec.decode_uplink(b"\x01\x02", 3)
    assert str(info.value) == ("JS codec hog.js: decodeUplink(fPort 3, 2 bytes) exceeded the "
                               "memory limit of 8 MiB")
    assert codec.decode_uplink(b"\x01", 1) == {"data": {"port": 1, "kept": 0}}
    with pytest.raises(DecodeError, match="memory limit"):
        codec.decode_uplink(b"\x01\x02", 3)
    assert codec.decode_uplink(b"\x01", 1) == {"data": {"port": 1, "kept": 0}}


def test_deep_recursion_is_an_error_not_a_crash():
    codec = JSCodec("function f(n) { return f(n + 1) + 1; }\n"
                    "function decodeUplink(i) { return {data: {x: f(0)}}; }", name="deep.js")
    with pytest.raises(DecodeError, match=r"^JS codec deep.js: decodeUplink\(fPort 1, 0 bytes\) "
                                          r"threw stack overflow \(recursion too deep\)$"):
        codec.decode_uplink(b"", 1)


def test_each_codec_has_its_own_globals():
    src = ("var calls = 0;\n"
           "function decodeUplink(i) { calls += 1; return {data: {calls: calls}}; }")
    a, b = JSCodec(src, name="a.js"), JSCodec(src, name="b.js")
    a.decode_uplink(b"", 1)
    a.decode_uplink(b"", 1)
    assert a.decode_uplink(b"", 1)["data"]["calls"] == 3
    assert b.decode_uplink(b"", 1)["data"]["calls"] == 1


def test_no_host_access():
    src = ("function decodeUplink(i) { return {data: {req: typeof require, "
           "proc: typeof process, std: typeof std, os: typeof os}}; }")
    assert JSCodec(src, name="sandbox.js").decode_uplink(b"", 1)["data"] == {
        "req": "undefined", "proc": "undefined", "std": "undefined", "os": "undefined"}


@pytest.mark.parametrize("src, message", [
    ("function decodeUplink(i) { return 1; }", "returned int 1, not an object"),
    ("function decodeUplink(i) { return [1]; }", "returned list [1], not an object"),
    ("function decodeUplink(i) { }", "returned undefined, not an object"),
    ("function decodeUplink(i) { return {data: {big: 1n}}; }", "threw TypeError"),
])
def test_odd_return_values(src, message):
    codec = JSCodec(src, name="odd.js")
    with pytest.raises(DecodeError, match=r"^JS codec odd.js: decodeUplink\(fPort 1, 0 bytes\) "
                                          + message.replace("[", r"\[").replace("]", r"\]")):
        codec.decode_uplink(b"", 1)


def test_loading_failures_are_plugin_errors(tmp_path):
    with pytest.raises(PluginError, match=r"^JS codec syntax.js: loading the script failed: "
                                          r"SyntaxError"):
        JSCodec("function decodeUplink( {", name="syntax.js")
    with pytest.raises(PluginError, match=r"^JS codec top.js: loading the script failed: "
                                          r"Error: no tables"):
        JSCodec("throw new Error('no tables');", name="top.js")
    with pytest.raises(PluginError, match=r"^JS codec spin.js: loading the script took longer "
                                          r"than 50 ms$"):
        JSCodec("while (true) {}", name="spin.js", timeout=0.05)
    with pytest.raises(PluginError, match=r"^JS codec none.js: the script defines no "
                                          r"decodeUplink\(input\)"):
        JSCodec("function encodeDownlink(i) { return {}; }", name="none.js")
    with pytest.raises(PluginError, match=r"^JS codec .*missing.js: cannot read it: No such file"):
        JSCodec.from_file(tmp_path / "missing.js")
    (tmp_path / "latin.js").write_bytes(b"// caf\xe9\n")
    with pytest.raises(PluginError, match=r"^JS codec .*latin.js: not UTF-8 text \(invalid "
                                          r"continuation byte at byte 6\)$"):
        JSCodec.from_file(tmp_path / "latin.js")


def test_limits_are_checked():
    with pytest.raises(ValueError, match="timeout must be positive"):
        JSCodec("function decodeUplink(i){}", timeout=0)
    with pytest.raises(ValueError, match="memory_limit must be at least 1 MiB"):
        JSCodec("function decodeUplink(i){}", memory_limit=1000)
    with pytest.raises(PluginError, match="unknown JavaScript engine 'rhino'"):
        JSCodec("function decodeUplink(i){}", engine="rhino")


def test_codec_is_safe_to_share_between_threads():
    codec = load("climate.js")
    errors = []

    def work(seed):
        try:
            for i in range(200):
                t = (seed * 1000 + i) % 3000 - 1500
                payload = (t & 0xFFFF).to_bytes(2, "big") + b"\x50\x0b\xb8\x00"
                out = codec.decode_uplink(payload, 1)
                assert out["data"]["temperature"] == t / 10
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(s,)) for s in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


# -- device models backed by a JS codec -----------------------------------------------------------


def climate_model(**kwargs):
    examples = [
        {"payload": "00d7500bb801", "fport": 1,
         "readings": [("temperature", 21.5, "Cel"), ("humidity", 40, "%RH"),
                      ("battery", 3.0, "V"), ("door_open", True, "")]},
        {"payload": "ff9c000a2800", "fport": 1,
         "readings": [("temperature", -10.0, "Cel"), ("humidity", 0, "%RH"),
                      ("battery", 2.6, "V"), ("door_open", False, "")]},
        {"payload": "0000c80e1000", "fport": 1,
         "readings": [("temperature", 0.0, "Cel"), ("humidity", 100, "%RH"),
                      ("battery", 3.6, "V"), ("door_open", False, "")]},
    ]
    return js_device_model("acme/climate-js", "climate", CODECS / "climate.js",
                           CLIMATE_MAPPING, examples=examples, **kwargs)


def test_js_device_model_maps_data_to_readings():
    model = climate_model()
    assert model.quantities == {"temperature": "Cel", "humidity": "%RH", "battery": "V",
                                "door_open": ""}
    assert model.decode(bytes.fromhex("00d7500bb801"), 1, {}) == [
        ("temperature", 21.5, "Cel"), ("humidity", 40, "%RH"), ("battery", 3.0, "V"),
        ("door_open", True, "")]
    readings, raw = model.decode.decode_raw(bytes.fromhex("00d7500bb801"), 1)
    assert raw["data"]["battery"] == {"millivolts": 3000}
    assert model.decode.codec.last_result is raw


def test_js_device_model_passes_hromada_testing():
    assert check_model(climate_model(), fuzz_examples=60) == []


def test_js_device_model_script_errors_are_decode_errors():
    model = climate_model()
    with pytest.raises(DecodeError) as info:
        model.decode(b"\x00", 1, {})
    assert str(info.value) == ("JS codec climate.js: decodeUplink reported: payload too "
                               "short: 1 bytes, need 6")


def test_mapping_forms_and_paths(tmp_path):
    src = ("function decodeUplink(i) { return {data: {a: {b: [5, {c: 7}]}, s: 'ok', "
           "n: null, o: {x: 1}}}; }")
    path = tmp_path / "paths.js"
    path.write_text(src)
    model = js_device_model("acme/paths", "generic", path, [
        {"field": "a.b.0", "quantity": "first", "unit": "m", "scale": 0.5},
        {"field": "a.b.1.c", "quantity": "second"},
        {"field": "a.b.9", "quantity": "absent"},
        {"field": "n", "quantity": "null_value"},
        {"field": "s", "quantity": "state"},
    ])
    assert model.decode(b"", 1, {}) == [("first", 2.5, "m"), ("second", 7, ""),
                                         ("state", "ok", "")]
    bad = js_device_model("acme/paths", "generic", path, {"o": ("object", "")})
    with pytest.raises(DecodeError, match=r"^JS codec paths.js: data.o is dict, not a "
                                          r"number, boolean or string$"):
        bad.decode(b"", 1, {})
    with pytest.raises(ValueError, match="unknown unit 'celsius'"):
        js_device_model("acme/x", "climate", CODECS / "climate.js",
                        {"temperature": ("temperature", "celsius")})
    with pytest.raises(ValueError, match=r"mapping of 'temperature': unknown keys \['units'\]"):
        js_device_model("acme/x", "climate", CODECS / "climate.js",
                        {"temperature": {"quantity": "t", "units": "Cel"}})


def test_js_device_model_downlinks():
    model = js_device_model(
        "acme/light-js", "street_light", CODECS / "streetlight.js",
        {"on": ("lamp_on", "bool"), "dim": ("dimming_level", "%"), "power": ("power", "W")})
    assert model.decode(bytes.fromhex("01280064"), 2, {}) == [
        ("lamp_on", True, "bool"), ("dimming_level", 40, "%"), ("power", 10.0, "W")]
    assert model.encode_downlink({"dim": 40, "on": True}, {}) == (10, b"\x01\x01\x28")
    with pytest.raises(EncodeError, match="dim must be 0..100, got 101"):
        model.encode_downlink({"dim": 101}, {})
    assert climate_model().encode_downlink is None


def test_per_device_variables(tmp_path):
    path = tmp_path / "bin.js"
    path.write_text("function decodeUplink(i) { var d = Number(i.variables.depth);\n"
                    "  return {data: {fill: 100 * (d - i.bytes[0]) / d}}; }")
    model = js_device_model("acme/bin-js", "waste_bin", path, {"fill": ("fill_level", "%")},
                            variables={"depth": "100"})
    assert model.decode(b"\x19", 1, {}) == [("fill_level", 75, "%")]
    assert model.decode(b"\x19", 1, {"variables": {"depth": "50"}}) == [("fill_level", 50, "%")]
    assert model.decode(b"\x19", 1, {}) == [("fill_level", 75, "%")]
