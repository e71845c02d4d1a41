"""hromada plugin: the Example W1 water meter, decoded by C code (hromada's C ABI).

The library is found next to this module (built by ``pip install``) unless
``HROMADA_EXAMPLE_W1_LIBRARY`` names another one (tests build it with ``build.py``).
"""

from __future__ import annotations

import importlib.machinery
import os
from pathlib import Path

import hromada
from hromada.codecs import native_device_model
from hromada.errors import PluginError

HERE = Path(__file__).resolve().parent


def library_path() -> Path:
    """Where the compiled decoder is."""
    env = os.environ.get("HROMADA_EXAMPLE_W1_LIBRARY")
    if env:
        return Path(env)
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        candidate = HERE / f"_example_w1{suffix}"
        if candidate.exists():
            return candidate
    raise PluginError(f"the Example W1 decoder library is not built in {HERE}; "
                      "reinstall hromada-example-native or set HROMADA_EXAMPLE_W1_LIBRARY")


EXAMPLES = [
    {"payload": "01 d2 04 00 00 00", "fport": 1,
     "readings": [("volume", 1.234, "m3"), ("leak", 0.0, ""), ("backflow", 0.0, ""),
                  ("tamper", 0.0, "")],
     "description": "1234 l, no flags"},
    {"payload": "01 40 e2 01 00 01 d4 03", "fport": 1,
     "readings": [("volume", 123.456, "m3"), ("leak", 1.0, ""), ("backflow", 0.0, ""),
                  ("tamper", 0.0, ""), ("water_temperature", 9.8, "Cel")],
     "description": "123456 l, leak, 9.80 Cel"},
    {"payload": "01 ff ff ff ff 06 38 ff", "fport": 1,
     "readings": [("volume", 4294967.295, "m3"), ("leak", 0.0, ""), ("backflow", 1.0, ""),
                  ("tamper", 1.0, ""), ("water_temperature", -2.0, "Cel")],
     "description": "counter at its maximum, backflow and tamper, -2.00 Cel"},
]


def model():
    return native_device_model(
        "example/w1-native", "water_meter", library_path(),
        quantities={"volume": "m3", "leak": "", "backflow": "", "tamper": "",
                    "water_temperature": "Cel"},
        examples=EXAMPLES,
        description="Example W1 water meter (decoder in C, hromada C ABI 1)",
    )


@hromada.hookimpl
def hromada_device_models():
    return [model()]
