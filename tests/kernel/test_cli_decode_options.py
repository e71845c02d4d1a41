"""`hromada decode MODEL HEX -o KEY=VALUE`: options checked against the model's schema."""

import json

import pytest

from hromada import cli

LDDS75 = ["decode", "dragino/ldds75", "0b450b0500010501", "--fport", "2"]


def decode(capsys, *argv):
    rc = cli.main(list(argv))
    out = capsys.readouterr()
    return rc, out.out, out.err


def fill_level(stdout):
    return {r["quantity"]: r["value"] for r in json.loads(stdout)}["fill_level"]


def test_valid_options_are_converted_to_their_type(capsys):
    # distance 2821 mm: the default 2000 mm bin reads empty, a 3000 mm one 6 % full
    rc, out, err = decode(capsys, *LDDS75, "--json")
    assert (rc, err, fill_level(out)) == (0, "", 0.0)
    rc, out, err = decode(capsys, *LDDS75, "--json", "-o", "bin_depth_mm=3000")
    assert (rc, err, fill_level(out)) == (0, "", 6.0)
    rc, out, err = decode(capsys, *LDDS75, "--json", "-o", " bin_depth_mm = 2900")
    assert (rc, err, fill_level(out)) == (0, "", 2.7)


@pytest.mark.parametrize("argv, message", [
    (LDDS75 + ["-o", "bin_depth_mm=abc"], "-o bin_depth_mm: must be an integer, not str 'abc'"),
    (LDDS75 + ["-o", "bin_depth_mm=2.5"], "-o bin_depth_mm: must be an integer, not str '2.5'"),
    (LDDS75 + ["-o", "bin_depth_mm=50"], "-o bin_depth_mm: 50 is below the minimum 100"),
    (LDDS75 + ["-o", "depth=5"], "-o depth: unknown option 'depth'; allowed options: "
                                 "bin_depth_mm"),
    (LDDS75 + ["-o", "bin_depth_mm"], "-o bin_depth_mm: expected KEY=VALUE"),
    (LDDS75 + ["-o", "=5"], "-o =5: expected KEY=VALUE"),
    (["decode", "senml/json", "5b5d", "-o", "lwm2m=maybe"],
     "-o lwm2m: must be true or false, not str 'maybe'"),
    (["decode", "tts/decoded", "7b7d", "-o", "units={temperature"],
     "-o units: must be a table, not str '{temperature'"),
    (["decode", "tts/decoded", "7b7d", "-o", "units=[1]"],
     "-o units: must be a table, not list [1]"),
    (["decode", "cayenne/lpp", "0367011005", "-o", "fport=x"],
     "-o fport: must be an integer, not str 'x'"),
    (["decode", "cayenne/lpp", "0367011005", "-o", "colour=red"],
     "-o colour: unknown option 'colour'; allowed options: fport"),
])
def test_a_bad_option_is_refused_with_exit_2(capsys, argv, message):
    assert decode(capsys, *argv) == (2, "", message + "\n")


def test_every_bad_option_is_named(capsys):
    rc, out, err = decode(capsys, "decode", "adeunis/pulse", "00", "-o",
                          "litres_per_pulse_a=abc", "-o", "x=1", "-o", "litres_per_pulse_b=2")
    assert (rc, out) == (2, "")
    assert err == ("-o litres_per_pulse_a: must be a number, not str 'abc'\n"
                   "-o x: unknown option 'x'; allowed options: litres_per_pulse_a, "
                   "litres_per_pulse_b\n")


def test_bool_and_table_options_reach_the_model(capsys):
    # SenML names: with lwm2m=false the registry mapping is off, so 3303/0/5700 keeps its
    # path (as a name) as the quantity; a table option arrives as JSON
    pack = json.dumps([{"n": "3303/0/5700", "v": 21.5, "u": "Cel"}]).encode().hex()
    rc, out, err = decode(capsys, "decode", "senml/json", pack, "--json")
    assert (rc, err) == (0, "")
    assert [r["quantity"] for r in json.loads(out)] == ["temperature"]
    rc, out, err = decode(capsys, "decode", "senml/json", pack, "--json", "-o", "lwm2m=false")
    assert (rc, err) == (0, "")
    assert [r["quantity"] for r in json.loads(out)] == ["3303_0_5700"]
    rc, out, err = decode(capsys, "decode", "senml/json", pack, "--json", "-o", "lwm2m=false",
                          "-o", 'names={"3303/0/5700": "air_temperature"}')
    assert (rc, err) == (0, "")
    assert [r["quantity"] for r in json.loads(out)] == ["air_temperature"]
