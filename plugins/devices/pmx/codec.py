"""PMX (formerly Parametric) TCR radar traffic counters (TCR-DLI, TCR-DLE, TCR-SLI ...).

The counter sees traffic in both directions of a street and reports, once per
measurement interval, how many objects passed left to right and right to left and
their average speed.  Format from PMX's codec and examples in The Things Network
device repository (vendor/pmx, "PMX TCR payload"), big-endian:

* fPort 13 unfiltered detections, 14-17 the four configurable filter categories
  (e.g. cars, trucks, bicycles by size and speed), payload version 0xA2: interval end
  hour (1B) and minute (1B), left-to-right count (2B) and average speed (1B, km/h),
  right-to-left count (2B) and average speed (1B), supply voltage (1B, 0.1 V);
* fPort 190 device identification (0xD2), fPort 1 configuration answers (0xC2): no
  readings.

Counts are per interval, not running totals.  ``vehicle_count`` (both directions of
the unfiltered counter) is what city services sum; the categories give
``vehicle_count_catN``.
"""

from __future__ import annotations

import math
import re
import zlib

from hromada import DeviceModel, EncodeError, Example, layout

UNFILTERED = 13
CATEGORIES = (1, 2, 3, 4)  # on fPorts 14..17


def _prefix(cat):
    return "" if cat == 0 else f"_cat{cat}"


def counter_spec(cat):
    p = _prefix(cat)
    return {"fields": [
        {"offset": 0, "type": "u8", "name": "payload version", "expect": 0xA2},
        {"offset": 3, "type": "u16", "quantity": f"vehicle_count{p}_ltr", "unit": "count"},
        {"offset": 5, "type": "u8", "quantity": f"avg_speed{p}_ltr", "unit": "km/h"},
        {"offset": 6, "type": "u16", "quantity": f"vehicle_count{p}_rtl", "unit": "count"},
        {"offset": 8, "type": "u8", "quantity": f"avg_speed{p}_rtl", "unit": "km/h"},
        {"offset": 9, "type": "u8", "scale": 0.1, "quantity": "voltage", "unit": "V"},
    ]}


SPEC = {"fport": {"cases": {
    UNFILTERED: counter_spec(0),
    **{UNFILTERED + cat: counter_spec(cat) for cat in CATEGORIES},
    190: {"fields": [{"offset": 0, "type": "u8", "name": "payload version", "expect": 0xD2}]},
    1: {"fields": [{"offset": 0, "type": "u8", "name": "payload version", "expect": 0xC2}]},
}}}


def _post(readings, options):
    """Both directions together: ``vehicle_count`` / ``vehicle_count_catN``."""
    counts = {q: v for q, v, _u in readings if q.startswith("vehicle_count")}
    for cat in (0, *CATEGORIES):
        total = f"vehicle_count{_prefix(cat)}"
        if f"{total}_ltr" in counts and f"{total}_rtl" in counts:
            readings.append((total, counts[f"{total}_ltr"] + counts[f"{total}_rtl"], "count"))
    return readings


def _quantities():
    q = {}
    for cat in (0, *CATEGORIES):
        p = _prefix(cat)
        q[f"vehicle_count{p}"] = "count"
        for d in ("ltr", "rtl"):
            q[f"vehicle_count{p}_{d}"] = "count"
            q[f"avg_speed{p}_{d}"] = "km/h"
    q["voltage"] = "V"
    return q


QUANTITIES = _quantities()
_CAT = re.compile(r"_cat(\d)")


def _encoder(lay):
    def encode(values, options=None):
        """The counter frame of the category the values belong to (unfiltered if none)."""
        unknown = sorted(set(values) - set(QUANTITIES))
        if unknown:
            raise EncodeError(f"{unknown} are not quantities of a TCR counter frame")
        cats = {int(m.group(1)) for q in values if (m := _CAT.search(q))}
        if len(cats) > 1:
            raise EncodeError(f"values of categories {sorted(cats)}: one frame carries one")
        cat = cats.pop() if cats else 0
        v = dict(values)
        total = f"vehicle_count{_prefix(cat)}"
        if total in v:
            ltr, rtl = v.get(f"{total}_ltr"), v.get(f"{total}_rtl")
            if ltr is None or rtl is None or ltr + rtl != v[total]:
                raise EncodeError(f"{total!r} is the sum of {total}_ltr and {total}_rtl, "
                                  "which the frame carries: give both, adding up")
            del v[total]
        port = UNFILTERED + cat
        return port, lay.encode(v, port)
    encode.layout = lay
    return encode


# -- simulation: a two-lane street with a morning and an evening rush hour ---------------

INTERVAL_S = 900  # the counter's measurement interval in the simulation


def traffic_rate(hour):
    """Vehicles per hour in both directions: a night floor, a day plateau, two rush hours."""
    def bump(mu, s):
        return math.exp(-((hour - mu) ** 2) / (2 * s * s))
    return 30 + 250 * bump(13.0, 4.0) + 600 * bump(8.0, 1.1) + 520 * bump(17.5, 1.4)


def simulate(device, t, rng):
    hour = (t % 86400) / 3600.0
    street = 0.6 + (zlib.crc32(device.id.encode()) % 80) / 100.0  # a busier or quieter street
    n = traffic_rate(hour) * street * INTERVAL_S / 3600.0
    inbound = 0.5 + 0.15 * math.tanh(12.0 - hour)  # into town mornings, out evenings
    ltr = int(n * inbound * (0.85 + 0.3 * rng.random()))
    rtl = int(n * (1 - inbound) * (0.85 + 0.3 * rng.random()))
    jam = min(1.0, traffic_rate(hour) * street / 900.0)

    def speed(count):
        return int(round(52 - 22 * jam + rng.uniform(-4, 4))) if count else 0
    return {"vehicle_count_ltr": ltr, "avg_speed_ltr": speed(ltr),
            "vehicle_count_rtl": rtl, "avg_speed_rtl": speed(rtl),
            "voltage": round(12.0 + 0.6 * rng.random(), 1), "vehicle_count": ltr + rtl}


# -- the model ---------------------------------------------------------------------------

_TTN = "TheThingsNetwork/lorawan-devices vendor/pmx/pmx-tcr-codec.yaml"
_FRAME = "A2 14 0A 03E8 32 044C 34 33"  # 20:10, 1000 at 50 km/h, 1100 at 52 km/h, 5.1 V


def _counts(cat):
    p = _prefix(cat)
    return [(f"vehicle_count{p}_ltr", 1000, "count"), (f"avg_speed{p}_ltr", 50, "km/h"),
            (f"vehicle_count{p}_rtl", 1100, "count"), (f"avg_speed{p}_rtl", 52, "km/h"),
            ("voltage", 5.1, "V"), (f"vehicle_count{p}", 2100, "count")]


EXAMPLES = (
    Example(_FRAME, 13, _counts(0), f"{_TTN}: unfiltered detections (fPort 13)"),
    Example(_FRAME, 14, _counts(1), f"{_TTN}: category 1 counter (fPort 14)"),
    Example(_FRAME, 15, _counts(2), f"{_TTN}: category 2 counter (fPort 15)"),
    Example(_FRAME, 16, _counts(3), f"{_TTN}: category 3 counter (fPort 16)"),
    Example(_FRAME, 17, _counts(4), f"{_TTN}: category 4 counter (fPort 17)"),
    Example("D2 0A 02 02 11 00 42 00", 190, [],
            f"{_TTN}: device identification (TCR-DLI, PRO, firmware 1.1.0)"),
    Example("A2 07 2D 0000 00 0001 1E 7B", 13,
            [("vehicle_count_ltr", 0, "count"), ("avg_speed_ltr", 0, "km/h"),
             ("vehicle_count_rtl", 1, "count"), ("avg_speed_rtl", 30, "km/h"),
             ("voltage", 12.3, "V"), ("vehicle_count", 1, "count")],
            "composed from the PMX TCR payload table: a quiet 07:45 interval, 12.3 V"),
)


def build_models(impl=None):
    lay = layout.compile(SPEC, impl)
    return [DeviceModel(
        id="pmx/tcr", family="traffic_counter",
        decode=layout.decoder(lay, _post), encode=_encoder(lay), quantities=QUANTITIES,
        simulate=simulate,
        description="Radar traffic counter: vehicles and average speed per direction and "
                    "per filter category, every measurement interval",
        vendor_url="https://www.pmx.ch/",
        examples=EXAMPLES)]
