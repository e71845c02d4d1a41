"""The ``wmbus`` device model family: wireless M-Bus / OMS meters (EN 13757-3/-4/-7).

``wmbus/meter`` reads any OMS meter; ``wmbus/water``, ``wmbus/heat``, ``wmbus/gas``
and ``wmbus/electricity`` decode the same way and only tell services which family a
meter belongs to.  The payload is the raw telegram as the ``wmbus`` source hands it
over (with or without link-layer CRCs); :mod:`hromada.wmbus` checks it, decrypts it
with the meter's key (security mode 5, mode 7, ELL AES-CTR) and reads its records.

Device options: ``key`` (secret: 32 hex digits, or ``env:NAME`` to read them from
the environment; only for encrypted meters), ``frame_format`` and ``historic``.
Readings are the current (storage 0) instantaneous numeric records, in the decoder's
quantities and units (volume m3, energy kWh or GJ, power W, flow m3/h, temperatures
Cel ...); a tariff or subunit register N other than 0 adds ``_tN`` / ``_uN``.  With
``historic = true`` stored values come too, as ``<quantity>_s<storage>``.  A wrong or
missing key is a decode error naming the meter; the key itself is never shown.
"""

from __future__ import annotations

import hromada
from hromada import DeviceModel, Example, Option
from hromada.errors import DecodeError


def decode(payload, fport, options):
    """Readings of one telegram: ``[(quantity, value, unit)]``."""
    from hromada import wmbus

    options = options or {}
    key = options.get("key")
    try:
        telegram = wmbus.decode(bytes(payload), key=key or None,
                                frame_format=options.get("frame_format", "auto"))
    except DecodeError:
        raise
    except ValueError as exc:  # the key option itself: its text never holds the key
        raise DecodeError(f"device option key: {exc}", field="key") from None
    out = [(r.quantity, r.value, r.unit) for r in telegram.readings()]
    if options.get("historic"):
        for r in telegram.records:
            if (not r.storage or r.function != "instantaneous" or r.value is None
                    or isinstance(r.value, str | bool)):
                continue
            q = r.quantity
            if r.tariff:
                q += f"_t{r.tariff}"
            if r.subunit:
                q += f"_u{r.subunit}"
            out.append((f"{q}_s{r.storage}", r.value, r.unit))
    return out


_UNITS = {
    "volume": "m3", "energy": "kWh", "power": "W", "volume_flow": "m3/h", "mass": "kg",
    "mass_flow": "kg/h", "flow_temperature": "Cel", "return_temperature": "Cel",
    "external_temperature": "Cel", "temperature_difference": "K", "pressure": "bar",
    "humidity": "%RH", "voltage": "V", "current": "A", "frequency": "Hz",
    "on_time": "h", "operating_time": "h", "error_flags": "", "hca": "",
    "fabrication_number": "", "access_number": "", "rf_level": "dBm",
    "battery_remaining": "d",
}
# ``<quantity>_*`` covers the tariff, subunit and storage suffixes; longer names first
# so that ``volume_flow_t1`` is found under ``volume_flow_*``, not ``volume_*``.
QUANTITIES = {}
for _q in sorted(_UNITS, key=lambda q: (-len(q), q)):
    QUANTITIES[_q] = QUANTITIES[f"{_q}_*"] = _UNITS[_q]

def _check_key(value):
    """For ``hromada check``: the key parses (its messages never contain the key)."""
    from hromada import wmbus

    try:
        wmbus.parse_key(value)
    except ValueError as exc:
        raise ValueError(str(exc).removeprefix("key: ")) from None


OPTIONS = (
    Option("key", "str", default=None, secret=True, check=_check_key,
           help="the meter's AES-128 key: 32 hex digits, or env:NAME"),
    Option("frame_format", "str", default="auto", choices=("auto", "A", "B", "none"),
           help="link-layer CRCs in the telegrams: A, B, none, or auto-detect"),
    Option("historic", "bool", default=False,
           help="also report stored values (storage N) as <quantity>_s<N>"),
)

# Published telegrams (the expected values are those the documents state).
# OMS specification volume 2, annex N.2.1: gas meter ELS 12345678, security mode 5.
_OMS_MODE5 = ("2E4493157856341233037A2A0020255923C95AAA26D1B2E7493B013EC4A6F6D3529B520E"
              "DFF0EA6DEFC99D6D69EBF3")
_OMS_KEY = "0102030405060708090A0B0C0D0E0F11"
# jMBus (OpenMUC) tests: heat meter LUG 67991306, unencrypted, -4.0 Cel return.
_LUG_HEAT = ("2C44A7320613996707047A821000202F2F0C06000000000C14000000000C22224101000B5A"
             "4102000B5E4000F0")
# jMBus DecryptionTest: Kamstrup KAM 63452869 cold water, ELL AES-CTR, 474.24 m3.
_KAM_ELL = "24442D2C692845631B168D3050209CD621B006B1140AEF4953AE5B86FAFC0B00E70705B846"
_KAM_KEY = "4E5508544202058100DFEFA06B0934A5"

_GAS = Example(_OMS_MODE5, 0, [("volume", 28504.27, "m3"), ("error_flags", 0, "")],
               description="OMS vol. 2 annex N.2.1, security mode 5",
               options={"key": _OMS_KEY})
_HEAT = Example(_LUG_HEAT, 0, [("energy", 0, "kWh"), ("volume", 0.0, "m3"),
                               ("on_time", 14122, "h"), ("flow_temperature", 24.1, "Cel"),
                               ("return_temperature", -4.0, "Cel")],
                description="jMBus test telegram: LUG heat meter, negative BCD temperature")
_WATER = Example(_KAM_ELL, 0, [("volume", 474.24, "m3")],
                 description="jMBus DecryptionTest: Kamstrup water meter, ELL AES-CTR",
                 options={"key": _KAM_KEY})

# Built from EN 13757-3 and checked by hand: electricity meter EMH 00012345, short
# header, ACC 0x1F.  0C 03 67452301: BCD8, VIF 03 = 10^0 Wh -> 1234567 Wh; 02 2B C409:
# VIF 2B = 1 W -> 2500 W; 02 FD48 FD08: 0.1 V -> 230.1 V; 02 FD5A 0104: 0.01 A -> 10.25 A.
_EMH_ELECTRICITY = ("2244A8154523010002027A1F0000000C0367452301022BC40902FD48FD0802FD5A"
                    "0104")
_ELECTRICITY = Example(_EMH_ELECTRICITY, 0, [
    ("energy", 1234.567, "kWh"), ("power", 2500, "W"), ("voltage", 230.1, "V"),
    ("current", 10.25, "A")], description="electricity meter, unencrypted, by hand")

# Every model of the family decodes any OMS telegram: the examples cover each medium.
_EXAMPLES = (_WATER, _HEAT, _GAS, _ELECTRICITY)
_FAMILIES = (
    ("meter", "generic", "Any wireless M-Bus / OMS meter"),
    ("water", "water_meter", "Wireless M-Bus / OMS water meter"),
    ("heat", "heat_meter", "Wireless M-Bus / OMS heat meter"),
    ("gas", "gas_meter", "Wireless M-Bus / OMS gas meter"),
    ("electricity", "electricity_meter", "Wireless M-Bus / OMS electricity meter"),
)


@hromada.hookimpl
def hromada_device_models():
    return [
        DeviceModel(id=f"wmbus/{name}", family=family, decode=decode, quantities=QUANTITIES,
                    options=OPTIONS, examples=_EXAMPLES, network="wmbus",
                    description=f"{text}: telegrams from the wmbus source, decrypted with "
                                "the meter's key (modes 5 and 7, ELL)",
                    vendor_url="https://oms-group.org/")
        for name, family, text in _FAMILIES
    ]
