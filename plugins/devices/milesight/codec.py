"""Milesight LoRaWAN devices: channel records (id, type, little-endian value).

Every Milesight uplink is a stream of records ``channel id (1B) + channel type (1B) +
value``; the value size follows from the pair.  The formats come from Milesight's
published payload definitions (the SensorDecoders repository READMEs and the codec
examples Milesight contributed to The Things Network device repository); the layouts
below are the tables of those documents written as data for :mod:`hromada.layout`.
"""

from __future__ import annotations

import math

from hromada import DeviceModel, EncodeError, Example, Option, layout

from .._bins import BIN_DEPTH_OPTION, DEFAULT_BIN_DEPTH_MM, add_fill_level

FPORT = 85  # Milesight uplinks and downlinks both use fPort 85

#: Device attribute records (no readings): they come after a join or a reboot.
_ATTRIBUTES = {
    (0xFF, 0x01): {"name": "protocol version", "size": 1},
    (0xFF, 0x09): {"name": "hardware version", "size": 2},
    (0xFF, 0x0A): {"name": "firmware version", "size": 2},
    (0xFF, 0x0B): {"name": "power on", "size": 1},
    (0xFF, 0x0F): {"name": "lorawan class", "size": 1},
    (0xFF, 0x16): {"name": "serial number", "size": 8},
    (0xFF, 0xFE): {"name": "reset event", "size": 1},
    (0xFF, 0xFF): {"name": "tsl version", "size": 2},
}

BATTERY = {(0x01, 0x75): {"size": 1, "fields": [
    {"type": "u8", "quantity": "battery", "unit": "%EL"}]}}
TEMPERATURE = {(0x03, 0x67): {"size": 2, "fields": [
    {"type": "s16", "scale": 0.1, "quantity": "temperature", "unit": "Cel"}]}}
HUMIDITY = {(0x04, 0x68): {"size": 1, "fields": [
    {"type": "u8", "scale": 0.5, "quantity": "humidity", "unit": "%RH"}]}}


def _u16(quantity, unit, scale=1):
    return {"size": 2, "fields": [{"type": "u16", "scale": scale, "quantity": quantity,
                                   "unit": unit}]}


def _u32(quantity, unit, scale=1):
    return {"size": 4, "fields": [{"type": "u32", "scale": scale, "quantity": quantity,
                                   "unit": unit}]}


def _spec(*channel_tables):
    types = {}
    for table in (*channel_tables, _ATTRIBUTES):
        types.update(table)
    return {"endian": "little", "records": {"key": 2, "types": types}}


# -- EM310-UDL: ultrasonic distance sensor on waste bins --------------------------------

EM310_UDL = _spec(BATTERY, {
    (0x03, 0x82): _u16("distance", "mm"),
    (0x04, 0x00): {"size": 1, "fields": [{"type": "u8", "bool": True, "quantity": "tilt"}]},
})







def _sim_bin(device, t, rng):
    depth = device.options.get("bin_depth_mm", DEFAULT_BIN_DEPTH_MM)
    # Bins fill over about four days and are emptied; each bin has its own phase.
    phase = (t / 86400.0 / 4.0 + rng.random() * 0.05) % 1.0
    distance = int(depth * (1.0 - phase * 0.95))
    return {"battery": 95 - int(rng.random() * 3), "distance": max(25, distance),
            "tilt": rng.random() < 0.01}


# -- EM300-TH: temperature and humidity -----------------------------------------------

def _history(size):
    """A stored-reading record (channel 0x20/0x21, type 0xCE) that the device resends
    from its log: timestamp + readings of the past.  Consumed without readings: its
    values belong to another time than the frame's."""
    return {"name": "history", "size": size}


# timestamp (4B) + temperature (2B) + humidity (1B) + reserved (1B)
EM300_TH = _spec(BATTERY, TEMPERATURE, HUMIDITY, {(0x20, 0xCE): _history(8)})


def _sim_climate(device, t, rng):
    hour = (t % 86400) / 3600.0
    temp = 12.0 + 8.0 * math.sin((hour - 9.0) / 24.0 * 2 * math.pi) + rng.uniform(-0.5, 0.5)
    hum = 70.0 - 20.0 * math.sin((hour - 9.0) / 24.0 * 2 * math.pi) + rng.uniform(-2, 2)
    return {"battery": 90 + int(rng.random() * 5), "temperature": round(temp, 1),
            "humidity": round(hum * 2) / 2}


# -- AM307 / AM319: indoor ambience (CO2, TVOC, PM, HCHO, O3) -------------------------

_AMBIENCE = {
    (0x05, 0x00): {"size": 1, "fields": [{"type": "u8", "bool": True, "quantity": "motion"}]},
    (0x06, 0xCB): {"size": 1, "fields": [{"type": "u8", "quantity": "light_level"}]},
    (0x07, 0x7D): _u16("co2", "ppm"),
    # tVOC as an air-quality level (type 0x7D) or a concentration (type 0xE6)
    (0x08, 0x7D): _u16("tvoc_level", ""),
    (0x08, 0xE6): _u16("tvoc", "ug/m3"),
    (0x09, 0x73): _u16("pressure", "hPa", 0.1),
    (0x0E, 0x01): {"name": "beep", "size": 1},
}
_AM319_EXTRA = {
    (0x0A, 0x7D): _u16("hcho", "mg/m3", 0.01),
    (0x0B, 0x7D): _u16("pm2_5", "ug/m3"),
    (0x0C, 0x7D): _u16("pm10", "ug/m3"),
    (0x0D, 0x7D): _u16("o3", "ppm", 0.01),
}

AM307 = _spec(BATTERY, TEMPERATURE, HUMIDITY, _AMBIENCE)
AM319 = _spec(BATTERY, TEMPERATURE, HUMIDITY, _AMBIENCE, _AM319_EXTRA)


def _sim_ambience(device, t, rng, pm=False):
    hour = (t % 86400) / 3600.0
    occupied = 8 <= hour < 18 and rng.random() < 0.8
    v = _sim_climate(device, t, rng)
    v.update({"motion": occupied, "light_level": 3 if 7 <= hour < 19 else 0,
              "co2": int(420 + (600 if occupied else 50) * rng.random()),
              "tvoc_level": 1 + int(rng.random() * 3),
              "pressure": round(1013.0 + rng.uniform(-8, 8), 1)})
    v["temperature"] = round(21.0 + rng.uniform(-1.5, 1.5), 1)
    if pm:
        # traffic peaks at 8:00 and 18:00 raise particulates outside (and inside)
        rush = math.exp(-((hour - 8) ** 2) / 4) + math.exp(-((hour - 18) ** 2) / 4)
        v.update({"pm2_5": int(8 + 25 * rush + 5 * rng.random()),
                  "pm10": int(15 + 40 * rush + 8 * rng.random()),
                  "hcho": round(0.01 + 0.04 * rng.random(), 2),
                  "o3": round(0.02 + 0.03 * rng.random(), 2)})
    return v


# -- VS133: people counting (ToF) -----------------------------------------------------

def _line(n, base):
    return {
        (base, 0xD2): _u32(f"people_in_total_line_{n}", "count"),
        (base + 1, 0xD2): _u32(f"people_out_total_line_{n}", "count"),
        (base + 2, 0xCC): {"name": f"period line {n}", "size": 4, "fields": [
            {"offset": 0, "type": "u16", "quantity": f"people_in_line_{n}", "unit": "count"},
            {"offset": 2, "type": "u16", "quantity": f"people_out_line_{n}", "unit": "count"}]},
    }


def _dwell(payload, pos):
    """Dwell time record: region (1B) + average (2B) + maximum (2B), seconds."""
    if pos + 5 > len(payload):
        raise ValueError(f"dwell record needs 5 bytes, {len(payload) - pos} left")
    region = payload[pos]
    avg = payload[pos + 1] | payload[pos + 2] << 8
    mx = payload[pos + 3] | payload[pos + 4] << 8
    return [(f"dwell_avg_region_{region}", avg, "s"),
            (f"dwell_max_region_{region}", mx, "s")], pos + 5


VS133 = _spec(_line(1, 0x03), _line(2, 0x06), _line(3, 0x09), _line(4, 0x0C), {
    (0x0F, 0xE3): {"name": "region count", "size": 4, "fields": [
        {"offset": i, "type": "u8", "quantity": f"people_count_region_{i + 1}",
         "unit": "count"} for i in range(4)]},
    (0x10, 0xE4): {"name": "dwell time", "python": _dwell},
})


def _vs133_encoder(lay):
    """Layout records, then the dwell-time records the layout leaves to Python."""
    def encode(values, options=None):
        data = bytearray(lay.encode(values))
        for region in range(1, 5):
            avg = values.get(f"dwell_avg_region_{region}")
            mx = values.get(f"dwell_max_region_{region}")
            if avg is None or mx is None:
                continue
            if not (0 <= avg < 65536 and 0 <= mx < 65536):
                raise EncodeError(f"dwell times of region {region} must fit 16 bits")
            data += bytes([0x10, 0xE4, region]) + int(avg).to_bytes(2, "little") + int(
                mx).to_bytes(2, "little")
        return FPORT, bytes(data)
    encode.layout = lay
    return encode


def _sim_people(device, t, rng):
    hour = (t % 86400) / 3600.0
    rate = 40 * (math.exp(-((hour - 8.5) ** 2) / 2) + math.exp(-((hour - 17.5) ** 2) / 2))
    period_in = int(rate * (0.8 + 0.4 * rng.random()))
    period_out = int(rate * (0.8 + 0.4 * rng.random()))
    total = int(t // 3600) % 100000
    return {"people_in_total_line_1": total * 3 + period_in,
            "people_out_total_line_1": total * 3 + period_out,
            "people_in_line_1": period_in, "people_out_line_1": period_out}


# -- WS302: sound level ---------------------------------------------------------------

WS302 = _spec(BATTERY, {
    (0x05, 0x5B): {"name": "sound level", "size": 7, "fields": [
        {"offset": 0, "type": "u8", "name": "weighting"},
        {"offset": 1, "type": "u16", "scale": 0.1, "quantity": "noise_level", "unit": "dBA"},
        {"offset": 3, "type": "u16", "scale": 0.1, "quantity": "laeq", "unit": "dBA"},
        {"offset": 5, "type": "u16", "scale": 0.1, "quantity": "lamax", "unit": "dBA"}]},
})


def _sim_noise(device, t, rng):
    hour = (t % 86400) / 3600.0
    day = 7 <= hour < 22
    laeq = (58.0 if day else 44.0) + rng.uniform(-3, 3)
    return {"battery": 97, "noise_level": round(laeq + rng.uniform(-2, 2), 1),
            "laeq": round(laeq, 1), "lamax": round(laeq + 8 + rng.uniform(0, 10), 1)}


# -- WS558: smart light controller (8 switched circuits, metering) ---------------------

WS558 = _spec({
    (0x03, 0x74): _u16("voltage", "V", 0.1),
    (0x04, 0x80): _u32("power", "W"),
    (0x05, 0x81): {"size": 1, "fields": [
        {"type": "u8", "quantity": "power_factor", "unit": "%"}]},
    (0x06, 0x83): _u32("energy", "Wh"),
    (0x07, 0xC9): _u16("current", "A", 0.001),
    # change mask (1B, which switches just changed) + state (1B, bit n = switch n+1)
    (0x08, 0x31): {"name": "switch", "size": 2, "fields": [
        {"offset": 1, "type": "u8",
         "flags": {i: f"lamp_on_{i + 1}" for i in range(8)}}]},
})


def ws558_downlink(action, options=None):
    """Switch circuits on or off: ``{"on": True}`` (circuit 1), ``{"lamp_on_3": False}``,
    ``{"switches": {1: True, 2: False}}``.  The WS558 switches; it cannot dim."""
    switches = {}
    if "on" in action:
        switches[int(action.get("switch", 1))] = bool(action["on"])
    for n in range(1, 9):
        if f"lamp_on_{n}" in action:
            switches[n] = bool(action[f"lamp_on_{n}"])
    for n, on in dict(action.get("switches", {})).items():
        switches[int(n)] = bool(on)
    if "dim" in action or "dimming_level" in action:
        raise EncodeError("the WS558 switches circuits on and off; it cannot dim")
    if not switches:
        raise EncodeError(f"no switch action in {sorted(action)}; use 'on' or 'lamp_on_N'")
    mask = state = 0
    for n, on in switches.items():
        if not 1 <= n <= 8:
            raise EncodeError(f"switch {n} does not exist (1..8)")
        mask |= 1 << (n - 1)
        state |= int(on) << (n - 1)
    return FPORT, bytes([0x08, mask, state])


def _sim_light(device, t, rng):
    hour = (t % 86400) / 3600.0
    on = hour >= 19 or hour < 6
    power = int(70 + rng.random() * 4) if on else 0
    hours_on = (t / 3600.0) * (11 / 24)
    return {"voltage": round(228 + rng.uniform(-4, 4), 1), "power": power,
            "power_factor": 95 if on else 0, "energy": int(hours_on * 72),
            "current": round(power / 230.0, 3),
            **{f"lamp_on_{i}": (on and i == 1) for i in range(1, 9)}}


# -- WS52x (WS523): metering smart socket --------------------------------------------

WS52X = _spec({
    (0x03, 0x74): _u16("voltage", "V", 0.1),
    (0x04, 0x80): _u32("power", "W"),
    (0x05, 0x81): {"size": 1, "fields": [
        {"type": "u8", "quantity": "power_factor", "unit": "%"}]},
    (0x06, 0x83): _u32("energy", "Wh"),
    (0x07, 0xC9): _u16("current", "A", 0.001),
    (0x08, 0x70): {"size": 1, "fields": [{"type": "u8", "bool": True, "quantity": "relay_on"}]},
})


def _sim_socket(device, t, rng):
    hour = (t % 86400) / 3600.0
    power = int(300 + 900 * (8 <= hour < 18) * rng.random())
    return {"voltage": round(229 + rng.uniform(-3, 3), 1), "power": power,
            "power_factor": 90 + int(rng.random() * 9), "energy": int(t / 3600.0 * 500),
            "current": round(power / 230.0, 3), "relay_on": True}


# -- EM300-DI: pulse counter ----------------------------------------------------------

# Water record (pulse conversion on, firmware 1.3+): water_conv (u16, /10) and pulse_conv
# (u16, /10) are the configured conversion (water_conv per pulse_conv pulses), water
# (float32) is the converted amount, in the unit configured on the device.
_WATER = [
    {"offset": 0, "type": "u16", "scale": 0.1, "quantity": "water_conv", "unit": ""},
    {"offset": 2, "type": "u16", "scale": 0.1, "quantity": "pulse_conv", "unit": ""},
    {"offset": 4, "type": "float32", "quantity": "water", "unit": ""},
]
WATER_ALARMS = {1: "water_outage_timeout", 2: "water_outage_timeout_release",
                3: "water_flow_timeout", 4: "water_flow_timeout_release"}

EM300_DI = _spec(BATTERY, TEMPERATURE, HUMIDITY, {
    (0x05, 0x00): {"size": 1, "fields": [{"type": "u8", "bool": True, "quantity": "input"}]},
    (0x05, 0xC8): _u32("pulse_count", "count"),
    (0x06, 0xE1): {"name": "water", "size": 8, "fields": _WATER},
    # gpio (1B) + gpio_alarm (1B: 1 alarm, 0 alarm released)
    (0x85, 0x00): {"name": "gpio alarm", "size": 2, "fields": [
        {"offset": 0, "type": "u8", "bool": True, "quantity": "input"},
        {"offset": 1, "type": "u8", "bool": True, "quantity": "gpio_alarm"}]},
    (0x86, 0xE1): {"name": "water alarm", "size": 9, "fields": [
        *_WATER, {"offset": 8, "type": "u8", "enum": WATER_ALARMS, "quantity": "water_alarm"}]},
    # timestamp (4B) + temperature (2B) + humidity (1B) + gpio_type (1B) + gpio (1B) +
    # pulse (4B); v2: timestamp, temperature, humidity, alarm, gpio_type, gpio, water (8B)
    (0x20, 0xCE): _history(13),
    (0x21, 0xCE): _history(18),
})


def _em300_di_post(readings, options):
    weight = options.get("litres_per_pulse")
    if weight:
        for q, v, _unit in readings:
            if q == "pulse_count":
                readings.append(("volume", round(v * weight / 1000.0, 6), "m3"))
                break
    return readings


def _sim_pulses(device, t, rng):
    hour = (t % 86400) / 3600.0
    base = int(t // 60) % 10_000_000
    return {"battery": 88, "temperature": round(14 + rng.uniform(-1, 1), 1),
            "humidity": round(60 + rng.uniform(-5, 5)) * 1.0,
            "pulse_count": base + int(hour * 10)}


# -- examples from Milesight's documents ---------------------------------------------

_DOC = "Milesight SensorDecoders README"
_TTN = "Milesight codec examples in the TTN device repository"
_TABLE = "composed from the channel table of the Milesight payload definition"
_SD = "Milesight-IoT/SensorDecoders"
_TTN_REPO = "TheThingsNetwork/lorawan-devices"


def _models(impl=None):
    def lay(spec):
        return layout.compile(spec, impl)

    em310 = lay(EM310_UDL)
    em300 = lay(EM300_TH)
    am307 = lay(AM307)
    am319 = lay(AM319)
    vs133 = lay(VS133)
    ws302 = lay(WS302)
    ws558 = lay(WS558)
    em300di = lay(EM300_DI)
    ws52x = lay(WS52X)

    def quantities(lay_, **extra):
        q = dict(lay_.quantities())
        q.update(extra)
        return q

    return [
        DeviceModel(
            id="milesight/em310-udl", family="waste_bin",
            decode=layout.decoder(em310, add_fill_level), encode=layout.encoder(em310, FPORT),
            quantities=quantities(em310, fill_level="%"), simulate=_sim_bin,
            options=(BIN_DEPTH_OPTION,),
            description="Ultrasonic distance/level sensor on a waste bin; fill level from "
                        "the bin depth",
            vendor_url="https://www.milesight.com/iot/product/lorawan-sensor/em310-udl",
            examples=(
                Example("01755C03824408040001", FPORT,
                        [("battery", 92, "%EL"), ("distance", 2116, "mm"),
                         ("tilt", True, "bool"), ("fill_level", 15.4, "%")],
                        f"{_SD} EM_Series/EM300_Series/EM310-UDL/README.md example (also "
                        f"{_TTN_REPO} vendor/milesight-iot/em310-udl-codec.yaml example 1); "
                        "bin 2500 mm deep",
                        {"bin_depth_mm": 2500}),
                Example("01755A03824C04040000", FPORT,
                        [("battery", 90, "%EL"), ("distance", 1100, "mm"),
                         ("tilt", False, "bool"), ("fill_level", 45.0, "%")],
                        f"{_TABLE}: half-full bin of the default depth"),
                Example("FF0BFFFF0110FF166708F18744620000", FPORT, [],
                        f"{_TABLE}: power-on attributes, no readings"),
            )),
        DeviceModel(
            id="milesight/em300-th", family="climate",
            decode=layout.decoder(em300), encode=layout.encoder(em300, FPORT),
            quantities=quantities(em300), simulate=_sim_climate,
            description="Temperature and humidity sensor",
            vendor_url="https://www.milesight.com/iot/product/lorawan-sensor/em300-th",
            examples=(
                Example("01755C03673401046865", FPORT,
                        [("battery", 92, "%EL"), ("temperature", 30.8, "Cel"),
                         ("humidity", 50.5, "%RH")],
                        f"{_SD} EM_Series/EM300_Series/EM300-TH/README.md example 1"),
                Example("0175320367C80004683C", 1,
                        [("battery", 50, "%EL"), ("temperature", 20.0, "Cel"),
                         ("humidity", 30.0, "%RH")],
                        f"{_TTN_REPO} vendor/milesight-iot/em300-th-codec.yaml example "
                        "(its fPort 1)"),
                Example("20CE9E74466310015D00", FPORT, [],
                        f"{_SD} EM_Series/EM300_Series/EM300-TH/README.md example 2: one "
                        "history record (27.2 Cel, 46.5 %RH at 1665561758), consumed "
                        "without live readings"),
                Example("0367A2FF046896", FPORT,
                        [("temperature", -9.4, "Cel"), ("humidity", 75.0, "%RH")],
                        f"{_TABLE}: below freezing"),
            )),
        DeviceModel(
            id="milesight/am307", family="air_quality",
            decode=layout.decoder(am307), encode=layout.encoder(am307, FPORT),
            quantities=quantities(am307), simulate=_sim_ambience,
            description="Indoor ambience monitor: CO2, tVOC, pressure, motion, light",
            vendor_url="https://www.milesight.com/iot/product/lorawan-sensor/am307",
            examples=(
                Example("01755C03673401046865", FPORT,
                        [("battery", 92, "%EL"), ("temperature", 30.8, "Cel"),
                         ("humidity", 50.5, "%RH")], f"{_TTN}, example 1"),
                Example("077DE704087D070009733F27", FPORT,
                        [("co2", 1255, "ppm"), ("tvoc_level", 7, ""),
                         ("pressure", 1004.7, "hPa")], f"{_TTN}, example 3"),
                Example("0367EE0004687C05000106CB02077DA803087D250009736627", FPORT,
                        [("temperature", 23.8, "Cel"), ("humidity", 62.0, "%RH"),
                         ("motion", True, "bool"), ("light_level", 2, ""),
                         ("co2", 936, "ppm"), ("tvoc_level", 37, ""),
                         ("pressure", 1008.6, "hPa")],
                        f"{_DOC} (AM300 series), the channels an AM307 has"),
            )),
        DeviceModel(
            id="milesight/am319", family="air_quality",
            decode=layout.decoder(am319), encode=layout.encoder(am319, FPORT),
            quantities=quantities(am319),
            simulate=lambda d, t, rng: _sim_ambience(d, t, rng, pm=True),
            description="Indoor ambience monitor with PM2.5/PM10, HCHO or O3",
            vendor_url="https://www.milesight.com/iot/product/lorawan-sensor/am319",
            examples=(
                Example("0367EE0004687C05000106CB02077DA803087D2500097366270A7D04000B7D2000"
                        "0C7D3000", FPORT,
                        [("temperature", 23.8, "Cel"), ("humidity", 62.0, "%RH"),
                         ("motion", True, "bool"), ("light_level", 2, ""),
                         ("co2", 936, "ppm"), ("tvoc_level", 37, ""),
                         ("pressure", 1008.6, "hPa"), ("hcho", 0.04, "mg/m3"),
                         ("pm2_5", 32, "ug/m3"), ("pm10", 48, "ug/m3")],
                        f"{_SD} AM_Series/AM300_Series/README.md example (AM307 and AM319)"),
                Example("0367340104686505000106CB02077DA803087D2500097366270A7D04000B7D"
                        "20000C7D3000", FPORT,
                        [("temperature", 30.8, "Cel"), ("humidity", 50.5, "%RH"),
                         ("motion", True, "bool"), ("light_level", 2, ""),
                         ("co2", 936, "ppm"), ("tvoc_level", 37, ""),
                         ("pressure", 1008.6, "hPa"), ("hcho", 0.04, "mg/m3"),
                         ("pm2_5", 32, "ug/m3"), ("pm10", 48, "ug/m3")],
                        f"{_TTN_REPO} vendor/milesight-iot/am319-codec.yaml example 1 "
                        "(commented out there; its output also lists a battery of 92 that "
                        "the bytes do not carry)"),
                Example("077DE704087D070009733F27", FPORT,
                        [("co2", 1255, "ppm"), ("tvoc_level", 7, ""),
                         ("pressure", 1004.7, "hPa")],
                        f"{_TTN_REPO} vendor/milesight-iot/am307-codec.yaml example 3: "
                        "channels the AM319 shares (SensorDecoders AM300 README)"),
                Example("0B7D23000C7D41000D7D0300", FPORT,
                        [("pm2_5", 35, "ug/m3"), ("pm10", 65, "ug/m3"), ("o3", 0.03, "ppm")],
                        f"{_TABLE}: the O3 variant"),
                Example("01755C0367340104686505000006CB00", FPORT,
                        [("battery", 92, "%EL"), ("temperature", 30.8, "Cel"),
                         ("humidity", 50.5, "%RH"), ("motion", False, "bool"),
                         ("light_level", 0, "")], f"{_TABLE}: an empty dark room"),
            )),
        DeviceModel(
            id="milesight/vs133", family="people_counter",
            decode=layout.decoder(vs133), encode=_vs133_encoder(vs133),
            quantities={**quantities(vs133), "dwell_avg_region_*": "s",
                        "dwell_max_region_*": "s"},
            simulate=_sim_people,
            description="AI ToF people counter: up to 4 lines and 4 regions",
            vendor_url="https://www.milesight.com/iot/product/lorawan-sensor/vs133",
            examples=(
                Example("03D24800000004D2C800000006D20000000007D20000000009D2000000000AD2"
                        "000000000CD2B41400000DD28D1A0000", FPORT,
                        [("people_in_total_line_1", 72, "count"),
                         ("people_out_total_line_1", 200, "count"),
                         ("people_in_total_line_2", 0, "count"),
                         ("people_out_total_line_2", 0, "count"),
                         ("people_in_total_line_3", 0, "count"),
                         ("people_out_total_line_3", 0, "count"),
                         ("people_in_total_line_4", 5300, "count"),
                         ("people_out_total_line_4", 6797, "count")], f"{_DOC}, totals"),
                Example("05CC0000000008CC000000000BCC000000000ECC05000700", FPORT,
                        [("people_in_line_1", 0, "count"), ("people_out_line_1", 0, "count"),
                         ("people_in_line_2", 0, "count"), ("people_out_line_2", 0, "count"),
                         ("people_in_line_3", 0, "count"), ("people_out_line_3", 0, "count"),
                         ("people_in_line_4", 5, "count"), ("people_out_line_4", 7, "count")],
                        f"{_DOC}, period counts"),
                Example("0FE302100709", FPORT,
                        [("people_count_region_1", 2, "count"),
                         ("people_count_region_2", 16, "count"),
                         ("people_count_region_3", 7, "count"),
                         ("people_count_region_4", 9, "count")], f"{_DOC}, region counts"),
                Example("10E4010910112110E4027521753310E4038121238910E40476001387", FPORT,
                        [("dwell_avg_region_1", 4105, "s"), ("dwell_max_region_1", 8465, "s"),
                         ("dwell_avg_region_2", 8565, "s"), ("dwell_max_region_2", 13173, "s"),
                         ("dwell_avg_region_3", 8577, "s"), ("dwell_max_region_3", 35107, "s"),
                         ("dwell_avg_region_4", 118, "s"), ("dwell_max_region_4", 34579, "s")],
                        f"{_DOC}, dwell times"),
            )),
        DeviceModel(
            id="milesight/ws302", family="noise",
            decode=layout.decoder(ws302), encode=layout.encoder(ws302, FPORT),
            quantities=quantities(ws302), simulate=_sim_noise,
            description="Sound level sensor: LAF, LAeq and LAFmax",
            vendor_url="https://www.milesight.com/iot/product/lorawan-sensor/ws302",
            examples=(
                Example("017564055B053F02DA016A02", FPORT,
                        [("battery", 100, "%EL"), ("noise_level", 57.5, "dBA"),
                         ("laeq", 47.4, "dBA"), ("lamax", 61.8, "dBA")],
                        f"{_SD} WS_Series/WS302/README.md example (also the WS302 User "
                        "Guide, 6.2 sensor data example)"),
                Example("FF0BFFFF0101FF166743C13353300001FF090100FF0A0102FF0F00", FPORT, [],
                        "Milesight WS302 User Guide, 6.1 basic information example: "
                        "attributes only, no readings"),
                Example("055B05BC0284036C03", FPORT,
                        [("noise_level", 70.0, "dBA"), ("laeq", 90.0, "dBA"),
                         ("lamax", 87.6, "dBA")], f"{_TABLE}: loud street"),
            )),
        DeviceModel(
            id="milesight/ws558", family="street_light",
            decode=layout.decoder(ws558), encode=layout.encoder(ws558, FPORT),
            encode_downlink=ws558_downlink,
            quantities=quantities(ws558), simulate=_sim_light,
            description="Smart light controller: 8 switched circuits with metering",
            vendor_url="https://www.milesight.com/iot/product/lorawan-sensor/ws558",
            examples=(
                Example("08310001058164 07C90200 0374B208 068301000000 048001000000"
                        .replace(" ", ""), FPORT,
                        [*((f"lamp_on_{i}", i == 1, "bool") for i in range(1, 9)),
                         ("power_factor", 100, "%"), ("current", 0.002, "A"),
                         ("voltage", 222.6, "V"), ("energy", 1, "Wh"), ("power", 1, "W")],
                        f"{_SD} WS_Series/WS558/README.md example"),
                Example("0374B208", FPORT, [("voltage", 222.6, "V")],
                        f"{_TTN_REPO} vendor/milesight-iot/ws558-codec.yaml example 1"),
                Example("048001000000", FPORT, [("power", 1, "W")],
                        f"{_TTN_REPO} vendor/milesight-iot/ws558-codec.yaml example 3"),
                Example("08310303", FPORT,
                        [*((f"lamp_on_{i}", i in (1, 2), "bool") for i in range(1, 9))],
                        f"{_TABLE}: circuits 1 and 2 switched on"),
                Example("0374F608048048000000", FPORT,
                        [("voltage", 229.4, "V"), ("power", 72, "W")],
                        f"{_TABLE}: lamp burning"),
            )),
        DeviceModel(
            id="milesight/ws523", family="electricity_meter",
            decode=layout.decoder(ws52x), encode=layout.encoder(ws52x, FPORT),
            quantities=quantities(ws52x), simulate=_sim_socket,
            description="Metering smart socket (WS52x): voltage, current, power factor, "
                        "energy, relay state",
            vendor_url="https://www.milesight.com/iot/product/lorawan-sensor/ws52x",
            examples=(
                Example("0374ED08068356040000087001058152 07C9A400".replace(" ", ""), FPORT,
                        [("voltage", 228.5, "V"), ("energy", 1110, "Wh"),
                         ("relay_on", True, "bool"), ("power_factor", 82, "%"),
                         ("current", 0.164, "A")],
                        f"{_SD} WS_Series/WS52x/README.md example (earlier revision)"),
                Example("08700105812C07C94A0003743009068309660000048007000000", FPORT,
                        [("relay_on", True, "bool"), ("power_factor", 44, "%"),
                         ("current", 0.074, "A"), ("voltage", 235.2, "V"),
                         ("energy", 26121, "Wh"), ("power", 7, "W")],
                        f"{_SD} WS_Series/WS52x/README.md example (the README gives the "
                        "power factor as 0.44)"),
                Example("0374ED08", FPORT, [("voltage", 228.5, "V")],
                        f"{_TTN_REPO} vendor/milesight-iot/ws52x-codec.yaml example 1"),
                Example("068356040000", FPORT, [("energy", 1110, "Wh")],
                        f"{_TTN_REPO} vendor/milesight-iot/ws52x-codec.yaml example 2"),
                Example("087001", FPORT, [("relay_on", True, "bool")],
                        f"{_TTN_REPO} vendor/milesight-iot/ws52x-codec.yaml example 3 "
                        "(socket open)"),
                Example("04802C010000087000", FPORT,
                        [("power", 300, "W"), ("relay_on", False, "bool")],
                        f"{_TABLE} (WS52x/WS558 active power channel): relay off"),
                Example("0683A0860100", FPORT, [("energy", 100000, "Wh")],
                        f"{_TABLE}: energy register only"),
            )),
        DeviceModel(
            id="milesight/em300-di", family="pulse_counter",
            decode=layout.decoder(em300di, _em300_di_post),
            encode=layout.encoder(em300di, FPORT),
            quantities=quantities(em300di, volume="m3"), simulate=_sim_pulses,
            options=(Option("litres_per_pulse", "float", default=0.0, min=0.0,
                            help="meter pulse weight; gives a volume reading when set"),),
            description="Pulse counter for meters with a pulse output",
            vendor_url="https://www.milesight.com/iot/product/lorawan-sensor/em300-di",
            examples=(
                Example("01755C0367340104686520CE9E74466310015D020000010000", FPORT,
                        [("battery", 92, "%EL"), ("temperature", 30.8, "Cel"),
                         ("humidity", 50.5, "%RH")],
                        f"{_SD} EM_Series/EM300_Series/EM300-DI/README.md example; its "
                        "history record (256 pulses at 1665561758) is consumed without "
                        "live readings"),
                Example("01755C05C800010000", FPORT,
                        [("battery", 92, "%EL"), ("pulse_count", 256, "count")],
                        f"{_TTN_REPO} vendor/milesight-iot/em300-di-codec.yaml example"),
                Example("01756406E10A000A0000000000", FPORT,
                        [("battery", 100, "%EL"), ("water_conv", 1.0, ""),
                         ("pulse_conv", 1.0, ""), ("water", 0.0, "")],
                        f"{_SD} EM_Series/EM300_Series/EM300-DI_Hall/README.md example 1"),
                Example("86E16400A0000040394401", FPORT,
                        [("water_conv", 10.0, ""), ("pulse_conv", 16.0, ""),
                         ("water", 741.0, ""), ("water_alarm", "water_outage_timeout", "")],
                        f"{_SD} EM_Series/EM300_Series/EM300-DI_Hall/README.md example 2"),
                Example("86E10A0088023393BB4403", FPORT,
                        [("water_conv", 1.0, ""), ("pulse_conv", 64.8, ""),
                         # float32 0x44BB9333 = 1024 + 3904307/8192 (README: "1500.60")
                         ("water", 1500.5999755859375, ""),
                         ("water_alarm", "water_flow_timeout", "")],
                        f"{_SD} EM_Series/EM300_Series/EM300-DI_Hall/README.md example 3"),
                Example("21CEDFF40B650000000102010A000A000080EC44", FPORT, [],
                        f"{_SD} EM_Series/EM300_Series/EM300-DI_Hall/README.md example 4: "
                        "one v2 history record (1892 water at 1695282399), consumed "
                        "without live readings"),
                Example("05C810270000", FPORT,
                        [("pulse_count", 10000, "count"), ("volume", 100.0, "m3")],
                        f"{_TABLE}: 10000 pulses of 10 l", {"litres_per_pulse": 10.0}),
                Example("050001", FPORT, [("input", True, "bool")],
                        f"{_TABLE}: digital input high"),
            )),
    ]


def build_models(impl=None):
    """The Milesight models, their layouts compiled with ``impl`` (default: the best)."""
    return _models(impl)
