"""Helpers for service tests: a small city, a context that collects what services emit,
readings with a known answer.  (Not a conftest.py: tests/conftest.py is imported by
that name from other test directories.)"""

import datetime as dt
import importlib
import zoneinfo
from types import SimpleNamespace

import msgpack

from hromada import Device, DeviceModel, Reading
from hromada.options import validate_options

FAMILY_MODELS = {}


def model_for(family):
    """A device model of ``family`` (services only look at the family)."""
    if family not in FAMILY_MODELS:
        FAMILY_MODELS[family] = DeviceModel(
            id=f"test/{family.replace('_', '-')}", family=family,
            decode=lambda payload, fport, options: [])
    return FAMILY_MODELS[family]


def device(dev_id, family, *, district=None, lat=None, lon=None, tags=(), **options):
    return Device(dev_id, model_for(family).id, lat=lat, lon=lon, district=district,
                  tags=tags, options=options), model_for(family)


def city(*devices, tz="UTC", lat=48.4393, lon=22.7178):
    """A stand-in for hromada.city.City with just what services read."""
    models = {m.id: m for _d, m in devices}
    return SimpleNamespace(
        name="Testville", timezone=tz, tz=zoneinfo.ZoneInfo(tz), lat=lat, lon=lon,
        devices={d.id: d for d, _m in devices},
        host=SimpleNamespace(device_models=models), state_dir=None)


class Ctx:
    """Collects events and commands like the kernel's ServiceContext."""

    def __init__(self):
        self.events = []
        self.commands = []

    def emit(self, event):
        self.events.append(event)

    def command(self, command):
        self.commands.append(command)

    def kinds(self):
        return [e.kind for e in self.events]

    def of(self, kind):
        return [e for e in self.events if e.kind == kind]


def service(module, the_city, name=None, **options):
    """Build a service from its plugin module's descriptor, options validated."""
    mod = importlib.import_module(f"hromada_plugins.services.{module}")
    desc = mod.hromada_services()[0]
    opts, problems = validate_options(desc.options, options, f"services.{name or module}")
    assert problems == []
    return desc.factory(name or module, opts, the_city)


def roundtrip(state):
    """State as the kernel stores it between runs."""
    return msgpack.unpackb(msgpack.packb(state, use_bin_type=True), raw=False,
                           strict_map_key=False)


def ts(text, tz="UTC"):
    """POSIX seconds of an ISO local time in ``tz``."""
    t = dt.datetime.fromisoformat(text)
    if t.tzinfo is None:
        t = t.replace(tzinfo=zoneinfo.ZoneInfo(tz))
    return t.timestamp()


def R(dev, when, quantity, value, unit="", tz="UTC"):
    return Reading(dev, ts(when, tz) if isinstance(when, str) else when, quantity, value, unit)
