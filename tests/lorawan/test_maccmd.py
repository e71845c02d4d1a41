"""MAC commands in FOpts and FPort-0 payloads, parsed per direction."""

import pytest

from hromada.lorawan.maccmd import BY_NAME, DOWNLINK, UPLINK, parse_mac_commands


@pytest.mark.parametrize("hexdata,uplink,expected", [
    ("02", True, [{"cid": 2, "name": "LinkCheckReq"}]),
    ("020701", False, [{"cid": 2, "name": "LinkCheckAns", "margin": 7, "gw_cnt": 1}]),
    ("067307", True, [{"cid": 6, "name": "DevStatusAns", "battery": 115, "margin": 7}]),
    ("06ff3f", True, [{"cid": 6, "name": "DevStatusAns", "battery": 255, "margin": -1}]),
    ("0620", True, [{"cid": 6, "name": "DevStatusAns", "error":
                     "DevStatusAns needs 2 bytes after byte 0, 1 left", "raw": "20"}]),
    ("0321ff0061", False, [{"cid": 3, "name": "LinkADRReq", "data_rate": 2, "tx_power": 1,
                            "ch_mask": 0x00FF, "ch_mask_cntl": 6, "nb_trans": 1}]),
    ("0307", True, [{"cid": 3, "name": "LinkADRAns", "power_ack": True, "data_rate_ack": True,
                     "channel_mask_ack": True}]),
    ("0503d2ad84", False, [{"cid": 5, "name": "RXParamSetupReq", "rx1_dr_offset": 0,
                            "rx2_data_rate": 3, "frequency": 869525000}]),
    ("0703184f8450", False, [{"cid": 7, "name": "NewChannelReq", "ch_index": 3,
                                "frequency": 867100000, "max_dr": 5, "min_dr": 0}]),
    ("0d1027000080", False, [{"cid": 13, "name": "DeviceTimeAns", "gps_seconds": 10000,
                              "fraction_256": 128}]),
    ("0e5325", False, [{"cid": 14, "name": "ForceRejoinReq", "period": 4, "max_retries": 5,
                        "rejoin_type": 5, "data_rate": 3}]),
    ("0901", True, [{"cid": 9, "name": "TxParamSetupAns"},
                    {"cid": 1, "name": "ResetInd", "error": "ResetInd needs 1 bytes after "
                     "byte 1, 0 left", "raw": ""}]),
    ("2002", True, [{"cid": 0x20, "name": "DeviceModeInd", "class": "C"}]),
    ("0280aabb", True, [{"cid": 2, "name": "LinkCheckReq"},
                        {"cid": 0x80, "name": "Proprietary", "raw": "aabb"}]),
    ("021f0102", True, [{"cid": 2, "name": "LinkCheckReq"},
                        {"cid": 0x1F, "name": "Unknown", "raw": "0102",
                         "error": "unknown uplink CID 0x1f at byte 1; parsing stopped"}]),
    ("0e00", True, [{"cid": 14, "name": "Unknown", "raw": "00",
                     "error": "unknown uplink CID 0x0e at byte 0; parsing stopped"}]),
    ("", False, []),
])
def test_parse(hexdata, uplink, expected):
    assert parse_mac_commands(bytes.fromhex(hexdata), uplink) == expected


def test_tables_are_consistent():
    for table in (UPLINK, DOWNLINK):
        for cid, (name, size, fields) in table.items():
            assert 0 < cid < 0x80
            data = bytes([cid]) + bytes(range(1, size + 1))
            [cmd] = parse_mac_commands(data, table is UPLINK)
            assert cmd["name"] == name and "error" not in cmd
            assert (fields is None) == (set(cmd) == {"cid", "name"})
    assert BY_NAME["LinkADRReq"] == (3, False)
    assert BY_NAME["LinkADRAns"] == (3, True)
