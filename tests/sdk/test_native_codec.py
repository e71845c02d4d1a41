"""NativeCodec: vendor C decoders behind hromada's C ABI, loaded with cffi (ABI mode)."""

import importlib.util
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hromada.codecs import NativeCodec, native_device_model
from hromada.codecs.native import CDEF
from hromada.errors import DecodeError, PluginError
from hromada.plugins import PluginHost
from hromada.testing import assert_readings, check_model

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "native_plugin"
INCLUDE = ROOT / "ext" / "plugin_abi"

pytestmark = pytest.mark.skipif(
    not (os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")),
    reason="no C compiler (cc) to build the example native plugin")


def _build_script():
    spec = importlib.util.spec_from_file_location("native_plugin_build", EXAMPLE / "build.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def w1_library(tmp_path_factory):
    return _build_script().build_library(tmp_path_factory.mktemp("w1"))


@pytest.fixture(scope="module")
def w1(w1_library):
    return NativeCodec(w1_library)


def compile_c(tmp_path, name, source):
    """Compile a test library that includes hromada_plugin.h."""
    src = tmp_path / f"{name}.c"
    src.write_text(textwrap.dedent(source))
    out = tmp_path / f"lib{name}.so"
    cc = _build_script().compiler()
    subprocess.run([cc, "-std=c11", "-shared", "-fPIC", "-Wall", "-Werror", f"-I{INCLUDE}",
                    "-o", str(out), str(src)], check=True, capture_output=True, text=True)
    return out


# -- the example plugin's decoder ------------------------------------------------------------


def test_decode_reading(w1):
    assert w1.abi_version == "1.0"
    assert w1.decode(bytes.fromhex("01d204000000"), 1) == [
        ("volume", 1.234, "m3"), ("leak", 0.0, ""), ("backflow", 0.0, ""), ("tamper", 0.0, "")]


def test_decode_with_temperature_and_flags(w1):
    assert_readings(w1.decode(bytes.fromhex("0140e2010001d403"), 1),
                    [("volume", 123.456, "m3"), ("leak", 1.0, ""), ("backflow", 0.0, ""),
                     ("tamper", 0.0, ""), ("water_temperature", 9.8, "Cel")])
    assert_readings(w1.decode(bytes.fromhex("01ffffffff0638ff"), 1),
                    [("volume", 4294967.295, "m3"), ("leak", 0.0, ""), ("backflow", 1.0, ""),
                     ("tamper", 1.0, ""), ("water_temperature", -2.0, "Cel")])


@pytest.mark.parametrize("hexpayload, fport, message", [
    ("01d204000000", 2, "FPort 2 carries no readings (data is on FPort 1)"),
    ("01d204000000", None, "FPort -1 carries no readings (data is on FPort 1)"),
    ("", 1, "empty payload (frame type expected at byte 0)"),
    ("07d204000000", 1, "unknown frame type 0x07 at byte 0"),
    ("01d204", 1, "payload too short: 3 bytes, need 6"),
    ("01d20400000000", 1, "payload length 7 bytes, expected 6 or 8"),
    ("01d204000010", 1, "reserved status bits 0x10 set at byte 5"),
])
def test_decode_errors_carry_the_librarys_message(w1, hexpayload, fport, message):
    with pytest.raises(DecodeError) as info:
        w1.decode(bytes.fromhex(hexpayload), fport)
    assert str(info.value) == f"native codec libexample_w1.so: {message}"


@settings(max_examples=300, deadline=None)
@given(payload=st.binary(max_size=40), fport=st.integers(-1, 255))
def test_any_bytes_decode_or_raise_decode_error(w1, payload, fport):
    try:
        readings = w1.decode(payload, fport)
    except DecodeError:
        return
    assert len(readings) in (4, 5)
    assert readings[0][0] == "volume"


def test_header_matches_the_loader(tmp_path):
    # The cffi declarations in hromada.codecs.native must describe the header's struct.
    import cffi

    ffi = cffi.FFI()
    ffi.cdef(CDEF)
    probe = tmp_path / "probe.c"
    probe.write_text(textwrap.dedent("""
        #include <stdio.h>
        #include <stddef.h>
        #include "hromada_plugin.h"
        int main(void) {
            printf("%zu %zu %zu %zu %d %d %s\\n", sizeof(hromada_reading),
                   offsetof(hromada_reading, quantity), offsetof(hromada_reading, value),
                   offsetof(hromada_reading, unit), HROMADA_ERR_DECODE, HROMADA_ERR_SPACE,
                   HROMADA_ABI_VERSION);
            return 0;
        }
    """))
    exe = tmp_path / "probe"
    cc = _build_script().compiler()
    subprocess.run([cc, "-std=c11", f"-I{INCLUDE}", "-o", str(exe), str(probe)], check=True)
    out = subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout.split()
    assert out == [str(ffi.sizeof("hromada_reading")),
                   str(ffi.offsetof("hromada_reading", "quantity")),
                   str(ffi.offsetof("hromada_reading", "value")),
                   str(ffi.offsetof("hromada_reading", "unit")), "-1", "-2", "1.0"]


# -- the loader's guards ------------------------------------------------------------------------

_HEAD = '#include <stdio.h>\n#include "hromada_plugin.h"\n'


def test_many_readings_get_more_room(tmp_path):
    lib = compile_c(tmp_path, "many", _HEAD + """
        const char *hromada_abi_version(void) { return HROMADA_ABI_VERSION; }
        int hromada_decode(const uint8_t *p, size_t len, int fport, hromada_reading *out,
                           size_t max_out, char *err, size_t err_len) {
            if (len > max_out) return HROMADA_ERR_SPACE;
            for (size_t i = 0; i < len; i++) {
                snprintf(out[i].quantity, sizeof out[i].quantity, "channel_%zu", i);
                out[i].value = p[i];
                snprintf(out[i].unit, sizeof out[i].unit, "%s", "count");
            }
            return (int)len;
        }
    """)
    codec = NativeCodec(lib, max_readings=16, max_readings_limit=256)
    payload = bytes(range(200))
    readings = codec.decode(payload, 1)
    assert len(readings) == 200
    assert readings[199] == ("channel_199", 199.0, "count")
    with pytest.raises(DecodeError) as info:
        codec.decode(bytes(300), 1)
    assert str(info.value) == "native codec libmany.so: payload holds more than 256 readings"


def test_wrong_abi_version_is_refused(tmp_path):
    lib = compile_c(tmp_path, "v2", _HEAD + """
        const char *hromada_abi_version(void) { return "2.0"; }
        int hromada_decode(const uint8_t *p, size_t len, int fport, hromada_reading *out,
                           size_t max_out, char *err, size_t err_len) { return 0; }
    """)
    with pytest.raises(PluginError) as info:
        NativeCodec(lib)
    assert str(info.value) == (f"native codec {lib}: ABI version '2.0', but this hromada "
                               "speaks version 1.x")


def test_missing_symbol_is_refused(tmp_path):
    lib = compile_c(tmp_path, "nodecode", _HEAD + """
        const char *hromada_abi_version(void) { return HROMADA_ABI_VERSION; }
    """)
    with pytest.raises(PluginError, match=r"^native codec .*libnodecode.so: it does not export "
                                          r"the hromada ABI .*hromada_decode"):
        NativeCodec(lib)


def test_unloadable_library(tmp_path):
    bogus = tmp_path / "libbogus.so"
    bogus.write_text("not a library")
    with pytest.raises(PluginError, match=r"^native codec .*libbogus.so: cannot load it: "):
        NativeCodec(bogus)
    with pytest.raises(PluginError, match=r"^native codec .*libnone.so: cannot load it: "):
        NativeCodec(tmp_path / "libnone.so")


def test_bad_return_codes(tmp_path):
    lib = compile_c(tmp_path, "odd", _HEAD + """
        const char *hromada_abi_version(void) { return HROMADA_ABI_VERSION; }
        int hromada_decode(const uint8_t *p, size_t len, int fport, hromada_reading *out,
                           size_t max_out, char *err, size_t err_len) {
            if (fport == 1) { snprintf(err, err_len, "odd failure"); return -7; }
            if (fport == 2) return HROMADA_ERR_DECODE;  /* no message */
            return (int)max_out + 1;                   /* claims more than it has room for */
        }
    """)
    codec = NativeCodec(lib)
    with pytest.raises(DecodeError) as info:
        codec.decode(b"", 1)
    assert str(info.value) == "native codec libodd.so: hromada_decode returned -7: odd failure"
    with pytest.raises(DecodeError) as info:
        codec.decode(b"", 2)
    assert str(info.value) == "native codec libodd.so: no message"
    with pytest.raises(DecodeError) as info:
        codec.decode(b"", 3)
    assert str(info.value) == ("native codec libodd.so: hromada_decode claimed 33 readings "
                               "with room for 32")


# -- the example plugin --------------------------------------------------------------------------


@pytest.fixture
def example_plugin(w1_library, monkeypatch):
    monkeypatch.setenv("HROMADA_EXAMPLE_W1_LIBRARY", str(w1_library))
    monkeypatch.syspath_prepend(str(EXAMPLE))
    import hromada_example_native

    return hromada_example_native


def test_example_plugin_registers_and_passes_hromada_testing(example_plugin):
    host = PluginHost(entry_points=False, plugins=[("example-native", example_plugin)])
    assert host.errors == []
    model = host.device_models["example/w1-native"]
    assert model.family == "water_meter"
    assert check_model(model, fuzz_examples=100) == []


def test_example_plugin_without_its_library(example_plugin, monkeypatch):
    monkeypatch.delenv("HROMADA_EXAMPLE_W1_LIBRARY")
    host = PluginHost(entry_points=False, plugins=[("example-native", example_plugin)])
    assert host.device_models == {}
    [(plugin, message)] = host.errors
    assert plugin == "example-native"
    assert message.startswith("hromada_device_models raised PluginError: the Example W1 "
                              "decoder library is not built in ")


def test_native_device_model(w1):
    model = native_device_model("example/w1", "water_meter", w1,
                                quantities={"volume": "m3"})
    assert model.decode is w1
    assert model.decode(bytes.fromhex("01d204000000"), 1, {})[0] == ("volume", 1.234, "m3")


@pytest.mark.slow
def test_example_package_pip_installs_and_decodes(tmp_path):
    # Copy first: pip builds in the source tree, which must stay clean.
    src = tmp_path / "src"
    shutil.copytree(EXAMPLE, src, ignore=shutil.ignore_patterns("build", "*.egg-info",
                                                                "__pycache__"))
    site = tmp_path / "site"
    env = dict(os.environ, HROMADA_PLUGIN_INCLUDE=str(INCLUDE))
    env.pop("HROMADA_EXAMPLE_W1_LIBRARY", None)
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--no-build-isolation", "--target", str(site), str(src)],
                   check=True, env=env, capture_output=True, text=True, timeout=240)
    code = ("from hromada.plugins import PluginHost\n"
            "host = PluginHost()\n"
            "print(host.owner('device_models', 'example/w1-native'))\n"
            "m = host.device_models['example/w1-native']\n"
            "print(m.decode(bytes.fromhex('01d204000000'), 1, {}))\n")
    env["PYTHONPATH"] = str(site)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, cwd=tmp_path, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        "example-native",
        "[('volume', 1.234, 'm3'), ('leak', 0.0, ''), ('backflow', 0.0, ''), "
        "('tamper', 0.0, '')]"]
