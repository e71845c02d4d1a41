"""``hromada wmbus decode HEX [--key K] [--json]``."""

import argparse
import json

import pytest
from wmbus_vectors import KAMSTRUP_ELL, OMS_MODE5, OMS_MODE5_CRC, OMS_MODE5_KEY

from hromada import _wmbus_py as pure
from hromada import units
from hromada.wmbus import cli

HEX = OMS_MODE5.hex().upper()
KEY = OMS_MODE5_KEY.hex().upper()


def _run(argv, capsys):
    parser = argparse.ArgumentParser(prog="hromada wmbus")
    cli.configure(parser)
    rc = cli.run(parser.parse_args(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def test_decode_json(capsys):
    rc, out, err = _run(["decode", HEX, "--key", KEY, "--json"], capsys)
    assert (rc, err) == (0, "")
    doc = json.loads(out)
    assert doc["header"] == {
        "manufacturer": "ELS", "id": "12345678", "version": 51, "device_type": "gas",
        "device_type_code": 3, "ci": 122, "access_number": 42, "status": 0,
        "security_mode": 5, "encryption": "mode5", "c_field": 68, "frame_format": "none"}
    assert doc["records"][0] == {
        "quantity": "volume", "value": 28504.27, "unit": "m3", "storage": 0, "tariff": 0,
        "function": "instantaneous", "dif_vif": "0c14", "subunit": 0}
    assert [r["quantity"] for r in doc["records"]] == ["volume", "datetime", "error_flags"]
    assert KEY.lower() not in out.lower()


def test_decode_text_with_crcs_and_env_key(capsys, monkeypatch):
    monkeypatch.setenv("HROMADA_TEST_METER_KEY", KEY)
    spaced = " ".join(OMS_MODE5_CRC.hex()[k:k + 8] for k in range(0, 110, 8))
    rc, out, err = _run(["decode", *spaced.split(), "--key", "env:HROMADA_TEST_METER_KEY"],
                        capsys)
    assert (rc, err) == (0, "")
    assert out.splitlines() == [
        "meter    ELS 12345678  gas (0x03)  version 51",
        "layers   CI 0x7a  access 42  status 0x00  security mode 5  encryption mode5  "
        "frame format A",
        "quantity     value                unit  storage  tariff  subunit  function       "
        "dif_vif",
        "volume       28504.27             m3    0        0       0        instantaneous  0c14",
        "datetime     2008-05-31T23:50:00        0        0       0        instantaneous  046d",
        "error_flags  0                          0        0       0        instantaneous  "
        "02fd17",
    ]


@pytest.mark.parametrize("argv,message", [
    (["decode", HEX],
     "hromada wmbus decode: meter ELS 12345678 is encrypted (mode 5) and no key was given\n"),
    (["decode", HEX, "--key", "00" * 16],
     "hromada wmbus decode: meter ELS 12345678: decryption failed (no 2F2F after "
     "decryption): wrong key?\n"),
    (["decode", KAMSTRUP_ELL.hex(), "--key", "00" * 15],
     "hromada wmbus decode: key: an AES-128 key is 16 bytes (32 hex digits), got 15\n"),
    (["decode", "2e44zz"], "hromada wmbus decode: telegram: not hexadecimal\n"),
    (["decode", HEX[:40]],
     "hromada wmbus decode: telegram is 20 bytes: its L field (0x2e) needs 47 without "
     "CRCs or 55 with frame format A CRCs\n"),
    (["decode", OMS_MODE5_CRC.hex(), "--frame-format", "B", "--key", KEY],
     "hromada wmbus decode: telegram is 55 bytes but its L field (0x2e) says 47\n"),
])
def test_errors_exit_2(capsys, argv, message):
    rc, out, err = _run(argv, capsys)
    assert (rc, out, err) == (2, "", message)


def test_no_subcommand(capsys):
    rc, out, err = _run([], capsys)
    assert (rc, out) == (2, "")
    assert err == "usage: hromada wmbus decode HEX [--key K] [--json]\n"


def test_through_the_hromada_command(capsys):
    from hromada.cli import main
    rc = main(["wmbus", "decode", HEX, "--key", KEY, "--json"])
    out = capsys.readouterr().out
    assert rc == 0
    assert json.loads(out)["records"][0]["value"] == 28504.27


def test_every_unit_is_in_the_units_table():
    used = ({e[1] for e in pure.PRIMARY} | {e[1] for e in pure.FD.values()}
            | {e[1] for e in pure.FB.values()})
    assert used - set(units.UNITS) == set()
    assert "kg/h" in used and "kWh" in used and "GJ" in used
