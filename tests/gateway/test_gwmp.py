"""GWMP (Semtech UDP packet forwarder protocol): datagrams, rxpk records, EU868 rates."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hromada_plugins.sources.semtech_udp import gwmp

EUI = "aa555a0000000101"
PHY = bytes.fromhex("40f17dbe4900020001954378762b11ff0d")


def test_push_data_round_trip():
    rxpk = {"time": "2013-03-31T16:21:17.528002Z", "tmst": 3512348611, "chan": 2, "rfch": 0,
            "freq": 866.349812, "stat": 1, "modu": "LORA", "datr": "SF7BW125",
            "codr": "4/6", "rssi": -35, "lsnr": 5.1, "size": len(PHY),
            "data": gwmp.b64encode(PHY)}
    stat = {"time": "2014-01-12 08:59:28 GMT", "lati": 46.24, "long": 3.2523, "alti": 145,
            "rxnb": 2, "rxok": 2, "rxfw": 2, "ackr": 100.0, "dwnb": 2, "txnb": 2}
    data = gwmp.push_data(EUI, 0x1234, rxpk=[rxpk], stat=stat)
    assert data[:12] == bytes.fromhex("02123400") + bytes.fromhex(EUI)
    dg = gwmp.parse(data)
    assert (dg.version, dg.token, dg.name, dg.eui) == (2, 0x1234, "PUSH_DATA", EUI)
    assert dg.body == {"rxpk": [rxpk], "stat": stat}
    rx = gwmp.parse_rxpk(dg.body["rxpk"][0])
    assert rx == gwmp.Rx(PHY, 3512348611, 866.349812, "SF7BW125", -35, 5.1, 2, 0, "4/6",
                         "2013-03-31T16:21:17.528002Z", 1, "LORA")


@pytest.mark.parametrize("build, expected", [
    (lambda: gwmp.push_ack(2, 0xABCD), "02abcd01"),
    (lambda: gwmp.pull_ack(1, 0x0102), "01010204"),
    (lambda: gwmp.pull_data(EUI, 7), "02000702" + EUI),
    (lambda: gwmp.tx_ack(EUI, 9, None), "02000905" + EUI),
])
def test_short_datagrams_are_bytes_exact(build, expected):
    assert build().hex() == expected


def test_pull_resp_and_tx_ack():
    pk = gwmp.txpk(PHY, tmst=0xFFFFFFFF + 1_000_001, freq=868.1, datr="SF7BW125")
    assert pk == {"tmst": 1_000_000, "freq": 868.1, "rfch": 0, "powe": 14, "modu": "LORA",
                  "datr": "SF7BW125", "codr": "4/5", "ipol": True, "ncrc": True,
                  "size": 17, "data": "QPF9vkkAAgABlUN4disR/w0="}
    data = gwmp.pull_resp(pk, 0x0A0B)
    assert data[:4] == bytes.fromhex("020a0b03") and json.loads(data[4:]) == {"txpk": pk}
    assert gwmp.pull_resp(pk, 0x0A0B, version=1)[:4] == bytes.fromhex("01000003")
    imme = gwmp.txpk(PHY, immediately=True, freq=869.525, datr="SF12BW125", power=27)
    assert imme["imme"] is True and "tmst" not in imme and imme["powe"] == 27
    fsk = gwmp.txpk(PHY, tmst=5, freq=868.8, datr=50000)
    assert (fsk["modu"], fsk["datr"], fsk["fdev"]) == ("FSK", 50000, 25000)
    ack = gwmp.parse(gwmp.tx_ack(EUI, 0x0A0B, "TOO_LATE"))
    assert (ack.name, ack.token, ack.body) == ("TX_ACK", 0x0A0B, {"txpk_ack": {"error": "TOO_LATE"}})
    assert gwmp.parse(gwmp.tx_ack(EUI, 1, None)).body is None  # v2 without JSON: no error


@pytest.mark.parametrize("data, message, offset", [
    (b"", "datagram of 0 bytes is shorter than the 4-byte GWMP header", 0),
    (b"\x03\x00\x00\x00", "byte 0: protocol version 3 (expected 1 or 2)", 0),
    (b"\x02\x00\x00\x06", "byte 3: unknown identifier 0x06", 3),
    (b"\x02\x00\x00\x00\xaa\x55", "PUSH_DATA of 6 bytes: the gateway EUI needs bytes 4-11", 6),
    (b"\x02\x00\x00\x00" + bytes(8), "PUSH_DATA: no JSON object after byte 11", 12),
    (b"\x02\x00\x00\x00" + bytes(8) + b"[1]", "PUSH_DATA: the JSON at byte 12 is a list, not "
                                              "an object", 12),
    (b"\x02\x00\x00\x00" + bytes(8) + b'{"a":\xff}', "PUSH_DATA: byte 17 is not UTF-8 text", 17),
    (b"\x02\x00\x00\x00" + bytes(8) + b'{"rxpk":[}',
     "PUSH_DATA: invalid JSON at byte 21: Expecting value", 21),
    (b"\x02\x00\x00\x02" + bytes(9), "PULL_DATA of 13 bytes: expected 12", 12),
    (b"\x02\x00\x00\x01\x00", "PUSH_ACK of 5 bytes: expected 4", 4),
])
def test_malformed_datagrams_say_what_and_where(data, message, offset):
    with pytest.raises(gwmp.GwmpError) as exc:
        gwmp.parse(data)
    assert str(exc.value) == message
    assert exc.value.offset == offset


def test_a_trailing_nul_after_the_json_is_accepted():
    dg = gwmp.parse(b"\x01\x00\x05\x00" + bytes.fromhex(EUI) + b'{"stat":{}}\x00')
    assert dg.body == {"stat": {}} and dg.version == 1


@pytest.mark.parametrize("rxpk, message", [
    ([], "rxpk[0]: must be an object, not list"),
    ({"tmst": 1}, "rxpk[0].data: missing (the base64 PHYPayload)"),
    ({"data": "QPF9vkk"}, None),   # unpadded base64 is accepted
    ({"data": "QPF9v*kk"}, "rxpk[0].data: not valid base64"),
    ({"data": 12}, "rxpk[0].data: must be a base64 string, not 12"),
    ({"data": "QPF9vkk=", "size": 6}, "rxpk[0].size: 6 does not match the 5 bytes of data"),
    ({"data": "QPF9vkk=", "tmst": -1}, "rxpk[0].tmst: -1 is out of range"),
    ({"data": "QPF9vkk=", "tmst": 2 ** 32}, "rxpk[0].tmst: 4294967296 is out of range"),
    ({"data": "QPF9vkk=", "tmst": 1.5}, "rxpk[0].tmst: must be an integer, not 1.5"),
    ({"data": "QPF9vkk=", "rssi": "-35"}, "rxpk[0].rssi: must be a number, not '-35'"),
    ({"data": "QPF9vkk=", "datr": "SF13BW125"},
     "rxpk[0].datr: 'SF13BW125' is not a data rate like \"SF12BW125\" (or FSK bit/s)"),
    ({"data": "QPF9vkk=", "stat": 2}, "rxpk[0].stat: 2 is out of range"),
    ({"data": "QPF9vkk=", "codr": 5}, "rxpk[0].codr: must be a string, not 5"),
])
def test_rxpk_fields_are_checked(rxpk, message):
    if message is None:
        assert gwmp.parse_rxpk(rxpk).phy == bytes.fromhex("40f17dbe49")
        return
    with pytest.raises(gwmp.GwmpError) as exc:
        gwmp.parse_rxpk(rxpk)
    assert str(exc.value) == message


def test_multi_antenna_rsig_gives_the_best_antenna():
    rx = gwmp.parse_rxpk({"data": "QPF9vkk=", "rsig": [{"ant": 0, "rssic": -97, "lsnr": 1.5},
                                                       {"ant": 1, "rssic": -88, "lsnr": 6.0}]})
    assert (rx.rssi, rx.lsnr) == (-88, 6.0)


def test_signal_ranks_weak_packets_by_snr():
    strong = gwmp.Rx(b"", 0, 868.1, "SF7BW125", -60, 9.0)
    weaker = gwmp.Rx(b"", 0, 868.1, "SF7BW125", -80, 10.0)
    noisy = gwmp.Rx(b"", 0, 868.1, "SF12BW125", -118, -15.0)
    quiet = gwmp.Rx(b"", 0, 868.1, "SF12BW125", -120, -5.0)
    assert sorted([noisy, weaker, quiet, strong], key=lambda r: r.signal, reverse=True) == [
        strong, weaker, quiet, noisy]


def test_eu868_data_rates():
    assert [gwmp.eu868_dr(d) for d in ("SF12BW125", "SF7BW125", "SF7BW250", 50000, "SF7BW500")] \
        == [0, 5, 6, 7, None]
    assert gwmp.eu868_datr(0) == "SF12BW125" and gwmp.eu868_datr(3) == "SF9BW125"
    with pytest.raises(ValueError, match="EU868 data rates are DR0 to DR7, not 8"):
        gwmp.eu868_datr(8)
    assert (gwmp.EU868_RX2_FREQUENCY, gwmp.RECEIVE_DELAY1, gwmp.JOIN_ACCEPT_DELAY1) == (
        869.525, 1.0, 5.0)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64))
def test_random_datagrams_only_raise_gwmp_errors(data):
    try:
        dg = gwmp.parse(data)
    except gwmp.GwmpError as exc:
        assert exc.offset is not None and 0 <= exc.offset <= len(data)
        return
    assert dg.kind in gwmp.NAMES


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2 ** 40, 2 ** 40) | st.floats(allow_nan=False)
    | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                 max_size=3),
    max_leaves=8)


_fields = st.sampled_from(["data", "tmst", "freq", "datr", "rssi", "lsnr", "size", "stat",
                           "chan", "rfch", "codr", "rsig", "modu", "time"])


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(_fields, _json_values, max_size=8), st.booleans(),
       st.binary(max_size=24))
def test_random_rxpk_objects_only_raise_gwmp_errors(obj, valid_data, phy):
    if valid_data:  # most records carry good data: reach the checks of the other fields
        obj["data"] = gwmp.b64encode(phy)
    try:
        rx = gwmp.parse_rxpk(obj)
    except gwmp.GwmpError as exc:
        assert str(exc).startswith("rxpk[0]")
        return
    assert isinstance(rx.phy, bytes)


class _Ctx:
    """Just enough of a SourceContext to drive the source without a kernel."""

    def __init__(self):
        self.errors, self.events, self.records = [], [], []

    def count_error(self, kind, message=None, device=None):
        self.errors.append(kind)

    def emit(self, event):
        self.events.append(event)

    def pack(self, payload, **kw):
        return (payload, kw)

    async def put(self, records):
        self.records.extend(records)


def _source():
    from hromada.options import validate_options
    from hromada_plugins.sources import semtech_udp

    [desc] = semtech_udp.hromada_sources()
    opts, _ = validate_options(desc.options, {
        "bind": "127.0.0.1:0", "dedup_window": 0,
        "keys": {"0004a30b001c0530": {"dev_addr": "26011bda",
                                      "nwkskey": "44024241ed4ce9a68c6a8bc055233fd3",
                                      "appskey": "ec925802ae430ca77fd3dd73cb2cc588"},
                 "70b3d57ed0000001": {"appkey": "2b7e151628aed2a6abf7158809cf4f3c"}}},
        "sources.gw")
    src = semtech_udp.SemtechUdpSource("gw", opts, None)
    src.ctx = _Ctx()
    return src


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["rxpk", "stat"]), _json_values | st.lists(
    st.dictionaries(_fields, _json_values, max_size=6), max_size=3), max_size=2),
    st.lists(st.binary(max_size=40), max_size=3))
def test_random_push_data_never_breaks_the_source(body, phys):
    import asyncio

    src = _source()
    if isinstance(body.get("rxpk"), list):
        body["rxpk"] = [dict(pk, data=gwmp.b64encode(p)) if isinstance(pk, dict) else pk
                        for pk, p in zip(body["rxpk"], phys + [b""] * 3, strict=False)]
    src.datagram(gwmp.push_data(EUI, 1, rxpk=None) if not body else
                 b"\x02\x00\x01\x00" + bytes.fromhex(EUI) + json.dumps(body).encode(),
                 ("127.0.0.1", 1700))
    asyncio.run(src.flush(final=True))
    assert src.stats["datagrams"] == 1
    # Whatever came in was either taken, or counted under a known kind.
    known = {"gwmp", "crc", "frame", "mic", "unknown_dev_addr", "replay", "fcnt_gap", "join_refused",
             "dev_nonce", "downlink"}
    assert set(src.ctx.errors) <= known
    # ... and not by the guard that catches exceptions of the uplink path.
    assert not [e for e in src.ctx.events if e.data["message"].startswith("uplink ")]


def test_counter_gaps_and_other_message_types_without_sockets():
    import asyncio

    from hromada import lorawan

    src = _source()
    keys = {"nwkskey": "44024241ed4ce9a68c6a8bc055233fd3",
            "appskey": "ec925802ae430ca77fd3dd73cb2cc588"}

    def hear(phy):
        pk = {"tmst": 1000, "freq": 868.1, "datr": "SF7BW125", "rssi": -70, "lsnr": 5.0,
              "stat": 1, "data": gwmp.b64encode(phy)}
        src.datagram(gwmp.push_data(EUI, 1, rxpk=[pk]), ("127.0.0.1", 1700))
        asyncio.run(src.flush(final=True))

    hear(lorawan.encode_data(dev_addr="26011bda", fcnt=3, fport=1, payload=b"\x01", **keys))
    hear(lorawan.encode_data(dev_addr="26011bda", fcnt=4 + 16385, fport=1, payload=b"\x02",
                             **keys))
    hear(lorawan.encode_proprietary(b"\x01\x02"))
    # FPort 0: MAC commands only (a LinkCheckReq), whose answer no gateway can carry here
    hear(lorawan.encode_data(dev_addr="26011bda", fcnt=5, fport=0, payload=b"\x02", **keys))
    assert src.ctx.errors == ["fcnt_gap", "frame", "downlink"]
    assert [(p, kw["fport"], kw["fcnt"]) for p, kw in src.ctx.records] == [(b"\x01", 1, 3)]
    connected, gap, other, answer = src.ctx.events
    assert answer.data["message"] == (
        "MAC answer for device 0004a30b001c0530: none of the gateways that heard it "
        f"({EUI}) has sent PULL_DATA in the last 60 s, so none can transmit")
    assert connected.kind == "lorawan.gateway" and connected.severity == "info"
    assert gap.kind == "lorawan.fcnt_gap" and gap.data["message"] == (
        "frame counter 16389 of device 0004a30b001c0530 is 16385 ahead of the expected 4")
    assert other.data["message"] == ("Proprietary heard by gateway aa555a0000000101 is not a "
                                     "data uplink or join-request")
    assert src.stats["mac_only"] == 1 and src.stats["uplinks"] == 2
