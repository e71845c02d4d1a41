"""The 49 shared LoRaWAN vectors (four independent implementations) on both MAC layers.

Each vector asserts only what its source asserted (see shared/testdata/lorawan); every
``phy`` vector additionally needs a verified MIC when its keys are given.
"""

import json
import os
from pathlib import Path

import pytest

import hromada.lorawan as lorawan_api
from conftest import implementations

# A copy of shared/testdata/lorawan (its README names each vector's source), so a fresh
# clone tests them too; test_the_copy_matches_the_shared_vectors keeps the two equal.
VECTORS = Path(__file__).parent / "vectors" / "vectors.json"
SHARED = Path(__file__).parents[3] / "shared/testdata/lorawan/vectors.json"
KINDS = {"phy", "derive_v10", "derive_v11", "derive_js", "frm_crypt", "fopts_crypt", "mic_raw",
         "ja11_mic", "fcnt"}


def _load():
    if not VECTORS.exists():
        return None
    return json.loads(VECTORS.read_text())["vectors"]


_VECTORS = _load()
_IDS = [v["id"] for v in _VECTORS] if _VECTORS else ["missing"]


@pytest.fixture(params=implementations("lorawan"))
def lw(request, monkeypatch):
    """``hromada.lorawan`` running on the implementation under test."""
    monkeypatch.setattr(lorawan_api, "_impl", request.param)
    return lorawan_api


def vector(vid):
    if _VECTORS is None:
        msg = f"LoRaWAN vectors not found at {VECTORS}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(msg + "; under CI=true missing vectors are a failure")
        pytest.skip(msg)
    return next(v for v in _VECTORS if v["id"] == vid)


def test_the_copy_matches_the_shared_vectors():
    if not SHARED.exists():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"shared vectors not found at {SHARED}")
        pytest.skip(f"no shared/ beside the repo clone ({SHARED})")
    assert json.loads(VECTORS.read_text()) == json.loads(SHARED.read_text())


def test_all_49_vectors_are_there():
    vector(_IDS[0])
    assert len(_VECTORS) == 49
    assert {v["kind"] for v in _VECTORS} == KINDS
    assert len(set(_IDS)) == 49


_KEY_ARGS = {"NwkSKey": "nwkskey", "AppSKey": "appskey", "FNwkSIntKey": "fnwksintkey",
             "SNwkSIntKey": "snwksintkey", "NwkSEncKey": "nwksenckey", "AppKey": "appkey",
             "NwkKey": "nwkkey", "JSIntKey": "jsintkey"}


def decode_kwargs(v):
    """decode() arguments for a ``phy`` vector."""
    kw = {_KEY_ARGS[k]: val for k, val in v["keys"].items()}
    kw["version"] = v["version"]
    p = v.get("params", {})
    for name in ("conf_fcnt", "tx_dr", "tx_ch", "join_req_type", "join_eui", "dev_nonce"):
        if name in p:
            kw[name] = p[name]
    if v["version"] == "1.1":
        # A source that does not say its FOpts are encrypted sends them in clear.
        kw["fopts_scheme"] = p["fopts_scheme"] if p.get("fopts_encrypted") else "none"
    if p.get("frm_key") == "AppSKey":
        # brocaar/lorawan decrypts FPort 0 with the key the caller passes (see notes).
        kw["nwksenckey"] = v["keys"]["AppSKey"]
    return kw


def fctrl_from_byte(b, uplink):
    return {"adr": bool(b & 0x80), "adr_ack_req": bool(b & 0x40), "ack": bool(b & 0x20),
            "fpending": bool(b & 0x10) and not uplink, "class_b": bool(b & 0x10) and uplink,
            "fopts_len": b & 0x0F}


@pytest.mark.parametrize("vid", _IDS)
def test_vector(lw, vid):
    v = vector(vid)
    kind = v["kind"]
    exp = v.get("expected", {})
    inp = v.get("inputs", {})
    if kind == "phy":
        check_phy(lw, v)
    elif kind == "derive_v10":
        keys = lw.derive_session_keys_10(inp["key"], join_nonce=inp["join_nonce"],
                                         net_id=inp["net_id"], dev_nonce=inp["dev_nonce"])
        assert keys.nwkskey.hex() == exp["NwkSKey"]
        assert keys.appskey.hex() == exp["AppSKey"]
    elif kind == "derive_v11":
        keys = lw.derive_session_keys_11(inp["key"], inp["key"], join_nonce=inp["join_nonce"],
                                         join_eui=inp["join_eui"], dev_nonce=inp["dev_nonce"])
        for name in ("FNwkSIntKey", "SNwkSIntKey", "NwkSEncKey", "AppSKey"):
            assert getattr(keys, name.lower()).hex() == exp[name], name
    elif kind == "derive_js":
        keys = lw.derive_js_keys(inp["key"], inp["dev_eui"])
        assert keys.jsintkey.hex() == exp["JSIntKey"]
        assert keys.jsenckey.hex() == exp["JSEncKey"]
    elif kind == "frm_crypt":
        out = lw.frm_crypt(inp["key"], inp["dev_addr"], inp["fcnt"], inp["dir"], inp["data"])
        assert out.hex() == exp["out"]
        # The same operation decrypts.
        assert lw.frm_crypt(inp["key"], inp["dev_addr"], inp["fcnt"], inp["dir"],
                            out).hex() == inp["data"]
    elif kind == "fopts_crypt":
        scheme = {"v1.1-original": "original"}[inp["scheme"]]
        out = lw.fopts_crypt(inp["key"], inp["dev_addr"], inp["fcnt"], inp["dir"], inp["data"],
                             scheme)
        assert out.hex() == exp["out"]
    elif kind == "mic_raw":
        mic = lw.data_mic(inp["key"], inp["dev_addr"], inp["fcnt"], inp["dir"], inp["msg"],
                          inp["conf_fcnt"])
        assert mic.hex() == exp["mic"]
    elif kind == "ja11_mic":
        mic = lw.join_accept_mic(inp["key"], inp["msg"], join_req_type=inp["join_req_type"],
                                 join_eui=inp["join_eui"], dev_nonce=inp["dev_nonce"])
        assert mic.hex() == exp["mic"]
    elif kind == "fcnt":
        for next_expected, wire, full in v["cases"]:
            assert lw.full_fcnt(next_expected, wire) == full, (next_expected, wire)
    else:  # pragma: no cover - guarded by test_all_49_vectors_are_there
        pytest.fail(f"unknown vector kind {kind}")


def check_phy(lw, v):
    phy = bytes.fromhex(v["phy_payload"])
    kw = decode_kwargs(v)
    frame = lw.decode(phy, **kw)
    d = frame.to_dict()
    exp = v["expected"]
    for name, want in exp.items():
        if name == "fctrl":
            assert frame.phy[5:6].hex() == want
            assert d["fctrl"] == fctrl_from_byte(int(want, 16), frame.uplink)
        elif name == "micf":
            # 1.1 uplink: cmacF[0:2] with FNwkSIntKey is the second half of the MIC.
            micf = lw.data_mic(v["keys"]["FNwkSIntKey"], frame.dev_addr, frame.fcnt, 0,
                               frame.phy[:-4])[:2]
            assert micf.hex() == want
        elif name == "decrypted_phy":
            assert frame.phy.hex() == want
        elif name == "embedded_join_request":
            inner = frame.frm_payload[6:]
            assert inner[:-4].hex() == want
            key = v["params"]["embedded_join_request_key"]
            jr = lw.decode(inner, appkey=key)
            assert (jr.mtype, jr.join_eui, jr.dev_eui, jr.dev_nonce, jr.mic_ok) == (
                "JoinRequest", "0101010101010101", "0202020202020202", 771, True)
        else:
            assert d[name] == want, name
            if name in ("frm_payload",):
                assert frame.frm_payload == bytes.fromhex(want)
    assert d["mtype"] == frame.mtype
    if "mic_unasserted" in v:
        assert frame.mic == v["mic_unasserted"]
    # Every phy vector comes with the keys its MIC needs.
    assert frame.mic_ok is True
    if v["id"] == "cs-relay-fwd-downlink":
        # The relayed payload is bl-joinaccept-v10-example's join-accept, byte for byte.
        other = vector("bl-joinaccept-v10-example")
        inner = lw.decode(frame.frm_payload, appkey=other["keys"]["AppKey"])
        assert {k: inner.to_dict()[k] for k in other["expected"]} == other["expected"]
        assert inner.mic_ok is True


_DATA_IDS = [v["id"] for v in _VECTORS or () if v["kind"] == "phy"
             and 2 <= int(v["phy_payload"][:2], 16) >> 5 <= 5] or ["missing"]


@pytest.mark.parametrize("vid", _DATA_IDS)
def test_tampered_data_vector_fails_mic(lw, vid):
    v = vector(vid)
    phy = bytearray.fromhex(v["phy_payload"])
    phy[-1] ^= 0x01
    assert lw.decode(bytes(phy), **decode_kwargs(v)).mic_ok is False
