"""Adaptive data rate (ADR), the network's side, for EU868.

A device that sets the ADR bit lets the network choose its data rate and transmit power.
The network keeps the SNR of the device's last uplinks (the best gateway's copy of each)
and, once it has ``HISTORY`` of them, computes the margin the link has above what the
current data rate needs::

    margin = max(SNR) - required SNR of the data rate - installation margin
    steps  = floor(margin / 3 dB)

Each positive step raises the data rate one notch (up to DR5, SF7BW125), then lowers the
power one notch (TXPower index up to 7, 2 dB each); negative steps raise the power back
(the data rate is never lowered by the network: a device that loses the link lowers its
own, after ADRACKReq goes unanswered).  This is the algorithm Semtech published for its
network servers; the required SNRs are the demodulation floors of the spreading factors.
A change goes to the device as LinkADRReq in the FOpts of a downlink; the device answers
with LinkADRAns, which the source checks.
"""

from __future__ import annotations

import math
from collections import deque

HISTORY = 20          # uplinks of SNR the decision needs
MAX_DR = 5            # SF7BW125: the fastest LoRa rate every EU868 device has
MAX_TX_POWER = 7      # EU868 TXPower index: max EIRP - 2 dB * index
#: EU868 data rate -> the SNR (dB) below which its spreading factor cannot be demodulated
REQUIRED_SNR = {0: -20.0, 1: -17.5, 2: -15.0, 3: -12.5, 4: -10.0, 5: -7.5}


def plan(snrs, dr, tx_power, margin_db=10.0):
    """The (data rate, TXPower index) the link allows, from the SNRs of recent uplinks
    at data rate ``dr`` with power index ``tx_power``."""
    if dr not in REQUIRED_SNR or not snrs:
        return dr, tx_power
    steps = math.floor((max(snrs) - REQUIRED_SNR[dr] - margin_db) / 3.0)
    while steps > 0 and dr < MAX_DR:
        dr += 1
        steps -= 1
    while steps > 0 and tx_power < MAX_TX_POWER:
        tx_power += 1
        steps -= 1
    while steps < 0 and tx_power > 0:
        tx_power -= 1
        steps += 1
    return dr, tx_power


def link_adr_req(dr, tx_power, channels, nb_trans=1):
    """The LinkADRReq command (CID 0x03): ``channels`` the number of enabled channels
    (the three default ones plus any from the CFList), ChMaskCntl 0."""
    ch_mask = (1 << channels) - 1
    return bytes((0x03, (dr << 4) | tx_power, ch_mask & 0xFF, ch_mask >> 8, nb_trans & 0x0F))


class DeviceAdr:
    """What the network knows of one device's ADR: the SNR history at its current data
    rate, its power index, and a LinkADRReq waiting for its answer."""

    __slots__ = ("snrs", "dr", "tx_power", "pending", "waited")

    def __init__(self, dr=None, tx_power=0):
        self.snrs = deque(maxlen=HISTORY)
        self.dr = dr
        self.tx_power = tx_power
        self.pending = None   # (dr, tx_power) asked for, not yet answered
        self.waited = 0       # uplinks since, without the answer

    def to_dict(self):
        return {"dr": self.dr, "tx_power": self.tx_power}

    @classmethod
    def from_dict(cls, d):
        return cls(d.get("dr"), int(d.get("tx_power") or 0))

    def heard(self, dr, snr):
        """One uplink with the ADR bit at data rate ``dr`` with ``snr`` (best copy)."""
        if self.pending is not None:
            # The answer comes in the uplink right after the request: two without it and
            # the request was lost (its downlink never left, or the device missed it).
            self.waited += 1
            if self.waited > 2:
                self.pending = None
        if dr != self.dr:
            self.snrs.clear()   # SNRs at another rate say nothing about this one
            self.dr = dr
        if snr is not None:
            self.snrs.append(snr)

    def decide(self, margin_db, channels):
        """A LinkADRReq when the history is full and the link allows a change, else b""."""
        if self.pending is not None or len(self.snrs) < HISTORY or self.dr is None:
            return b""
        dr, tx_power = plan(self.snrs, self.dr, self.tx_power, margin_db)
        if (dr, tx_power) == (self.dr, self.tx_power):
            return b""
        self.pending = (dr, tx_power)
        self.waited = 0
        self.snrs.clear()
        return link_adr_req(dr, tx_power, channels)

    def answered(self, ans):
        """The device's LinkADRAns; returns the refused parts (empty when all taken)."""
        refused = [name for name, key in (("data rate", "data_rate_ack"),
                                          ("power", "power_ack"),
                                          ("channel mask", "channel_mask_ack"))
                   if not ans.get(key)]
        if self.pending is not None and not refused:
            self.dr, self.tx_power = self.pending
        self.pending = None
        return refused
