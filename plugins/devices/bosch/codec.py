"""Bosch Parking Lot Sensor (TPS110): one sensor per parking bay.

The fPort says what the frame is (Bosch's "Parking Lot Sensor" communication
description): 1 parking status (bit 0 occupied), 2 heartbeat (status, then
temperature as a signed byte), 3 start-up (debug codes, firmware version, reset
cause, status at byte 16).
"""

from __future__ import annotations

import zlib

from hromada import DeviceModel, EncodeError, Example, layout

_OCCUPIED = {"type": "u8", "mask": 0x01, "bool": True, "quantity": "occupied"}

SPEC = {"fport": {"cases": {
    1: {"fields": [{"offset": 0, **_OCCUPIED}]},
    2: {"fields": [{"offset": 0, **_OCCUPIED},
                   {"offset": 1, "type": "s8", "quantity": "temperature", "unit": "Cel"}]},
    3: {"fields": [{"offset": 16, **_OCCUPIED}]},
    4: {"fields": []},
    5: {"fields": []},
    6: {"fields": []},
}}}


def _sim(device, t, rng):
    hour = (t % 86400) / 3600.0
    busy = 0.85 if 9 <= hour < 19 else 0.3
    # a bay stays in one state for a while: hash the device and the half-hour
    slot = int(t // 1800)
    key = (zlib.crc32(device.id.encode()) ^ slot) & 0xFFFF  # hash() differs per process
    return {"occupied": (key / 65535.0) < busy}


def build_models(impl=None):
    lay = layout.compile(SPEC, impl)

    def encode(values, options=None):
        fport = 2 if "temperature" in values else 1
        if "occupied" not in values:
            raise EncodeError("a parking frame needs 'occupied'")
        return fport, lay.encode(values, fport)

    return [DeviceModel(
        id="bosch/tps110", family="parking",
        decode=layout.decoder(lay), encode=encode,
        quantities=lay.quantities(), simulate=_sim,
        description="In-ground parking lot sensor (occupied/free)",
        vendor_url="https://www.bosch-connectivity.com/products/connected-mobility/"
                   "parking-lot-sensor/",
        examples=(
            Example("01", 1, [("occupied", True, "bool")],
                    "Bosch codec example in the TTN device repository: parking status"),
            Example("01FF", 2, [("occupied", True, "bool"), ("temperature", -1, "Cel")],
                    "Bosch codec example in the TTN device repository: heartbeat"),
            Example("240300007503000000000000001D020301", 3, [("occupied", True, "bool")],
                    "Bosch codec example in the TTN device repository: start-up"),
            Example("00", 1, [("occupied", False, "bool")], "parking status: bay free"),
        ))]
