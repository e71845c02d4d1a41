"""LoRaWAN MAC commands (FOpts and FPort-0 payloads), parsed per direction.

The tables follow LoRaWAN 1.0.4 and 1.1 chapter 5 plus the class B and class C
commands.  A command's length is known only from its CID and direction, so parsing stops
at the first unknown CID (the spec says so too): that entry, like a truncated one,
carries ``error`` and the remaining bytes as ``raw`` hex, rather than failing the whole
frame whose MIC and payload may be perfectly good.  Both MAC-layer implementations use
this module, so they agree by construction.
"""


def _u16(b, i):
    return b[i] | (b[i + 1] << 8)


def _u24(b, i):
    return b[i] | (b[i + 1] << 8) | (b[i + 2] << 16)


def _freq(b, i):
    # Frequencies are sent in units of 100 Hz.
    return _u24(b, i) * 100


def _bit(b, n):
    return bool(b & (1 << n))


def _margin6(b):
    # DevStatusAns margin: signed 6-bit SNR in dB.
    m = b & 0x3F
    return m - 64 if m & 0x20 else m


_CLASSES = {0: "A", 1: "RFU", 2: "C", 3: "RFU"}

# (cid) -> (name, payload size, field decoder over the payload bytes)
UPLINK = {
    0x01: ("ResetInd", 1, lambda p: {"minor": p[0] & 0x0F}),
    0x02: ("LinkCheckReq", 0, None),
    0x03: ("LinkADRAns", 1, lambda p: {"power_ack": _bit(p[0], 2),
                                       "data_rate_ack": _bit(p[0], 1),
                                       "channel_mask_ack": _bit(p[0], 0)}),
    0x04: ("DutyCycleAns", 0, None),
    0x05: ("RXParamSetupAns", 1, lambda p: {"rx1_dr_offset_ack": _bit(p[0], 2),
                                            "rx2_data_rate_ack": _bit(p[0], 1),
                                            "channel_ack": _bit(p[0], 0)}),
    0x06: ("DevStatusAns", 2, lambda p: {"battery": p[0], "margin": _margin6(p[1])}),
    0x07: ("NewChannelAns", 1, lambda p: {"data_rate_range_ok": _bit(p[0], 1),
                                          "channel_frequency_ok": _bit(p[0], 0)}),
    0x08: ("RXTimingSetupAns", 0, None),
    0x09: ("TxParamSetupAns", 0, None),
    0x0A: ("DlChannelAns", 1, lambda p: {"uplink_frequency_exists": _bit(p[0], 1),
                                         "channel_frequency_ok": _bit(p[0], 0)}),
    0x0B: ("RekeyInd", 1, lambda p: {"minor": p[0] & 0x0F}),
    0x0C: ("ADRParamSetupAns", 0, None),
    0x0D: ("DeviceTimeReq", 0, None),
    0x0F: ("RejoinParamSetupAns", 1, lambda p: {"time_ok": _bit(p[0], 0)}),
    0x10: ("PingSlotInfoReq", 1, lambda p: {"periodicity": p[0] & 0x07}),
    0x11: ("PingSlotChannelAns", 1, lambda p: {"data_rate_ok": _bit(p[0], 1),
                                               "channel_frequency_ok": _bit(p[0], 0)}),
    0x12: ("BeaconTimingReq", 0, None),
    0x13: ("BeaconFreqAns", 1, lambda p: {"beacon_frequency_ok": _bit(p[0], 0)}),
    0x20: ("DeviceModeInd", 1, lambda p: {"class": _CLASSES[p[0] & 0x03]}),
}

DOWNLINK = {
    0x01: ("ResetConf", 1, lambda p: {"minor": p[0] & 0x0F}),
    0x02: ("LinkCheckAns", 2, lambda p: {"margin": p[0], "gw_cnt": p[1]}),
    0x03: ("LinkADRReq", 4, lambda p: {"data_rate": p[0] >> 4, "tx_power": p[0] & 0x0F,
                                       "ch_mask": _u16(p, 1), "ch_mask_cntl": (p[3] >> 4) & 7,
                                       "nb_trans": p[3] & 0x0F}),
    0x04: ("DutyCycleReq", 1, lambda p: {"max_duty_cycle": p[0] & 0x0F}),
    0x05: ("RXParamSetupReq", 4, lambda p: {"rx1_dr_offset": (p[0] >> 4) & 7,
                                            "rx2_data_rate": p[0] & 0x0F,
                                            "frequency": _freq(p, 1)}),
    0x06: ("DevStatusReq", 0, None),
    0x07: ("NewChannelReq", 5, lambda p: {"ch_index": p[0], "frequency": _freq(p, 1),
                                          "max_dr": p[4] >> 4, "min_dr": p[4] & 0x0F}),
    0x08: ("RXTimingSetupReq", 1, lambda p: {"delay": p[0] & 0x0F}),
    0x09: ("TxParamSetupReq", 1, lambda p: {"downlink_dwell_time": _bit(p[0], 5),
                                            "uplink_dwell_time": _bit(p[0], 4),
                                            "max_eirp": p[0] & 0x0F}),
    0x0A: ("DlChannelReq", 4, lambda p: {"ch_index": p[0], "frequency": _freq(p, 1)}),
    0x0B: ("RekeyConf", 1, lambda p: {"minor": p[0] & 0x0F}),
    0x0C: ("ADRParamSetupReq", 1, lambda p: {"limit_exp": p[0] >> 4, "delay_exp": p[0] & 0x0F}),
    0x0D: ("DeviceTimeAns", 5, lambda p: {"gps_seconds": p[0] | (p[1] << 8) | (p[2] << 16)
                                          | (p[3] << 24), "fraction_256": p[4]}),
    0x0E: ("ForceRejoinReq", 2, lambda p: {"period": (_u16(p, 0) >> 11) & 7,
                                           "max_retries": (_u16(p, 0) >> 8) & 7,
                                           "rejoin_type": (p[0] >> 4) & 7,
                                           "data_rate": p[0] & 0x0F}),
    0x0F: ("RejoinParamSetupReq", 1, lambda p: {"max_time_n": p[0] >> 4,
                                                "max_count_n": p[0] & 0x0F}),
    0x10: ("PingSlotInfoAns", 0, None),
    0x11: ("PingSlotChannelReq", 4, lambda p: {"frequency": _freq(p, 0),
                                               "data_rate": p[3] & 0x0F}),
    0x12: ("BeaconTimingAns", 3, lambda p: {"delay": _u16(p, 0), "channel": p[2]}),
    0x13: ("BeaconFreqReq", 3, lambda p: {"frequency": _freq(p, 0)}),
    0x20: ("DeviceModeConf", 1, lambda p: {"class": _CLASSES[p[0] & 0x03]}),
}

#: name -> (cid, uplink) for building commands by name.
BY_NAME = {name: (cid, True) for cid, (name, _, _) in UPLINK.items()}
BY_NAME.update({name: (cid, False) for cid, (name, _, _) in DOWNLINK.items()})


def parse_mac_commands(data, uplink):
    """List of MAC commands in ``data`` (FOpts or an FPort-0 FRMPayload).

    Each entry is a dict with ``cid``, ``name`` and the command's fields.  Parsing stops
    at a proprietary CID (0x80-0xFF: the rest is ``raw``), an unknown CID or a truncated
    command (both carry ``error``).
    """
    table = UPLINK if uplink else DOWNLINK
    out = []
    i = 0
    n = len(data)
    while i < n:
        cid = data[i]
        if cid >= 0x80:
            out.append({"cid": cid, "name": "Proprietary", "raw": bytes(data[i + 1:]).hex()})
            break
        entry = table.get(cid)
        if entry is None:
            out.append({"cid": cid, "name": "Unknown", "raw": bytes(data[i + 1:]).hex(),
                        "error": f"unknown {'uplink' if uplink else 'downlink'} CID "
                                 f"0x{cid:02x} at byte {i}; parsing stopped"})
            break
        name, size, fields = entry
        if i + 1 + size > n:
            out.append({"cid": cid, "name": name, "raw": bytes(data[i + 1:]).hex(),
                        "error": f"{name} needs {size} bytes after byte {i}, "
                                 f"{n - i - 1} left"})
            break
        cmd = {"cid": cid, "name": name}
        if fields is not None:
            cmd.update(fields(data[i + 1:i + 1 + size]))
        out.append(cmd)
        i += 1 + size
    return out
