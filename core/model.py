"""The data model: what flows through the kernel.

Frozen attrs classes with slots.  ``Frame``, ``Reading``, ``Event`` and ``Command``
round-trip through msgpack (``to_msgpack`` / ``from_msgpack``), the wire and journal
format between processes.  Times are POSIX seconds (UTC) as floats.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import attrs
import msgpack

SEVERITIES = ("info", "warning", "critical")


class _Msgpack:
    """msgpack round trip through each class's ``to_list`` / ``from_list`` layout."""

    __slots__ = ()

    def to_msgpack(self) -> bytes:
        return msgpack.packb(self.to_list(), use_bin_type=True)

    @classmethod
    def from_msgpack(cls, data: bytes):
        return cls.from_list(msgpack.unpackb(data, raw=False))


def _tuple(v):
    return tuple(v) if v is not None else ()


def _frozen_dict(v):
    return dict(v) if v else {}


@attrs.frozen(slots=True)
class Device:
    """One device of the city: its network identity, model and where it stands.

    ``options`` are the device model's per-device settings.  ``network`` holds the
    fields that sources read from the device list (``SourceType.device_options``: a
    LoRaWAN DevAddr and keys); they may be secrets, so they are never part of the repr
    and sinks do not store them.  ``origin`` says where the device is defined
    (``devices[3]`` in city.toml, or ``/path/devices.csv: line 4``) so that a source can
    name it in an error.
    """

    id: str
    model: str
    name: str | None = None
    lat: float | None = None
    lon: float | None = None
    district: str | None = None
    tags: tuple[str, ...] = attrs.field(default=(), converter=_tuple)
    options: Mapping[str, Any] = attrs.field(factory=dict, converter=_frozen_dict, eq=False)
    network: Mapping[str, Any] = attrs.field(factory=dict, converter=_frozen_dict, eq=False,
                                             repr=False)
    origin: str | None = attrs.field(default=None, eq=False, repr=False)


@attrs.frozen(slots=True)
class Frame(_Msgpack):
    """One uplink as received: raw payload bytes plus where and when it came from.

    ``network`` names the kind of payload ("lorawan" for an application payload already
    unwrapped by a network server, "lorawan-phy" for a raw PHYPayload, "nbiot", "wmbus",
    "sim").  ``device`` is the device id when the network knows it.  ``rx`` holds radio
    metadata (gateway, rssi, snr, frequency ...).  ``source`` names the source that
    received it, so that downlinks go back the same way.
    """

    payload: bytes
    network: str
    device: str | None = None
    fport: int | None = None
    fcnt: int | None = None
    time: float = 0.0
    rx: Mapping[str, Any] = attrs.field(factory=dict, converter=_frozen_dict, eq=False)
    source: str | None = None

    def to_list(self):
        return [self.network, self.device, self.fport, self.fcnt, self.time,
                self.payload, dict(self.rx), self.source]

    @classmethod
    def from_list(cls, v):
        network, device, fport, fcnt, time, payload, rx, source = v
        return cls(payload, network, device, fport, fcnt, time, rx, source)


@attrs.frozen(slots=True)
class Reading(_Msgpack):
    """One measured value: the common currency between decoders, services and sinks."""

    device: str
    time: float
    quantity: str
    value: Any
    unit: str = ""

    def to_list(self):
        return [self.device, self.time, self.quantity, self.value, self.unit]

    @classmethod
    def from_list(cls, v):
        return cls(*v)


def _severity(_inst, _attr, value):
    if value not in SEVERITIES:
        raise ValueError(f"severity must be one of {SEVERITIES}, not {value!r}")


@attrs.frozen(slots=True)
class Event(_Msgpack):
    """Something a city operator should know: an alert, a failure, a plugin error.

    ``kind`` is dotted, owner first (``water.leak``, ``plugin.error``, ``decode.error``).
    """

    kind: str
    severity: str = attrs.field(default="info", validator=_severity)
    device: str | None = None
    time: float = 0.0
    data: Mapping[str, Any] = attrs.field(factory=dict, converter=_frozen_dict, eq=False)
    source: str | None = None

    def to_list(self):
        return [self.kind, self.severity, self.device, self.time, dict(self.data), self.source]

    @classmethod
    def from_list(cls, v):
        return cls(*v)


@attrs.frozen(slots=True)
class Command(_Msgpack):
    """A downlink for a device: raw bytes, or a high-level action its model encodes."""

    device: str
    fport: int | None = None
    payload: bytes | None = None
    action: Mapping[str, Any] | None = attrs.field(default=None, eq=False)
    confirmed: bool = False
    time: float = 0.0
    source: str | None = None

    def to_list(self):
        return [self.device, self.fport, self.payload,
                dict(self.action) if self.action is not None else None,
                self.confirmed, self.time, self.source]

    @classmethod
    def from_list(cls, v):
        return cls(*v)


def same_value(a, b, rel=1e-9):
    """Equality for decoded values: floats compared with a relative tolerance."""
    if isinstance(a, float) or isinstance(b, float):
        try:
            return math.isclose(a, b, rel_tol=rel, abs_tol=1e-12)
        except TypeError:
            return False
    return a == b
