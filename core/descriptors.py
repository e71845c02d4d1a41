"""Descriptors that plugins return from the registration hooks.

A descriptor says what a component is, how to build it and which options it takes; the
kernel validates a city.toml against the options before anything runs (``hromada
check``).  Descriptors are frozen attrs classes, like the data model.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from .model import Device


class _Required:
    def __repr__(self):
        return "REQUIRED"


#: Default of an option that has to be given.
REQUIRED: Any = _Required()

OPTION_TYPES = ("str", "int", "float", "bool", "path", "list", "table", "any", "duration")

FAMILIES = (
    "water_meter", "gas_meter", "heat_meter", "electricity_meter", "pulse_counter",
    "waste_bin", "air_quality", "noise", "climate", "street_light", "parking",
    "traffic_counter", "people_counter", "generic",
)

_ID = re.compile(r"^[a-z0-9][a-z0-9._-]*/[a-z0-9][a-z0-9._+-]*$")


def _option_type(_inst, _attr, value):
    if value not in OPTION_TYPES:
        raise ValueError(f"option type must be one of {OPTION_TYPES}, not {value!r}")


@attrs.frozen(slots=True)
class Option:
    """One configuration option of a component.

    ``type`` is one of OPTION_TYPES; ``path`` values are resolved relative to the city
    file; ``duration`` accepts seconds or "15min", "1h", "2d".  ``secret`` options are
    never printed or logged (session keys, passwords, API keys).  ``output`` marks a
    path the component writes to (an export directory): ``hromada simulate`` points it
    elsewhere so that a simulation never writes into the city's real outputs.
    ``check`` validates a value further (a key's format, say) for ``hromada check``.
    """

    name: str
    type: str = attrs.field(default="str", validator=_option_type)
    default: Any = REQUIRED
    help: str = ""
    choices: tuple | None = None
    min: float | None = None
    max: float | None = None
    secret: bool = False
    output: bool = False
    #: ``check(value)`` raises ValueError with a message (never echoing a secret value)
    #: when a converted value is wrong in a way type/choices/min/max cannot say.
    check: Callable | None = attrs.field(default=None, eq=False)

    @property
    def required(self):
        return self.default is REQUIRED


def _hex_bytes(v):
    if isinstance(v, str):
        return bytes.fromhex(v.replace(" ", ""))
    return bytes(v)


def _readings(v):
    out = []
    for r in v:
        if isinstance(r, Mapping):
            out.append((r["quantity"], r["value"], r.get("unit", "")))
        else:
            q, val, unit = r
            out.append((q, val, unit))
    return tuple(out)


@attrs.frozen(slots=True)
class Example:
    """A payload from the vendor's documents and the readings it must decode to."""

    payload: bytes = attrs.field(converter=_hex_bytes)
    fport: int
    readings: tuple = attrs.field(converter=_readings)
    description: str = ""
    options: Mapping[str, Any] = attrs.field(factory=dict)


#: decode(payload, fport, options) -> [(quantity, value, unit), ...]; raises DecodeError.
Decoder = Callable[[bytes, int, Mapping[str, Any]], list]
#: encode(values, options) -> (fport, payload); values maps quantity -> value.
Encoder = Callable[[Mapping[str, Any], Mapping[str, Any]], tuple]


def _model_id(_inst, _attr, value):
    if not _ID.match(value):
        raise ValueError(f"device model id must be 'vendor/device' in lowercase, not {value!r}")


def _family(_inst, _attr, value):
    if value not in FAMILIES:
        raise ValueError(f"family must be one of {FAMILIES}, not {value!r}")


@attrs.frozen(slots=True)
class DeviceModel:
    """A device model: how its payloads decode into readings, and back.

    ``decode`` is a plain function over bytes (no framework imports needed), so it can
    be tested alone.  ``encode`` builds an uplink from values (the simulator and tests
    use it); ``encode_downlink`` turns a high-level action (``{"dim": 40}``) into
    ``(fport, bytes)`` for devices that take commands.  ``simulate(device, t, rng)``
    returns plausible values for ``encode`` at POSIX time ``t``.  ``quantities`` maps
    each quantity the model can report to its unit (patterns like ``temperature_*``
    allowed).  ``options`` are per-device settings (bin depth, pulse weight ...).
    """

    id: str = attrs.field(validator=_model_id)
    family: str = attrs.field(validator=_family)
    decode: Decoder
    quantities: Mapping[str, str] = attrs.field(factory=dict)
    encode: Encoder | None = None
    encode_downlink: Encoder | None = None
    simulate: Callable[[Device, float, Any], Mapping[str, Any]] | None = None
    options: tuple[Option, ...] = ()
    examples: tuple[Example, ...] = ()
    description: str = ""
    vendor_url: str = ""
    network: str = "lorawan"

    @property
    def vendor(self):
        return self.id.split("/", 1)[0]


# Sources, services and sinks may declare ``validate(name, options, devices)``: checks
# that need more than one option or the city's devices (a keys file, a DevEUI that must
# be a city device).  It returns (key path, message) pairs; ``hromada check`` reports
# them like any other problem, before anything runs.


@attrs.frozen(slots=True)
class SourceType:
    """A kind of source: ``factory(name, options, city)`` returns an object with
    ``async run(ctx)`` (push frames with ``ctx.submit``) and, for sources that can send
    downlinks, ``async send(command)``.

    ``device_options`` are the per-device fields this kind of source reads from the
    city's device list (a LoRaWAN source's DevAddr and keys): extra keys of a
    ``[[devices]]`` table or extra columns of the devices CSV.  A key that is neither a
    device field nor an option of the device's model (the model's option wins on a name
    clash), but is the name of a ``device_options`` entry of any installed source type,
    is validated against that Option and kept in ``Device.network`` (only the keys given:
    no defaults are filled in).  Mark keys ``secret=True``: their values are never shown
    in an error, and ``Device.network`` never appears in a repr.
    """

    name: str
    factory: Callable
    options: tuple[Option, ...] = ()
    help: str = ""
    downlinks: bool = False
    validate: Callable | None = None
    device_options: tuple[Option, ...] = ()


@attrs.frozen(slots=True)
class ServiceType:
    """A kind of city service: ``factory(name, options, city)`` returns an object with
    ``process(readings, ctx)`` and optionally ``start(ctx)``, ``stop(ctx)``,
    ``snapshot() -> state`` and ``restore(state)``.  ``events`` documents the event
    kinds it emits."""

    name: str
    factory: Callable
    options: tuple[Option, ...] = ()
    help: str = ""
    events: tuple[str, ...] = ()
    validate: Callable | None = None


@attrs.frozen(slots=True)
class SinkType:
    """A kind of sink: ``factory(name, options, city)`` returns an object with
    ``open()``, ``write(readings, events)`` and ``close()`` (called in a worker
    thread, with batches) and optionally ``add_devices(devices)``."""

    name: str
    factory: Callable
    options: tuple[Option, ...] = ()
    help: str = ""
    validate: Callable | None = None


@attrs.frozen(slots=True)
class CliCommand:
    """A ``hromada`` subcommand from a plugin: ``configure(parser)`` adds arguments to
    an argparse parser, ``run(args) -> exit code``."""

    name: str
    help: str
    configure: Callable
    run: Callable
