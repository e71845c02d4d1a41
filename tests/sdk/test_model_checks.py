"""hromada.testing: the helpers and the pytest plugin that checks device models."""

import math
import subprocess
import sys

import pytest
import sdk_fixture_models as fm

import hromada.testing as ht
from hromada import Reading
from hromada.errors import DecodeError
from hromada.plugins import PluginHost

pytest_plugins = ["pytester"]


def _crash_line():
    """The line of sdk_fixture_models where CRASHY indexes an empty payload."""
    with open(fm.__file__) as f:
        for n, line in enumerate(f, 1):
            if "payload[0] / 10" in line:
                return n
    raise LookupError("crash line not found")


CRASH_AT = f"sdk_fixture_models.py:{_crash_line()}"


# -- assert_readings / same_value --------------------------------------------------------


def test_assert_readings_accepts_any_order_and_float_noise():
    ht.assert_readings([("humidity", 40.0, "%RH"), ("temperature", 0.1 + 0.2, "Cel")],
                       [("temperature", 0.3, "Cel"), ("humidity", 40, "%RH")])


def test_assert_readings_takes_reading_objects_and_dicts():
    ht.assert_readings([Reading("d1", 0.0, "temperature", 21.5, "Cel")],
                       [{"quantity": "temperature", "value": 21.5, "unit": "Cel"}])


def test_assert_readings_lists_every_difference():
    with pytest.raises(AssertionError) as info:
        ht.assert_readings(
            [("temperature", 21.4, "Cel"), ("humidity", 40.0, "%"), ("battery", 3.6, "V")],
            [("temperature", 21.5, "Cel"), ("humidity", 40.0, "%RH"), ("co2", 410, "ppm")])
    assert str(info.value) == (
        "readings differ:\n"
        "  temperature: expected 21.5, got 21.4\n"
        "  humidity: expected unit '%RH', got '%'\n"
        "  missing co2 = 410 ppm\n"
        "  unexpected battery = 3.6 V")


def test_assert_readings_pairs_repeated_quantities_in_order():
    ht.assert_readings([("temperature", 1.0, "Cel"), ("temperature", 2.0, "Cel")],
                       [("temperature", 1.0, "Cel"), ("temperature", 2.0, "Cel")])
    with pytest.raises(AssertionError, match="temperature: expected 1.0, got 2.0"):
        ht.assert_readings([("temperature", 2.0, "Cel"), ("temperature", 1.0, "Cel")],
                           [("temperature", 1.0, "Cel"), ("temperature", 2.0, "Cel")])


@pytest.mark.parametrize("actual, expected, same", [
    (21.5, 21.5, True),
    (21.500001, 21.5, True),       # within rel 1e-6
    (21.51, 21.5, False),
    (40, 40.0, True),              # JSON and C give floats where the example has ints
    (True, True, True),
    (1.0, True, False),            # a flag must stay a bool
    (True, 1, False),
    (math.nan, math.nan, True),
    ("open", "open", True),
    ("1", 1, False),
    (None, None, True),
    (None, 0, False),
])
def test_same_value(actual, expected, same):
    assert ht.same_value(actual, expected) is same


# -- checks of one model --------------------------------------------------------------------


def test_check_model_passes_a_correct_model():
    assert ht.check_model(fm.TH, fuzz_examples=50) == []


def test_model_checks_names():
    names = [name for name, _ in ht.model_checks(fm.TH)]
    assert names == ["example[0]", "example[1]", "example[2]", "roundtrip[0]",
                     "roundtrip[1]", "roundtrip[2]", "simulate", "fuzz"]
    assert [n for n, _ in ht.model_checks(fm.CRASHY)] == [
        "example[0]", "example[1]", "example[2]", "fuzz"]


def test_check_example_reports_wrong_value_and_unit():
    with pytest.raises(AssertionError) as info:
        ht.check_example(fm.WRONG, fm.WRONG.examples[1], 1)
    assert str(info.value) == ("test/wrong: example 1 (ff9c00 on fPort 1): readings differ:\n"
                               "  temperature: expected -1.0, got -10.0")
    with pytest.raises(AssertionError) as info:
        ht.check_example(fm.WRONG, fm.WRONG.examples[2], 2)
    assert str(info.value) == ("test/wrong: example 2 (7fffc8 on fPort 1): readings differ:\n"
                               "  temperature: expected unit 'K', got 'Cel'")


def test_check_example_reports_decode_error():
    bad = fm.TH.examples[0].__class__("00d7", 1, [("temperature", 21.5, "Cel")])
    with pytest.raises(AssertionError) as info:
        ht.check_example(fm.TH, bad, 7)
    assert str(info.value) == ("test/th: example 7 (00d7 on fPort 1) raised DecodeError: "
                               "payload is 2 bytes, expected 3")


def test_check_example_reports_undeclared_quantity():
    with pytest.raises(AssertionError) as info:
        ht.check_example(fm.UNDECLARED, fm.UNDECLARED.examples[0], 0)
    assert str(info.value) == ("test/undeclared: example 0 (00d750 on fPort 1), expected "
                               "readings: humidity is not declared in quantities")


def test_check_declared_patterns_and_units():
    model = fm.TH.__class__("test/pat", "climate", fm.th_decode,
                            quantities={"temperature_*": "Cel"})
    ht.check_declared(model, [("temperature_inside", 1.0, "Cel")])
    with pytest.raises(AssertionError) as info:
        ht.check_declared(model, [("temperature_outside", 1.0, "K")], "here")
    assert str(info.value) == ("test/pat: here: temperature_outside comes in 'K' but is "
                               "declared in 'Cel'")


def test_check_roundtrip_finds_a_lossy_encoder():
    with pytest.raises(AssertionError) as info:
        ht.check_roundtrip(fm.LOSSY, fm.LOSSY.examples[0], 0)
    assert str(info.value) == ("test/lossy: decode(encode(example 0 values)) via 00d750 on "
                               "fPort 1: humidity: put 40.5, got 40.0")
    ht.check_roundtrip(fm.LOSSY, fm.LOSSY.examples[1], 1)


def test_check_roundtrip_skips_when_the_encoder_refuses():
    refusing = fm.TH.__class__(
        "test/refuse", "climate", fm.th_decode, quantities=fm.TH.quantities,
        encode=lambda values, options: fm.th_encode({}, options), examples=fm.TH_EXAMPLES)
    with pytest.raises(ht.SkipCheck, match="^test/refuse: the encoder does not take example "
                                           "0 values: cannot encode"):
        ht.check_roundtrip(refusing, refusing.examples[0], 0)
    with pytest.raises(ht.SkipCheck, match="^test/crashy has no encoder$"):
        ht.check_roundtrip(fm.CRASHY, fm.CRASHY.examples[0], 0)


def test_check_simulated_round_trips():
    ht.check_simulated(fm.TH, count=30)


def test_check_fuzz_finds_a_crash():
    with pytest.raises(AssertionError) as info:
        ht.check_fuzz(fm.CRASHY, 50)
    assert str(info.value) == (
        "test/crashy: decode of empty payload on fPort 1 raised IndexError: index out of "
        f"range at {CRASH_AT} (only DecodeError may be raised)")


def test_check_fuzz_checks_what_decodes():
    def bad_unit(payload, fport, options):
        if payload[:1] == b"\x01":
            return [("temperature", 1.0, "celsius")]
        raise DecodeError("no")

    model = fm.TH.__class__("test/unit", "climate", bad_unit, quantities={"temperature": "Cel"},
                            examples=(fm.TH_EXAMPLES[0].__class__("01", 1, []),))
    with pytest.raises(AssertionError) as info:
        ht.check_fuzz(model, 50)
    # str() leaves out hypothesis' notes (the failing case, shrunk to the smallest port).
    assert str(info.value) == ("test/unit: decode of 01 on fPort 1: temperature has unit "
                               "'celsius', which is not in hromada.units.UNITS")


def test_check_fuzz_passes_a_careful_decoder():
    ht.check_fuzz(fm.TH, 100)


def test_check_model_collects_all_failures():
    with pytest.raises(AssertionError) as info:
        ht.check_model(fm.WRONG, fuzz=False)
    text = str(info.value)
    assert text.startswith("test/wrong: 2 check(s) failed:\n[example[1]] ")
    assert "\n[example[2]] " in text


def test_check_models_over_a_host():
    host = PluginHost(entry_points=False, plugins=[("good", fm.OnlyGood())])
    assert ht.check_models(host.device_models, fuzz_examples=20) == 1
    with pytest.raises(AssertionError, match="test/crashy: 1 check"):
        ht.check_models([fm.TH, fm.CRASHY], fuzz_examples=20)


def test_import_has_no_side_effects():
    code = ("import sys; import hromada.testing; "
            "print(sorted(m for m in ('pytest', 'hypothesis', 'hromada.plugins') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


# -- the pytest plugin ------------------------------------------------------------------------


def _run(pytester, *args):
    pytester.makepyfile(test_other="def test_other():\n    pass\n")
    return pytester.runpytest_inprocess(*ht.plugin_args(), "-p", "no:cacheprovider", *args)


def test_plugin_does_nothing_unless_asked(pytester):
    result = _run(pytester, "--hromada-plugin", "sdk_fixture_models",
                  "--hromada-no-entry-points")
    result.assert_outcomes(passed=1)


def test_plugin_one_item_per_check(pytester):
    result = _run(pytester, "--hromada-models", "--hromada-plugin", "sdk_fixture_models",
                  "--hromada-no-entry-points", "--hromada-fuzz-examples", "30", "-v")
    out = result.stdout.str()
    for line in [
        "hromada-models::test/th::example[0] PASSED",
        "hromada-models::test/th::roundtrip[2] PASSED",
        "hromada-models::test/th::simulate PASSED",
        "hromada-models::test/th::fuzz PASSED",
        "hromada-models::test/crashy::fuzz FAILED",
        "hromada-models::test/lossy::roundtrip[0] FAILED",
        "hromada-models::test/lossy::roundtrip[1] PASSED",
        "hromada-models::test/wrong::example[1] FAILED",
        "hromada-models::test/undeclared::example[0] FAILED",
        "test_other.py::test_other PASSED",
    ]:
        assert line in out, line
    assert "hromada device models: " in out
    # th: 8 pass; crashy: 3 examples pass, fuzz fails; lossy: 3 + 2 roundtrips + fuzz pass,
    # roundtrip[0] fails; wrong: 2 fail, 2 pass; undeclared: 3 examples fail, fuzz passes.
    result.assert_outcomes(passed=1 + 8 + 3 + 6 + 2 + 1, failed=1 + 1 + 2 + 3)
    assert ("test/crashy: decode of empty payload on fPort 1 raised IndexError: index out "
            f"of range at {CRASH_AT} (only DecodeError may be raised)") in out


def test_plugin_selects_models_and_keywords(pytester):
    result = _run(pytester, "--hromada-models", "--hromada-plugin", "sdk_fixture_models",
                  "--hromada-no-entry-points", "--hromada-model", "test/t*", "-k", "example")
    result.assert_outcomes(passed=3, deselected=6)


def test_plugin_reports_failing_plugins(pytester):
    pytester.syspathinsert()
    pytester.makepyfile(
        brokenplug="import hromada\n\n@hromada.hookimpl\ndef hromada_device_models():\n"
                   "    raise RuntimeError('vendor table missing')\n",
        badimport="import no_such_module_here\n")
    result = _run(pytester, "--hromada-models", "--hromada-plugin", "brokenplug",
                  "--hromada-plugin", "badimport", "--hromada-no-entry-points", "-v")
    out = result.stdout.str()
    assert "hromada-plugins::brokenplug FAILED" in out
    assert "hromada-plugins::badimport FAILED" in out
    assert ("hromada plugin 'brokenplug': hromada_device_models raised RuntimeError: vendor "
            "table missing") in out
    assert ("hromada plugin 'badimport': failed to import badimport: ModuleNotFoundError: No "
            "module named 'no_such_module_here'") in out
    result.assert_outcomes(passed=1, failed=2)


def test_python_m_hromada_testing(tmp_path):
    env_path = str(tmp_path)
    (tmp_path / "sdkplug.py").write_text(
        "from sdk_fixture_models import OnlyGood\nplugin = OnlyGood()\n"
        "hromada_device_models = plugin.hromada_device_models\n")
    import os

    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [env_path, os.path.dirname(fm.__file__), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run(
        [sys.executable, "-m", "hromada.testing", "test/*", "--", "--hromada-plugin", "sdkplug",
         "--hromada-no-entry-points", "--hromada-fuzz-examples", "20", "-q"],
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "8 passed" in proc.stdout


def test_timestamped_readings_are_accepted():
    from hromada.testing import assert_readings, normalize_readings

    got = [("volume", 12.5, "m3", 1780000000.0), ("volume", 12.75, "m3", 1780003600.0)]
    assert normalize_readings(got) == [("volume", 12.5, "m3"), ("volume", 12.75, "m3")]
    assert_readings(got, [("volume", 12.5, "m3"), ("volume", 12.75, "m3")])
