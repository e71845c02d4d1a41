"""Random frames and keys: encode -> decode round trips, and the compiled MAC layer against
its pure twin (same frame, or the same error with the same message, field and offset)."""

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import hromada.lorawan as lw
from hromada import compiled
from hromada.errors import DecodeError

COMP, PURE = compiled.both("lorawan")
IMPLS = [PURE] + ([COMP] if COMP is not None and not compiled.NO_EXTENSIONS else [])

ATTRS = ("mtype", "dev_addr", "fctrl", "fcnt", "fport", "fopts", "frm_payload", "mic", "mic_ok",
         "mac_commands", "join_eui", "dev_eui", "dev_nonce", "join_nonce", "net_id",
         "dl_settings", "rx_delay", "cflist", "rejoin_type", "rj_count", "phy", "decrypted",
         "uplink", "is_data")


@contextlib.contextmanager
def using(impl):
    """Run hromada.lorawan on ``impl`` (hypothesis forbids function-scoped fixtures)."""
    saved = lw._impl
    lw._impl = impl
    try:
        yield lw
    finally:
        lw._impl = saved


def need_both():
    if len(IMPLS) < 2:
        pytest.skip("needs the compiled module (HROMADA_NO_EXTENSIONS is set)")


def snapshot(frame):
    return {a: getattr(frame, a) for a in ATTRS} | {"dict": frame.to_dict(), "repr": repr(frame)}


def outcome(impl, key_args, phy, decode_args):
    try:
        frame = impl.Keys(**key_args).decode(phy, **decode_args)
    except DecodeError as exc:
        return ("error", str(exc), exc.field, exc.offset)
    return ("ok", snapshot(frame))


key = st.binary(min_size=16, max_size=16)
opt_key = st.one_of(st.none(), key)


@st.composite
def key_sets(draw):
    version = draw(st.sampled_from(["1.0", "1.1"]))
    args = {"version": version, "fopts_scheme": draw(st.sampled_from(["errata", "original",
                                                                       "none"]))}
    names = ["nwkskey"] if version == "1.0" else ["fnwksintkey", "snwksintkey", "nwksenckey"]
    for name in names + ["appskey", "joinkey", "jsintkey", "jsenckey"]:
        args[name] = draw(opt_key)
    return args


@st.composite
def decode_args(draw):
    return {"fcnt": draw(st.one_of(st.none(), st.integers(0, 0xFFFFFFFF))),
            "conf_fcnt": draw(st.integers(0, 0xFFFF)), "tx_dr": draw(st.integers(0, 15)),
            "tx_ch": draw(st.integers(0, 255)),
            "join_req_type": draw(st.sampled_from([0, 1, 2, 0xFF])),
            "join_eui": draw(st.one_of(st.none(), st.binary(min_size=8, max_size=8))),
            "dev_nonce": draw(st.one_of(st.none(), st.integers(0, 0xFFFF)))}


mhdrs = st.one_of(st.sampled_from([0x00, 0x20, 0x40, 0x60, 0x80, 0xA0, 0xC0, 0xE0]),
                  st.integers(0, 255))
phys = st.one_of(
    st.binary(max_size=48),
    st.tuples(mhdrs, st.binary(max_size=45)).map(lambda t: bytes([t[0]]) + t[1]),
    # Rejoin-requests with a plausible type byte.
    st.tuples(st.integers(0, 3), st.binary(max_size=26)).map(lambda t: bytes([0xC0, t[0]]) + t[1]),
)


@settings(max_examples=400, deadline=None)
@given(phy=phys, keys=key_sets(), args=decode_args())
def test_random_bytes_same_result_or_same_error(phy, keys, args):
    need_both()
    assert outcome(COMP, keys, phy, args) == outcome(PURE, keys, phy, args)


@st.composite
def data_frames(draw):
    version = draw(st.sampled_from(["1.0", "1.1"]))
    uplink = draw(st.booleans())
    fport = draw(st.one_of(st.none(), st.integers(0, 255)))
    payload = draw(st.binary(max_size=60)) if fport is not None else b""
    fopts = draw(st.binary(max_size=15)) if fport != 0 else b""
    keys = {"appskey": draw(key)}
    if version == "1.0":
        keys["nwkskey"] = draw(key)
    else:
        keys.update(fnwksintkey=draw(key), snwksintkey=draw(key), nwksenckey=draw(key))
    return {
        "keys": keys, "version": version, "dev_addr": draw(st.integers(0, 0xFFFFFFFF)),
        "fcnt": draw(st.integers(0, 0xFFFFFFFF)), "fport": fport, "payload": payload,
        "fopts": fopts, "uplink": uplink, "confirmed": draw(st.booleans()),
        "adr": draw(st.booleans()), "adr_ack_req": draw(st.booleans()),
        "ack": draw(st.booleans()), "bit4": draw(st.booleans()),
        "fopts_scheme": draw(st.sampled_from(["errata", "original", "none"])),
        "conf_fcnt": draw(st.integers(0, 0xFFFF)), "tx_dr": draw(st.integers(0, 15)),
        "tx_ch": draw(st.integers(0, 255)),
    }


@settings(max_examples=250, deadline=None)
@given(d=data_frames())
def test_data_frame_round_trip(d):
    kw = dict(d["keys"], version=d["version"], fopts_scheme=d["fopts_scheme"],
              conf_fcnt=d["conf_fcnt"], tx_dr=d["tx_dr"], tx_ch=d["tx_ch"])
    encoded = []
    for impl in IMPLS:
        with using(impl) as api:
            encoded.append(api.encode_data(
                dev_addr=d["dev_addr"], fcnt=d["fcnt"], fport=d["fport"], payload=d["payload"],
                fopts=d["fopts"], uplink=d["uplink"], confirmed=d["confirmed"], adr=d["adr"],
                adr_ack_req=d["adr_ack_req"], ack=d["ack"],
                fpending=d["bit4"] and not d["uplink"], class_b=d["bit4"] and d["uplink"],
                **kw))
    assert len(set(encoded)) == 1
    phy = encoded[0]
    results = []
    for impl in IMPLS:
        with using(impl) as api:
            f = api.decode(phy, fcnt=d["fcnt"], **kw)
            results.append(snapshot(f))
            many = api.decode_many([phy, phy], fcnt=d["fcnt"], **{
                k: v for k, v in kw.items() if k not in ("appkey",)})
            assert [snapshot(m) for m in many] == [results[-1]] * 2
    assert all(r == results[0] for r in results)
    r = results[0]
    mtype = ("Confirmed" if d["confirmed"] else "Unconfirmed") + \
        ("DataUp" if d["uplink"] else "DataDown")
    assert r["mtype"] == mtype
    assert r["dev_addr"] == f"{d['dev_addr']:08x}"
    assert r["fcnt"] == d["fcnt"]
    assert r["fport"] == d["fport"]
    assert r["frm_payload"] == (d["payload"] if d["fport"] is not None else None)
    assert r["fopts"] == d["fopts"].hex()
    assert r["mic_ok"] is True and r["decrypted"] is True
    assert r["fctrl"] == {"adr": d["adr"], "adr_ack_req": d["adr_ack_req"], "ack": d["ack"],
                          "fpending": d["bit4"] and not d["uplink"],
                          "class_b": d["bit4"] and d["uplink"], "fopts_len": len(d["fopts"])}
    # Any flipped bit breaks the MIC (or the frame), never the process.
    tampered = bytearray(phy)
    tampered[len(phy) // 2] ^= 0x10
    for impl in IMPLS:
        with using(impl) as api:
            try:
                assert api.decode(bytes(tampered), fcnt=d["fcnt"], **kw).mic_ok is False
            except DecodeError:
                pass


ids8 = st.integers(0, (1 << 64) - 1)


@settings(max_examples=100, deadline=None)
@given(root=key, jsint=key, jsenc=key, join_eui=ids8, dev_eui=ids8,
       dev_nonce=st.integers(0, 0xFFFF), join_nonce=st.integers(0, 0xFFFFFF),
       net_id=st.integers(0, 0xFFFFFF), dev_addr=st.integers(0, 0xFFFFFFFF),
       dl=st.integers(0, 255), rx_delay=st.integers(0, 255),
       cflist=st.one_of(st.none(), st.binary(min_size=16, max_size=16)),
       join_req_type=st.sampled_from([0, 1, 2, 0xFF]))
def test_join_round_trips(root, jsint, jsenc, join_eui, dev_eui, dev_nonce, join_nonce, net_id,
                          dev_addr, dl, rx_delay, cflist, join_req_type):
    results = []
    for impl in IMPLS:
        with using(impl) as api:
            jr = api.encode_join_request(join_eui=join_eui, dev_eui=dev_eui, dev_nonce=dev_nonce,
                                         nwkkey=root)
            f = api.decode(jr, nwkkey=root)
            assert (f.join_eui, f.dev_eui, f.dev_nonce, f.mic_ok) == (
                f"{join_eui:016x}", f"{dev_eui:016x}", dev_nonce, True)
            ja = api.encode_join_accept(
                join_nonce=join_nonce, net_id=net_id, dev_addr=dev_addr, nwkkey=root,
                dl_settings=dl, rx_delay=rx_delay, cflist=cflist, jsintkey=jsint,
                jsenckey=jsenc, join_req_type=join_req_type, join_eui=join_eui,
                dev_nonce=dev_nonce)
            g = api.decode(ja, nwkkey=root, jsintkey=jsint, jsenckey=jsenc,
                           join_req_type=join_req_type, join_eui=join_eui, dev_nonce=dev_nonce)
            assert g.to_dict() == {
                "mtype": "JoinAccept", "join_nonce": f"{join_nonce:06x}",
                "net_id": f"{net_id:06x}", "dev_addr": f"{dev_addr:08x}",
                "dl_settings": f"{dl:02x}", "rx_delay": rx_delay,
                "cflist": cflist.hex() if cflist else None, "mic": g.phy[-4:].hex(),
                "mic_ok": True}
            plain = api.encode_join_accept(
                join_nonce=join_nonce, net_id=net_id, dev_addr=dev_addr, nwkkey=root,
                dl_settings=dl, rx_delay=rx_delay, cflist=cflist, jsintkey=jsint,
                join_req_type=join_req_type, join_eui=join_eui, dev_nonce=dev_nonce,
                encrypt=False)
            assert g.phy == plain
            results.append((jr, ja, snapshot(f), snapshot(g)))
    assert all(r == results[0] for r in results)


@settings(max_examples=60, deadline=None)
@given(k=key, rejoin_type=st.sampled_from([0, 1, 2]), eui=ids8, dev_eui=ids8,
       net_id=st.integers(0, 0xFFFFFF), rj_count=st.integers(0, 0xFFFF))
def test_rejoin_round_trip(k, rejoin_type, eui, dev_eui, net_id, rj_count):
    results = []
    for impl in IMPLS:
        with using(impl) as api:
            phy = api.encode_rejoin_request(rejoin_type=rejoin_type, dev_eui=dev_eui,
                                            rj_count=rj_count, net_id=net_id, join_eui=eui,
                                            snwksintkey=k, jsintkey=k)
            f = api.decode(phy, snwksintkey=k, jsintkey=k)
            assert (f.rejoin_type, f.dev_eui, f.rj_count, f.mic_ok) == (
                rejoin_type, f"{dev_eui:016x}", rj_count, True)
            if rejoin_type == 1:
                assert (f.join_eui, f.net_id) == (f"{eui:016x}", None)
            else:
                assert (f.join_eui, f.net_id) == (None, f"{net_id:06x}")
            results.append(snapshot(f))
    assert all(r == results[0] for r in results)


@settings(max_examples=60, deadline=None)
@given(frames=st.lists(phys, max_size=20), keys=key_sets(),
       fcnt=st.one_of(st.none(), st.integers(0, 0xFFFFFFFF)))
def test_decode_many_same_on_both(frames, keys, fcnt):
    need_both()

    def run(impl):
        try:
            return [snapshot(f) for f in impl.Keys(**keys).decode_many(frames, fcnt)]
        except DecodeError as exc:
            return ("error", str(exc), exc.field, exc.offset, exc.index)

    assert run(COMP) == run(PURE)
