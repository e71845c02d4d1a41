"""Elvaco CMi4110: LoRaWAN module for Landis+Gyr UltraHeat heat meters.

The "standard" message (fPort 2) is a message-format byte (0x00) followed by
M-Bus-style records: DIF, VIF, then a little-endian BCD value whose size the DIF
gives.  DIF/VIF pairs and decimal exponents are the ones in Elvaco's CMi4110 payload
description (also in the codec Elvaco contributed to The Things Network device
repository).  Heat meters are a hot format: the records run in the compiled engine.
"""

from __future__ import annotations

import math

from hromada import DeviceModel, Example, layout

FPORT = 2


def _bcd(typ, quantity, unit, scale=1):
    return {"size": {"bcd4": 2, "bcd6": 3, "bcd8": 4}[typ], "fields": [
        {"type": typ, "scale": scale, "quantity": quantity, "unit": unit}]}


TYPES = {
    (0x0C, 0x06): _bcd("bcd8", "energy", "kWh"),
    (0x0C, 0x07): _bcd("bcd8", "energy", "kWh", 10),
    (0x0C, 0x14): _bcd("bcd8", "volume", "m3", 0.01),
    (0x0C, 0x15): _bcd("bcd8", "volume", "m3", 0.1),
    (0x0C, 0x16): _bcd("bcd8", "volume", "m3"),
    (0x0B, 0x2B): _bcd("bcd6", "power", "kW", 0.001),
    (0x0B, 0x2C): _bcd("bcd6", "power", "kW", 0.01),
    (0x0B, 0x2D): _bcd("bcd6", "power", "kW", 0.1),
    (0x0B, 0x2E): _bcd("bcd6", "power", "kW"),
    (0x0B, 0x3B): _bcd("bcd6", "flow", "m3/h", 0.001),
    (0x0B, 0x3C): _bcd("bcd6", "flow", "m3/h", 0.01),
    (0x0B, 0x3D): _bcd("bcd6", "flow", "m3/h", 0.1),
    (0x0A, 0x5A): _bcd("bcd4", "supply_temperature", "Cel", 0.1),
    (0x0A, 0x5B): _bcd("bcd4", "supply_temperature", "Cel"),
    (0x0A, 0x5E): _bcd("bcd4", "return_temperature", "Cel", 0.1),
    (0x0A, 0x5F): _bcd("bcd4", "return_temperature", "Cel"),
    (0x0C, 0x78): {"name": "meter id", "size": 4},
    # DIF 0x02, VIF 0xFD, VIFE 0x17: error flags (2B); the VIFE is the record's first byte
    (0x02, 0xFD): {"name": "error flags", "size": 3, "fields": [
        {"offset": 0, "type": "u8", "name": "vife", "expect": 0x17},
        {"offset": 1, "type": "u16", "quantity": "error_flags"}]},
}

SPEC = {"endian": "little",
        "fields": [{"offset": 0, "type": "u8", "name": "message format", "expect": 0}],
        "records": {"at": 1, "key": 2, "types": TYPES}}


def _sim(device, t, rng):
    hour = (t % 86400) / 3600.0
    heating = 0.5 + 0.5 * math.cos((hour - 6) / 24 * 2 * math.pi)
    power = round(2.0 + 8.0 * heating + rng.random(), 1)
    kwh = int(t / 3600.0 * 5.0) % 100_000_000
    return {"energy": kwh, "volume": round(kwh * 0.02, 2), "power": power,
            "flow": round(power / 40.0, 3), "supply_temperature": round(70 + 5 * heating, 1),
            "return_temperature": round(45 + 3 * heating, 1), "error_flags": 0}


_TTN = ("TheThingsNetwork/lorawan-devices vendor/elvaco/cmi4110-codec.yaml example "
        "(Landis UH, fPort 2; revision c9d962e of the file)")
_DOC = "composed from Elvaco's CMi4110 standard message description"


def build_models(impl=None):
    lay = layout.compile(SPEC, impl)
    return [DeviceModel(
        id="elvaco/cmi4110", family="heat_meter",
        decode=layout.decoder(lay), encode=layout.encoder(lay, FPORT),
        quantities=lay.quantities(), simulate=_sim,
        description="Heat meter reading: energy, volume, power, flow, temperatures",
        vendor_url="https://www.elvaco.com/en/products/lorawan/cmi4110",
        examples=(
            Example("000C06526761020C14978999000B2D0000000B3B0000000A5A33060A5E41050C78"
                    "2911036602FD170000", FPORT,
                    [("energy", 2616752, "kWh"), ("volume", 9989.97, "m3"),
                     ("power", 0.0, "kW"), ("flow", 0.0, "m3/h"),
                     ("supply_temperature", 63.3, "Cel"), ("return_temperature", 54.1, "Cel"),
                     ("error_flags", 0, "")], _TTN),
            Example("000C06123400000C14001000000B2D2501000B3B5002000A5A10070A5E5004", FPORT,
                    [("energy", 3412, "kWh"), ("volume", 10.0, "m3"), ("power", 12.5, "kW"),
                     ("flow", 0.25, "m3/h"), ("supply_temperature", 71.0, "Cel"),
                     ("return_temperature", 45.0, "Cel")], f"{_DOC}: heating on"),
            Example("000C07123400000C15001000000A5B70000A5F450002FD170400", FPORT,
                    [("energy", 34120.0, "kWh"), ("volume", 100.0, "m3"),
                     ("supply_temperature", 70, "Cel"), ("return_temperature", 45, "Cel"),
                     ("error_flags", 4, "")],
                    f"{_DOC}: coarser units and an error flag"),
        ))]
