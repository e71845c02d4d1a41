"""Small device models for the SDK tests (a hromada plugin module).

``th`` is correct; each of the others has one defect that a check must find.
"""

import struct

import hromada
from hromada import DeviceModel, Example
from hromada.errors import DecodeError, EncodeError

_TH = struct.Struct(">hB")


def th_decode(payload, fport, options):
    if len(payload) != 3:
        raise DecodeError(f"payload is {len(payload)} bytes, expected 3", offset=len(payload))
    t, h = _TH.unpack(payload)
    if h > 200:
        raise DecodeError(f"humidity byte {h} out of range at byte 2", offset=2)
    return [("temperature", t / 10, "Cel"), ("humidity", h / 2, "%RH")]


def th_encode(values, options):
    try:
        return 1, _TH.pack(round(values["temperature"] * 10), round(values["humidity"] * 2))
    except (KeyError, struct.error) as exc:
        raise EncodeError(f"cannot encode {values}: {exc}") from None


def th_simulate(device, t, rng):
    return {"temperature": round(rng.uniform(-20, 40), 1), "humidity": rng.randint(0, 200) / 2}


TH_EXAMPLES = (
    Example("00d750", 1, [("temperature", 21.5, "Cel"), ("humidity", 40.0, "%RH")]),
    Example("ff9c00", 1, [("temperature", -10.0, "Cel"), ("humidity", 0.0, "%RH")]),
    Example("7fffc8", 1, [("temperature", 3276.7, "Cel"), ("humidity", 100.0, "%RH")]),
)

TH = DeviceModel("test/th", "climate", th_decode,
                 quantities={"temperature": "Cel", "humidity": "%RH"},
                 encode=th_encode, simulate=th_simulate, examples=TH_EXAMPLES)


def crashy_decode(payload, fport, options):
    # Defect: an empty payload raises IndexError instead of DecodeError.
    return [("temperature", payload[0] / 10, "Cel")]


CRASHY = DeviceModel("test/crashy", "climate", crashy_decode, quantities={"temperature": "Cel"},
                     examples=(Example("d7", 1, [("temperature", 21.5, "Cel")]),
                               Example("00", 1, [("temperature", 0.0, "Cel")]),
                               Example("ff", 1, [("temperature", 25.5, "Cel")])))


def lossy_encode(values, options):
    # Defect: humidity is truncated to whole percent, so 40.5 does not come back.
    return 1, _TH.pack(round(values["temperature"] * 10), int(values["humidity"]) * 2)


LOSSY = DeviceModel("test/lossy", "climate", th_decode,
                    quantities={"temperature": "Cel", "humidity": "%RH"}, encode=lossy_encode,
                    examples=(Example("00d751", 1, [("temperature", 21.5, "Cel"),
                                                    ("humidity", 40.5, "%RH")]),
                              *TH_EXAMPLES[1:]))

# Defect: example 1 expects the wrong temperature; example 2 a wrong unit.
WRONG = DeviceModel("test/wrong", "climate", th_decode,
                    quantities={"temperature": "Cel", "humidity": "%RH"},
                    examples=(TH_EXAMPLES[0],
                              Example("ff9c00", 1, [("temperature", -1.0, "Cel"),
                                                    ("humidity", 0.0, "%RH")]),
                              Example("7fffc8", 1, [("temperature", 3276.7, "K"),
                                                    ("humidity", 100.0, "%RH")])))

# Defect: humidity is not declared.
UNDECLARED = DeviceModel("test/undeclared", "climate", th_decode,
                         quantities={"temperature": "Cel"}, examples=TH_EXAMPLES)


@hromada.hookimpl
def hromada_device_models():
    return [TH, CRASHY, LOSSY, WRONG, UNDECLARED]


class OnlyGood:
    """A plugin object with just the correct model."""

    @hromada.hookimpl
    def hromada_device_models(self):
        return [TH]


class Broken:
    """A plugin whose registration hook raises."""

    @hromada.hookimpl
    def hromada_device_models(self):
        raise RuntimeError("vendor table missing")
