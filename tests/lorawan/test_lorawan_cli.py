"""``hromada lorawan decode`` and ``hromada lorawan encode``."""

import json
import subprocess
import sys

import pytest

from hromada.lorawan import cli

NWK = "44024241ed4ce9a68c6a8bc055233fd3"
APP = "ec925802ae430ca77fd3dd73cb2cc588"
UP = "40F17DBE4900020001954378762B11FF0D"
TAMPERED = UP[:-1] + "E"


def run(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_decode_prints_every_field(capsys):
    code, out, err = run(capsys, "decode", UP, "--nwkskey", NWK, "--appskey", APP)
    assert code == 0 and err == ""
    assert out.splitlines() == [
        "mtype: UnconfirmedDataUp",
        "dev_addr: 49be7df1",
        "fctrl: adr=false adr_ack_req=false ack=false fpending=false class_b=false fopts_len=0",
        "fcnt: 2",
        "fport: 1",
        'fopts: ""',
        'frm_payload: 74657374 ("test")',
        "mic: 2b11ff0d",
        "mic_ok: true",
        "mac_commands: none",
    ]


def test_decode_json(capsys):
    code, out, _ = run(capsys, "decode", UP, "--nwkskey", NWK, "--appskey", APP, "--json")
    assert code == 0
    assert json.loads(out) == {
        "mtype": "UnconfirmedDataUp", "dev_addr": "49be7df1",
        "fctrl": {"adr": False, "adr_ack_req": False, "ack": False, "fpending": False,
                  "class_b": False, "fopts_len": 0},
        "fcnt": 2, "fport": 1, "fopts": "", "frm_payload": "74657374", "mic": "2b11ff0d",
        "mic_ok": True, "mac_commands": []}


def test_tampered_frame_says_mic_false_and_exits_1(capsys):
    code, out, _ = run(capsys, "decode", TAMPERED, "--nwkskey", NWK, "--appskey", APP)
    assert code == 1
    assert "mic_ok: false" in out.splitlines()
    code, out, _ = run(capsys, "decode", TAMPERED, "--nwkskey", NWK, "--json")
    assert code == 1 and json.loads(out)["mic_ok"] is False


def test_decode_error_exits_2_with_the_message(capsys):
    code, out, err = run(capsys, "decode", "40f17dbe490502000112345678")
    assert code == 2 and out == ""
    assert err == ("hromada lorawan: error: fopts at byte 8: FOptsLen is 5 but the frame has "
                   "room for 1 before the MIC\n")
    code, _, err = run(capsys, "decode", "zz-not-a-frame")
    assert code == 2 and err == "hromada lorawan: error: HEX: not hex and not base64\n"


def test_bad_key_is_named_not_printed(capsys):
    code, out, err = run(capsys, "decode", UP, "--nwkskey", NWK[:30])
    assert code == 2
    assert err == "hromada lorawan: error: nwkskey: expected 32 hex digits\n"
    assert NWK[:30] not in out + err


def test_keys_from_environment_and_base64(capsys, monkeypatch):
    monkeypatch.setenv("NWK_FOR_TEST", NWK)
    monkeypatch.setenv("APP_FOR_TEST", APP)
    b64 = "QPF9vkkAAgABlUN4disR/w0="
    code, out, _ = run(capsys, "decode", b64, "--nwkskey", "env:NWK_FOR_TEST", "--appskey",
                       "env:APP_FOR_TEST", "--json")
    assert code == 0
    assert json.loads(out)["frm_payload"] == "74657374"
    assert NWK not in out and APP not in out


def test_decode_without_keys_notes_it(capsys):
    code, out, _ = run(capsys, "decode", UP)
    assert code == 0
    assert "mic_ok: null" in out
    assert "note: MIC not checked (its key was not given)" in out
    assert "note: some fields are still encrypted (their key was not given)" in out


def test_decode_join_accept_and_mac_commands(capsys):
    code, out, _ = run(capsys, "decode", "20e3de108795f776b8037610ef7869b5b3", "--appkey",
                       "00" * 16)
    assert code == 0
    assert out.splitlines() == ["mtype: JoinAccept", "join_nonce: 000000", "net_id: 000000",
                                "dev_addr: 00000000", "dl_settings: 00", "rx_delay: 0",
                                "cflist: null", "mic: f86f0a91", "mic_ok: true"]
    code, out, _ = run(capsys, "decode", "80040302010300000673070ae264d4f7e117d2c0",
                       "--nwkskey", "0102030405060708090a0b0c0d0e0f10")
    assert code == 0
    assert "  - DevStatusAns (0x06) battery=115 margin=7" in out.splitlines()


def test_encode_round_trips_through_decode(capsys):
    code, out, _ = run(capsys, "encode", "data", "--dev-addr", "49be7df1", "--fcnt", "2",
                       "--fport", "1", "--payload", "74657374", "--nwkskey", NWK, "--appskey",
                       APP)
    assert (code, out.strip()) == (0, UP.lower())
    code, out, _ = run(capsys, "encode", "join-request", "--join-eui", "0101010101010101",
                       "--dev-eui", "0202020202020202", "--dev-nonce", "771", "--appkey",
                       "0102030405060708090a0b0c0d0e0f10")
    assert (code, out.strip()) == (0, "0001010101010101010202020202020202030309b97b32")
    code, out, _ = run(capsys, "encode", "join-accept", "--join-nonce", "010203", "--net-id",
                       "010203", "--dev-addr", "01020304", "--rx-delay", "1", "--appkey",
                       "01" * 16)
    assert (code, out.strip()) == (0, "20c9fbb259e11649096a568a9e3b7117c3")
    code, out, _ = run(capsys, "encode", "join-accept", "--join-nonce", "010203", "--net-id",
                       "010203", "--dev-addr", "01020304", "--rx-delay", "1", "--appkey",
                       "01" * 16, "--plain")
    assert (code, out.strip()) == (0, "2003020103020104030201000132f54ab3")
    code, out, _ = run(capsys, "encode", "rejoin-request", "--rejoin-type", "0", "--net-id",
                       "010203", "--dev-eui", "0102030405060708", "--rj-count", "258",
                       "--snwksintkey", "01" * 16, "--base64")
    assert (code, out.strip()) == (0, "wAADAgEIBwYFBAMCAQIBEdpHvQ==")


def test_encode_errors(capsys):
    code, _, err = run(capsys, "encode", "data", "--dev-addr", "49be7df1", "--fcnt", "2",
                       "--payload", "00", "--nwkskey", NWK)
    assert (code, err) == (2, "hromada lorawan: error: a payload needs an FPort\n")
    code, _, err = run(capsys, "encode", "data", "--dev-addr", "49be7df1", "--fcnt", "2",
                       "--fport", "3", "--payload", "00", "--nwkskey", NWK)
    assert (code, err) == (2, "hromada lorawan: error: this frame needs appskey\n")


def test_without_subcommand_prints_help(capsys):
    code, out, _ = run(capsys)
    assert code == 2 and "decode" in out and "encode" in out


@pytest.mark.parametrize("frame,status", [(UP, 0), (TAMPERED, 1), ("40", 2)])
def test_hromada_lorawan_decode_subprocess(frame, status):
    proc = subprocess.run(
        [sys.executable, "-m", "hromada.cli", "lorawan", "decode", frame, "--nwkskey", NWK,
         "--appskey", APP], capture_output=True, text=True, timeout=60)
    assert proc.returncode == status, proc.stderr
    if status == 1:
        assert "mic_ok: false" in proc.stdout
    if status == 2:
        assert ("hromada lorawan: error: dev_addr at byte 1: frame too short (length 1); a "
                "data frame is at least 12 bytes\n") in proc.stderr
