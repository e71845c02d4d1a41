"""Elsys ERS family: a stream of ``type (1B) + value`` records, big-endian.

The value size follows from the type byte.  Types and sizes are Elsys's published
payload table (ELSYS "Generic payload" document, also in the codec Elsys contributed
to The Things Network device repository); written here as a layout.
"""

from __future__ import annotations

from hromada import DeviceModel, Example, layout

FPORT = 5  # Elsys sensors send on fPort 5 (examples below keep the port of their source)


def _one(typ, quantity, unit, scale=1, name=None):
    return {"name": name or quantity, "size": {"u8": 1, "s8": 1, "u16": 2, "s16": 2,
                                              "u32": 4, "s32": 4}[typ],
            "fields": [{"type": typ, "scale": scale, "quantity": quantity, "unit": unit}]}


TYPES = {
    0x01: _one("s16", "temperature", "Cel", 0.1),
    0x02: _one("u8", "humidity", "%RH"),
    0x03: {"name": "acceleration", "size": 3},
    0x04: _one("u16", "illuminance", "lx"),
    0x05: _one("u8", "motion", "count"),
    0x06: _one("u16", "co2", "ppm"),
    0x07: _one("u16", "battery", "V", 0.001),
    0x08: {"name": "analog input", "size": 2},
    0x0A: _one("u16", "pulse_count", "count"),
    0x0B: _one("u32", "pulse_total", "count"),
    0x0C: _one("s16", "temperature_ext", "Cel", 0.1),
    0x0D: {"name": "digital input", "size": 1},
    0x0E: _one("u16", "distance", "mm"),
    0x0F: {"name": "acceleration motion", "size": 1},
    0x11: {"name": "occupancy", "size": 1, "fields": [
        {"type": "u8", "enum": {0: "free", 1: "pending", 2: "occupied"},
         "quantity": "occupancy"}]},
    0x12: {"name": "water leak", "size": 1, "fields": [
        {"type": "u8", "bool": True, "quantity": "leak"}]},
    0x14: _one("u32", "pressure", "hPa", 0.001),
    # sound: peak (1B) then average (1B), dB(A)
    0x15: {"name": "sound", "size": 2, "fields": [
        {"offset": 0, "type": "u8", "quantity": "lamax", "unit": "dBA"},
        {"offset": 1, "type": "u8", "quantity": "laeq", "unit": "dBA"}]},
    0x1C: _one("u16", "tvoc", "ppb"),
    0x3D: {"name": "debug", "size": 4},
}

SPEC = {"records": {"key": 1, "types": TYPES}}


def _sim(kind):
    def simulate(device, t, rng):
        hour = (t % 86400) / 3600.0
        busy = 8 <= hour < 18
        v = {"temperature": round(21 + rng.uniform(-1, 1), 1),
             "humidity": 35 + int(rng.random() * 15),
             "illuminance": int(400 * rng.random()) if busy else 0,
             "motion": int(10 * rng.random()) if busy else 0,
             "battery": 3.6}
        if kind == "sound":
            laeq = (55 if 7 <= hour < 22 else 40) + int(rng.random() * 6)
            v.update({"laeq": laeq, "lamax": laeq + 10 + int(rng.random() * 10)})
        elif kind == "co2":
            v["co2"] = int(420 + (500 if busy else 30) * rng.random())
        return v
    return simulate


_TTN = "TheThingsNetwork/lorawan-devices vendor/elsys"
_TABLE = "composed from Elsys's payload type table"


def build_models(impl=None):
    lay = layout.compile(SPEC, impl)
    dec, enc = layout.decoder(lay), layout.encoder(lay, FPORT)
    base = {"temperature": "Cel", "humidity": "%RH", "illuminance": "lx",
            "motion": "count", "battery": "V"}
    return [
        DeviceModel(
            id="elsys/ers-sound", family="noise", decode=dec, encode=enc,
            quantities={**base, "laeq": "dBA", "lamax": "dBA"}, simulate=_sim("sound"),
            description="Indoor climate and sound level (peak and average)",
            vendor_url="https://www.elsys.se/en/ers-sound/",
            examples=(
                Example("0100E202290400270506150101", 1,
                        [("temperature", 22.6, "Cel"), ("humidity", 41, "%RH"),
                         ("illuminance", 39, "lx"), ("motion", 6, "count"),
                         ("lamax", 1, "dBA"), ("laeq", 1, "dBA")],
                        f"{_TTN}/ers-sound-codec.yaml example (its fPort 1)"),
                Example("0100F4154638070E10", FPORT,
                        [("temperature", 24.4, "Cel"), ("lamax", 70, "dBA"),
                         ("laeq", 56, "dBA"), ("battery", 3.6, "V")],
                        f"{_TABLE}: a busy room"),
                Example("01FF9C15302A", FPORT,
                        [("temperature", -10.0, "Cel"), ("lamax", 48, "dBA"),
                         ("laeq", 42, "dBA")], f"{_TABLE}: outdoors in winter"),
            )),
        DeviceModel(
            id="elsys/ers-co2", family="air_quality", decode=dec, encode=enc,
            quantities={**base, "co2": "ppm"}, simulate=_sim("co2"),
            description="Indoor climate with CO2",
            vendor_url="https://www.elsys.se/en/ers-co2/",
            examples=(
                Example("0100E202290400270506060308", 1,
                        [("temperature", 22.6, "Cel"), ("humidity", 41, "%RH"),
                         ("illuminance", 39, "lx"), ("motion", 6, "count"),
                         ("co2", 776, "ppm")],
                        f"{_TTN}/ers-co2-codec.yaml example (its fPort 1)"),
                Example("0100E20229060308", 1,
                        [("temperature", 22.6, "Cel"), ("humidity", 41, "%RH"),
                         ("co2", 776, "ppm")],
                        f"{_TTN}/ers-co2-lite-codec.yaml example (ERS CO2 Lite: the ERS CO2 "
                        "frame without light and motion; its fPort 1)"),
                Example("060BB8070E10", FPORT,
                        [("co2", 3000, "ppm"), ("battery", 3.6, "V")],
                        f"{_TABLE}: stale air"),
            )),
        DeviceModel(
            id="elsys/ers", family="climate", decode=dec, encode=enc,
            quantities=base, simulate=_sim("climate"),
            description="Indoor climate: temperature, humidity, light, motion",
            vendor_url="https://www.elsys.se/en/ers/",
            examples=(
                Example("0100E202290400270506", 1,
                        [("temperature", 22.6, "Cel"), ("humidity", 41, "%RH"),
                         ("illuminance", 39, "lx"), ("motion", 6, "count")],
                        f"{_TTN}/ers-codec.yaml example (commented out there; its fPort 1)"),
                Example("0100E20229", 1,
                        [("temperature", 22.6, "Cel"), ("humidity", 41, "%RH")],
                        f"{_TTN}/ers-lite-codec.yaml example (ERS Lite: the ERS frame "
                        "without light and motion; its fPort 1)"),
                Example("0100E2022904002705060709C4", FPORT,
                        [("temperature", 22.6, "Cel"), ("humidity", 41, "%RH"),
                         ("illuminance", 39, "lx"), ("motion", 6, "count"),
                         ("battery", 2.5, "V")],
                        f"{_TABLE}: the TTN values with a battery record"),
            )),
    ]
