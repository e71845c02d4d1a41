"""Wireless M-Bus / OMS telegrams (EN 13757-3/-4/-7): the public module.

:func:`decode` takes one telegram as a receiver hands it over (raw bytes or hex,
with or without the link-layer CRCs) and returns a :class:`Telegram`: the meter's
header and its records, each a value scaled to a hromada unit.  Encrypted telegrams
(security mode 5, mode 7 with its AFL MAC, ELL AES-CTR) need the meter's AES-128 key:
one ``key`` for every meter, or ``keys`` per meter.  :func:`decode_records` reads an
application-layer record stream alone.

The work is done by the compiled ``hromada._wmbus`` when it is built, else by the
pure twin ``hromada._wmbus_py`` (``HROMADA_NO_EXTENSIONS=1`` forces it), which also
describes the format.  :mod:`hromada.wmbus.encode` builds telegrams for tests and
field work; ``hromada wmbus decode HEX`` is the command line.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import attrs

from hromada import compiled as _compiled
from hromada.model import Reading

_impl = _compiled.load("wmbus")

#: "compiled" or "pure": which implementation this module uses.
IMPLEMENTATION = _compiled.modules["wmbus"]

DEVICE_TYPES = _impl.DEVICE_TYPES
FUNCTIONS = _impl.FUNCTIONS
FRAME_FORMATS = ("auto", "A", "B", "none")

__all__ = [
    "DEVICE_TYPES", "FRAME_FORMATS", "FUNCTIONS", "IMPLEMENTATION", "Header", "Record",
    "Telegram", "crc16", "decode", "decode_records", "parse_key", "strip_crc",
]


@attrs.frozen(slots=True)
class Header:
    """Who sent the telegram and how: from the link layer, or the long transport
    header when there is one (the meter behind a converter or repeater)."""

    manufacturer: str          # three-letter code, "KAM"
    id: str                    # eight digits as printed on the meter, "12345678"
    version: int
    device_type: str           # "water", "heat", "gas" ... ("reserved" if unlisted)
    device_type_code: int
    ci: int                    # CI field of the transport layer (0x7A, 0x72, 0x78 ...)
    access_number: int | None
    status: int | None
    security_mode: int         # 0, 5 or 7
    encryption: str            # "none", "mode5", "mode7" or "ell" (ELL AES-CTR)
    c_field: int
    frame_format: str          # "A", "B" (CRCs were present and checked) or "none"

    def to_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)


@attrs.frozen(slots=True)
class Record:
    """One data record: a value with its unit and where it sits in the meter.

    ``storage`` 0 is the current value, higher numbers are stored (historic) ones;
    ``function`` is "instantaneous", "maximum", "minimum" or "error" (None for raw
    manufacturer data); ``dif_vif`` is the hex of the record's DIF..VIFE bytes.
    """

    quantity: str
    value: Any
    unit: str
    storage: int = 0
    tariff: int = 0
    subunit: int = 0
    function: str | None = "instantaneous"
    dif_vif: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"quantity": self.quantity, "value": self.value, "unit": self.unit,
                "storage": self.storage, "tariff": self.tariff, "function": self.function,
                "dif_vif": self.dif_vif, "subunit": self.subunit}


@attrs.frozen(slots=True)
class Telegram:
    """A decoded telegram: ``header`` and ``records`` (a list of :class:`Record`)."""

    header: Header
    records: list[Record]

    @property
    def meter(self) -> str:
        """``"KAM 12345678"``: how messages name the meter."""
        return f"{self.header.manufacturer} {self.header.id}"

    def to_dict(self) -> dict[str, Any]:
        """The ``hromada wmbus decode --json`` document."""
        return {"header": self.header.to_dict(),
                "records": [r.to_dict() for r in self.records]}

    def readings(self, device: str | None = None, time: float = 0.0) -> list[Reading]:
        """Current (storage 0), instantaneous numeric records as hromada readings.

        ``device`` defaults to ``"KAM-12345678"``.  Tariff and subunit registers other
        than 0 get the suffix ``_t<tariff>`` / ``_u<subunit>`` on the quantity, so that
        each register stays its own series.
        """
        dev = device or f"{self.header.manufacturer}-{self.header.id}"
        out = []
        for r in self.records:
            if r.storage or r.function != "instantaneous" or r.value is None:
                continue
            if isinstance(r.value, str) or isinstance(r.value, bool):
                continue
            q = r.quantity
            if r.tariff:
                q += f"_t{r.tariff}"
            if r.subunit:
                q += f"_u{r.subunit}"
            out.append(Reading(dev, time, q, r.value, r.unit))
        return out


def parse_key(key: bytes | bytearray | str) -> bytes:
    """A 16-byte AES key from bytes, 32 hex digits, or ``"env:NAME"`` (hex in $NAME).

    The messages of the errors raised here never contain the key.
    """
    if isinstance(key, (bytes, bytearray, memoryview)):
        b = bytes(key)
    elif isinstance(key, str):
        text = key.strip()
        if text.startswith("env:"):
            name = text[4:]
            if name not in os.environ:
                raise ValueError(f"key: environment variable {name} is not set")
            text = os.environ[name].strip()
        try:
            b = bytes.fromhex(text)
        except ValueError:
            raise ValueError("key: not hexadecimal (expected 32 hex digits)") from None
    else:
        raise TypeError(f"key must be bytes or a hex string, not {type(key).__name__}")
    if len(b) != 16:
        raise ValueError(f"key: an AES-128 key is 16 bytes (32 hex digits), got {len(b)}")
    return b


def _as_bytes(telegram) -> bytes:
    if isinstance(telegram, str):
        try:
            return bytes.fromhex("".join(telegram.split()))
        except ValueError:
            raise ValueError("telegram: not hexadecimal") from None
    return bytes(telegram)


def _key_lookup(key, keys):
    if key is None and not keys:
        return None
    default = parse_key(key) if key is not None else None
    cache: dict[tuple[str, str], bytes | None] = {}

    def key_for(manufacturer: str, ident: str):
        hit = cache.get((manufacturer, ident), False)
        if hit is not False:
            return hit
        found = None
        if keys:
            for name in (f"{manufacturer}{ident}", f"{manufacturer}-{ident}",
                         f"{manufacturer} {ident}", ident):
                if name in keys:
                    found = parse_key(keys[name])
                    break
        if found is None:
            found = default
        cache[(manufacturer, ident)] = found
        return found

    return key_for


def decode(telegram: bytes | str, *, key: bytes | str | None = None,
           keys: Mapping[str, bytes | str] | None = None,
           frame_format: str = "auto") -> Telegram:
    """Decode one wM-Bus telegram.

    ``telegram``: bytes, or hex text.  ``key``: the AES-128 key for any meter (bytes,
    hex, or ``"env:NAME"``).  ``keys``: per-meter keys, looked up as ``"KAM12345678"``,
    ``"KAM-12345678"``, ``"KAM 12345678"`` or ``"12345678"`` (``key`` is the fallback).
    ``frame_format``: "auto", "A", "B" (link-layer CRCs present) or "none".

    Raises :class:`hromada.errors.DecodeError` naming the field and byte offset (in
    the telegram without CRCs), or the meter when its key is missing or wrong.
    """
    if frame_format not in FRAME_FORMATS:
        raise ValueError(f"frame_format must be one of {FRAME_FORMATS}, not {frame_format!r}")
    header, records = _impl.decode(_as_bytes(telegram), _key_lookup(key, keys), frame_format)
    return Telegram(Header(**header), [Record(*r) for r in records])


def decode_records(data: bytes | str) -> list[Record]:
    """Decode an application-layer record stream (DIF/VIF records, no headers)."""
    return [Record(*r) for r in _impl.parse_records(_as_bytes(data), 0)]


def strip_crc(telegram: bytes | str, frame_format: str = "auto") -> tuple[bytes, str]:
    """``(telegram without link-layer CRCs, detected format)``: see ``frame_format``."""
    return _impl.strip_crc(_as_bytes(telegram), frame_format)


def crc16(data: bytes) -> int:
    """The EN 13757-4 link-layer CRC (polynomial 0x3D65, inverted)."""
    return _impl.crc16(bytes(data))
