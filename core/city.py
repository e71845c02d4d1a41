"""Loading and validating a city: ``city.toml`` plus its device list.

``load_city(path)`` returns a :class:`City` or raises :class:`ConfigError` listing every
problem found, each naming the file, the key path (``sinks.db.path``) or the CSV line,
what is wrong and what is allowed.  ``hromada check`` prints those problems; ``hromada
run`` refuses an invalid city the same way.
"""

from __future__ import annotations

import copy
import csv
import json
import math
import os
import re
import tomllib
import zoneinfo
from pathlib import Path
from typing import Any

import attrs

from .descriptors import _ID as _MODEL_ID
from .descriptors import FAMILIES, Option
from .errors import ConfigError
from .model import Device
from .options import validate_options
from .plugins import PluginHost
from .ring import MAX_CAPACITY

KINDS = {"sources": "source", "services": "service", "sinks": "sink"}
TOP_LEVEL = ("city", "kernel", "plugins", "models", "sources", "services", "sinks", "devices")
DEVICE_FIELDS = ("id", "model", "name", "lat", "lon", "district", "tags")

CITY_OPTIONS = (
    Option("name", "str", help="the city's name"),
    Option("timezone", "str", default="UTC", help="IANA time zone, e.g. Europe/Kyiv"),
    Option("lat", "float", default=None, min=-90, max=90, help="latitude of the centre"),
    Option("lon", "float", default=None, min=-180, max=180, help="longitude of the centre"),
    Option("devices", "path", default=None, help="CSV file of devices (columns: "
           + ", ".join(DEVICE_FIELDS) + ", then model options and the network columns "
           "of installed sources, e.g. LoRaWAN dev_addr and keys)"),
    Option("state_dir", "path", default=".hromada-state",
           help="directory of the city's state database (state.db): what sources and "
                "services keep between runs"),
)

KERNEL_OPTIONS = (
    Option("ring_bytes", "int", default=64 * 1024 * 1024, min=4096, max=MAX_CAPACITY,
           help="capacity of the frame ring in bytes"),
    Option("overflow", "str", default="reject", choices=("reject", "drop_oldest"),
           help="what the ring does when full: sources wait (reject) or the oldest "
                "frames are dropped and counted (drop_oldest)"),
    Option("batch", "int", default=4096, min=1, help="frames decoded per batch"),
    Option("max_latency", "duration", default=0.05,
           help="longest a frame waits in the ring before its batch is decoded"),
)

# [models."vendor/device"]: a device model backed by a vendor's JavaScript codec file.
MODEL_OPTIONS = (
    Option("codec", "path", help="the vendor's JavaScript codec file (decodeUplink), "
                                 "relative to the city file"),
    Option("family", "str", choices=FAMILIES, help="the kind of device"),
    Option("mapping", "table", help='fields of the codec\'s data -> "quantity unit" or '
                                    "{quantity, unit, scale}"),
    Option("description", "str", default=""),
    Option("vendor_url", "str", default=""),
    Option("network", "str", default="lorawan", help="lorawan, nbiot, wmbus ..."),
    Option("timeout", "duration", default=0.25, min=0.001,
           help="CPU-time limit of one codec call (seconds, or '250ms')"),
    Option("memory_limit", "int", default=16 * 1024 * 1024, min=1024 * 1024,
           help="heap limit of the codec's engine, in bytes"),
    Option("variables", "table", default=None,
           help="the codec's input.variables (ChirpStack device variables)"),
)

PLUGIN_OPTIONS = (
    Option("autoload", "bool", default=True,
           help="load every installed plugin (false: only the essential ones and 'load')"),
    Option("load", "list", default=[], help="plugins to load when autoload is false"),
    Option("deny", "list", default=[], help="plugins never to load"),
    Option("modules", "list", default=[],
           help="plugin files to load, relative to the city file (no install needed)"),
)


@attrs.frozen(slots=True)
class Problem:
    """One thing wrong with a city definition."""

    file: str
    where: str
    message: str

    def __str__(self):
        return f"{self.file}: {self.where}: {self.message}"

    def to_dict(self):
        return attrs.asdict(self)


@attrs.define
class Component:
    """A configured source, service or sink: ``[KIND.NAME]`` with its validated options."""

    kind: str
    name: str
    plugin: str
    descriptor: Any
    options: dict


@attrs.define
class City:
    path: Path
    name: str
    timezone: str
    lat: float | None
    lon: float | None
    state_dir: Path
    kernel: dict
    devices: dict[str, Device]
    sources: dict[str, Component]
    services: dict[str, Component]
    sinks: dict[str, Component]
    host: PluginHost
    #: The city's own device models ([models."vendor/device"] tables), also in
    #: ``host.device_models``; ``host`` is then the city's copy of the plugin host.
    models: dict = attrs.field(factory=dict)

    @property
    def tz(self):
        return zoneinfo.ZoneInfo(self.timezone)

    def model_of(self, device_id):
        return self.host.device_models[self.devices[device_id].model]


class _Collector:
    def __init__(self, file):
        self.file = str(file)
        self.problems: list[Problem] = []

    def add(self, where, message, file=None):
        self.problems.append(Problem(file or self.file, where, message))

    def extend(self, pairs, file=None):
        for where, message in pairs:
            self.add(where, message, file)


def read_toml(path):
    """Parse a TOML file; raise ConfigError naming the line on a syntax error."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([Problem(str(path), "file", f"cannot read: {exc.strerror}")]) from exc
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        msg = str(exc)
        where = "syntax"
        if "(at line" in msg:
            where = "line " + msg.rsplit("(at line", 1)[1].split(",")[0].strip()
            msg = msg.rsplit("(at line", 1)[0].strip()
        raise ConfigError([Problem(str(path), where, f"invalid TOML: {msg}")]) from exc


def check_city(path, *, host=None, unbuilt=()):
    """Validate a city; return (City or None, problems).

    ``unbuilt``: kinds ("sources", "sinks") the caller will not build (``hromada
    simulate`` replaces the sources): their plugins' own checks and their env: secrets
    are not required, only their options' types."""
    path = Path(path)
    try:
        data = read_toml(path)
    except ConfigError as exc:
        return None, exc.problems
    out = _Collector(path)
    base = path.parent.resolve()

    for key in data:
        if key not in TOP_LEVEL:
            out.add(key, f"unknown table {key!r}; allowed: {', '.join(TOP_LEVEL)}")

    def table(key):
        value = data.get(key, {})
        if not isinstance(value, dict):
            out.add(key, f"must be a table ([{key}]), not {type(value).__name__}")
            return {}
        return value

    city_opts, p = validate_options(CITY_OPTIONS, table("city"), "city", base_dir=base)
    out.extend(p)
    if "city" not in data:
        out.add("city", "missing [city] table (at least: name = \"...\")")
    tz = city_opts.get("timezone")
    if isinstance(tz, str):
        try:
            zoneinfo.ZoneInfo(tz)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            out.add("city.timezone", f"unknown time zone {tz!r}; use an IANA name like "
                                     "'Europe/Kyiv' or 'UTC'")
    kernel_opts, p = validate_options(KERNEL_OPTIONS, table("kernel"), "kernel")
    out.extend(p)
    plugin_opts, p = validate_options(PLUGIN_OPTIONS, table("plugins"), "plugins")
    out.extend(p)

    if host is None:
        files = [base / f for f in plugin_opts.get("modules", ())]
        host = PluginHost(deny=plugin_opts.get("deny", ()), load=plugin_opts.get("load", ()),
                          autoload=None if plugin_opts.get("autoload", True) else False,
                          files=files)
    # A broken plugin does not make the city invalid by itself (the kernel isolates
    # it); it is named wherever the city refers to something it would have provided.
    failed = sorted({plugin for plugin, _ in host.errors})
    hint = f" (plugins that failed to load: {', '.join(failed)}; see 'hromada plugins')" \
        if failed else ""

    # The city's own device models come before its devices, which may use them.  They
    # go into a copy of the host, so a host shared with other cities (or 'hromada
    # devices') never sees them.
    city_models, broken = _city_models(table("models"), host, base, out)
    if city_models:
        host = copy.copy(host)
        host.device_models = {**host.device_models, **city_models}

    comps = {}
    for kind, word in KINDS.items():
        comps[kind] = {}
        registry = getattr(host, kind)
        for name, spec in table(kind).items():
            where = f"{kind}.{name}"
            if not isinstance(spec, dict):
                out.add(where, f"must be a table ([{where}]) with plugin = \"...\"")
                continue
            plugin = spec.get("plugin")
            if plugin is None:
                out.add(f"{where}.plugin", f"missing: which {word} plugin to use; installed: "
                                           f"{', '.join(sorted(registry)) or 'none'}")
                continue
            desc = registry.get(plugin)
            if desc is None:
                out.add(f"{where}.plugin", f"unknown {word} plugin {plugin!r}; installed: "
                                           f"{', '.join(sorted(registry)) or 'none'}{hint}")
                continue
            opts, p = validate_options(desc.options, spec, where, base_dir=base)
            out.extend(p)
            if kind not in unbuilt:
                out.extend(_unset_secrets(desc.options, opts, where))
            comps[kind][name] = Component(kind, name, plugin, desc, opts)
    if not table("sources"):
        out.add("sources", "no [sources.NAME] table: a city needs at least one source")

    devices: dict[str, Device] = {}
    network = network_columns(host)
    entries = data.get("devices", [])
    if not isinstance(entries, list):
        out.add("devices", "must be an array of tables ([[devices]])")
        entries = []
    for i, entry in enumerate(entries):
        where = f"devices[{i}]"
        if not isinstance(entry, dict):
            out.add(where, "must be a table with id and model")
            continue
        _add_device(entry, where, host, devices, out, None, hint, base, network, broken)
    csv_path = city_opts.get("devices")
    if csv_path is not None:
        _load_csv(Path(csv_path), host, devices, out, hint, base, network, broken)

    for kind in KINDS:
        if kind in unbuilt:
            continue
        for comp in comps[kind].values():
            _validate_component(comp, devices, out)

    if out.problems:
        return None, out.problems
    city = City(
        path=path, name=city_opts["name"], timezone=city_opts["timezone"],
        lat=city_opts["lat"], lon=city_opts["lon"], state_dir=Path(city_opts["state_dir"]),
        kernel=kernel_opts, devices=devices, sources=comps["sources"],
        services=comps["services"], sinks=comps["sinks"], host=host, models=city_models,
    )
    # Services are built without side effects (docs/plugins.md), so building each once
    # here catches what their constructors check (time windows, fractions, files).
    for name, comp in city.services.items():
        try:
            comp.descriptor.factory(name, comp.options, city)
        except ValueError as exc:
            key, sep, message = str(exc).partition(": ")
            if sep and key.startswith(f"services.{name}"):
                out.add(key, message)
            else:
                out.add(f"services.{name}", str(exc))
        except Exception as exc:  # noqa: BLE001 - reported, like any plugin failure
            out.add(f"services.{name}", f"the {comp.plugin} service cannot start: "
                                        f"{type(exc).__name__}: {exc}")
    if out.problems:
        return None, out.problems
    return city, []


_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def _key(name):
    """A TOML key as written in a key path: bare when it can be, else quoted."""
    return name if _BARE_KEY.match(name) else json.dumps(name, ensure_ascii=False)


def _city_models(models, host, base, out):
    """Build the ``[models.ID]`` tables into DeviceModels; problems go to ``out``.

    Returns (id -> DeviceModel, ids of the models that could not be built)."""
    built, broken = {}, set()
    for model_id, spec in models.items():
        where = f"models.{_key(model_id)}"
        if not _MODEL_ID.match(model_id):
            out.add(where, f"{model_id!r} is not a device model id: write it 'vendor/device' "
                           "in lowercase (letters, digits, '.', '_', '-'), quoted in the "
                           'table name: [models."acme/th-sensor"]')
            continue
        if model_id in host.device_models:
            owner = host.owner("device_models", model_id)
            by = f" by plugin {owner!r}" if owner else ""
            out.add(where, f"device model {model_id!r} is already installed{by}; give the "
                           "city's model an id of its own")
            continue
        model = _city_model(model_id, spec, where, base, out)
        if model is None:
            broken.add(model_id)  # its devices are not reported again
        else:
            built[model_id] = model
    return built, broken


def _city_model(model_id, spec, where, base, out):
    """One ``[models.ID]`` table as a DeviceModel, or None with its problems in ``out``."""
    if not isinstance(spec, dict):
        out.add(where, f"must be a table ([{where}]) with codec, family and mapping")
        return None
    opts, problems = validate_options(MODEL_OPTIONS, spec, where, base_dir=base, skip=())
    out.extend(problems)
    ok = not problems
    mapping = {}
    if isinstance(opts.get("mapping"), dict):
        if not opts["mapping"]:
            out.add(f"{where}.mapping", "empty: map at least one field of the codec's data "
                                        'to a quantity, e.g. temperature = "temperature Cel"')
            ok = False
        for field, entry in opts["mapping"].items():
            message = _mapping_problem(field, entry)
            if message:
                out.add(f"{where}.mapping.{_key(field)}", message)
                ok = False
            else:
                mapping[field] = entry
    # Loaded even when other keys are wrong (with the default limits for wrong ones), so
    # that 'hromada check' tells everything.
    if "codec" not in opts:
        return None
    limits = {o.name: opts.get(o.name, o.default)
              for o in MODEL_OPTIONS if o.name in ("timeout", "memory_limit", "variables")}
    codec = _load_codec(opts["codec"], limits, where, out)
    if codec is None or not ok:
        return None
    from .codecs.js import js_device_model

    return js_device_model(
        model_id, opts["family"], codec, mapping, description=opts["description"],
        vendor_url=opts["vendor_url"], network=opts["network"],
        options=(Option("variables", "table", default=None,
                        help="this device's input.variables (ChirpStack), instead of the "
                             "model's"),))


def _mapping_problem(field, entry):
    """What is wrong with one mapping entry, or None."""
    from .codecs.js import MAPPING_KEYS, mapping_entry

    try:
        mapping_entry(field, entry)
    except ValueError as exc:
        message = str(exc)
        if isinstance(entry, dict) and entry and not set(entry) & set(MAPPING_KEYS):
            # TOML reads `sensor.pm25 = ...` as a table: the field is one quoted key.
            message += f' (a nested field is one quoted key: "{field}.{next(iter(entry))}" = ...)'
        return message
    return None


def _load_codec(path, limits, where, out):
    """The model's JSCodec, or None with the problem added."""
    from .codecs.js import JSCodec
    from .errors import PluginError

    path = Path(path)
    try:
        source = path.read_text(encoding="utf-8")
    except OSError as exc:
        out.add(f"{where}.codec", f"cannot read codec file {path}: {exc.strerror}")
        return None
    except UnicodeDecodeError as exc:
        out.add(f"{where}.codec", f"codec file {path} is not UTF-8 text ({exc.reason} at "
                                  f"byte {exc.start})")
        return None
    try:
        return JSCodec(source, name=path.name, **limits)
    except PluginError as exc:
        out.add(f"{where}.codec", str(exc))
    except TypeError as exc:  # a TOML date in variables: they reach the script as JSON
        out.add(f"{where}.variables", f"must hold only strings, numbers, booleans, arrays "
                                      f"and tables: {exc}")
    return None


def _unset_secrets(schema, options, where):
    """A secret option given as ``env:VARIABLE`` whose variable is not set: the city
    would start without that component, so ``hromada check`` says so first."""
    out = []
    for opt in schema:
        value = options.get(opt.name)
        if opt.secret and isinstance(value, str) and value.startswith("env:"):
            var = value[4:].strip()
            if var and var not in os.environ:
                out.append((f"{where}.{opt.name}", f"environment variable {var} is not set"))
    return out


def _validate_component(comp, devices, out):
    validate = getattr(comp.descriptor, "validate", None)
    if validate is None:
        return
    where = f"{comp.kind}.{comp.name}"
    try:
        found = list(validate(comp.name, comp.options, devices) or ())
    except Exception as exc:  # noqa: BLE001 - a plugin's check that raises is reported
        out.add(where, f"the {comp.plugin} plugin's validation raised "
                       f"{type(exc).__name__}: {exc}")
        return
    for key, message in found:
        out.add(key or where, message)


def load_city(path, *, host=None) -> City:
    """Load and validate a city; raise ConfigError with every problem."""
    city, problems = check_city(path, host=host)
    if problems:
        raise ConfigError(problems)
    return city


def _number(value, lo, hi):
    if isinstance(value, str):
        value = float(value)
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        raise ValueError
    if not lo <= value <= hi:
        raise ValueError
    return float(value)


def network_columns(host):
    """Name -> Option of the per-device fields installed source types read from the
    device list (``SourceType.device_options``); the first source type by name wins when
    two declare the same name."""
    columns = {}
    for name in sorted(getattr(host, "sources", {}) or {}):
        for opt in getattr(host.sources[name], "device_options", ()) or ():
            if isinstance(opt, Option) and opt.name not in DEVICE_FIELDS:
                columns.setdefault(opt.name, opt)
    return columns


def _add_device(entry, where, host, devices, out, file, hint="", base_dir=None,
                network_schema=None, broken=()):
    """Validate one device (from [[devices]] or a CSV row) and add it.

    Keys beyond DEVICE_FIELDS are the model's options, or else network columns of an
    installed source (``network_columns``), kept in ``Device.network``.  A device of a
    city model that could not be built (``broken``) is left out without a problem of
    its own: the model's problems already make the city invalid.
    """
    if network_schema is None:
        network_schema = network_columns(host)
    ok = True
    dev_id = entry.get("id")
    model_id = entry.get("model")
    if not dev_id or not isinstance(dev_id, str):
        out.add(f"{where}.id", "missing: the device's network identity (e.g. its DevEUI in hex)",
                file)
        ok = False
    else:
        dev_id = dev_id.strip().lower()
        if dev_id in devices:
            out.add(f"{where}.id", f"duplicate device id {dev_id!r}", file)
            ok = False
    model = None
    if not model_id:
        out.add(f"{where}.model", "missing: the device model ('vendor/device'); "
                                  "'hromada devices' lists them", file)
        ok = False
    else:
        model = host.device_models.get(model_id)
        if model is None and model_id in broken:
            ok = False
        elif model is None:
            known = ", ".join(sorted(host.device_models)) or "none"
            out.add(f"{where}.model",
                    f"unknown device model {model_id!r}; installed: {known}{hint}", file)
            ok = False
    coords = {}
    for key, lo, hi in (("lat", -90, 90), ("lon", -180, 180)):
        v = entry.get(key)
        if v in (None, ""):
            coords[key] = None
            continue
        try:
            coords[key] = _number(v, lo, hi)
        except ValueError:
            out.add(f"{where}.{key}", f"must be a number from {lo} to {hi}, not {v!r}", file)
            ok = False
    tags = entry.get("tags") or ()
    if isinstance(tags, str):
        tags = tuple(t for t in tags.replace(";", ",").split(",") if t.strip())
        tags = tuple(t.strip() for t in tags)
    elif not isinstance(tags, list | tuple):
        out.add(f"{where}.tags", "must be a list of strings", file)
        ok = False
    options = {}
    network = {}
    if model is not None:
        model_names = {o.name for o in model.options}
        raw, net_raw = {}, {}
        for k, v in entry.items():
            if k in DEVICE_FIELDS or v in ("", None):
                continue
            if k in model_names:
                raw[k] = v          # the model's option wins over a network column
            elif k in network_schema:
                net_raw[k] = v
            else:
                allowed = ", ".join(sorted(model_names)) or "none"
                columns = ", ".join(sorted(network_schema)) or "none"
                out.add(f"{where}.{k}", f"unknown option {k!r}; allowed options: {allowed}; "
                                        f"network columns: {columns}", file)
                ok = False
        if file is not None:
            raw = _coerce_csv_options(model.options, raw)
        options, p = validate_options(model.options, raw, where, base_dir=base_dir)
        out.extend(p, file)
        ok = ok and not p
        if net_raw:
            # Only the columns given are validated (and kept): no defaults, none required.
            schema = tuple(network_schema[k] for k in net_raw)
            if file is not None:
                net_raw = _coerce_csv_options(schema, net_raw)
            network, p = validate_options(schema, net_raw, where, base_dir=base_dir, skip=())
            out.extend(_hide_secrets(p, schema, net_raw, where), file)
            ok = ok and not p
    if ok:
        devices[dev_id] = Device(
            id=dev_id, model=model_id, name=entry.get("name") or None, lat=coords["lat"],
            lon=coords["lon"], district=entry.get("district") or None, tags=tuple(tags),
            options=options, network=network,
            origin=f"{file}: {where}" if file is not None else where,
        )


def _hide_secrets(problems, schema, raw, where):
    """Problems about secret network columns, never echoing the value (validation shows
    secrets as "(secret)" already; a converter's own message, e.g. of a duration, may
    still quote it)."""
    secret = {f"{where}.{o.name}": o.name for o in schema if o.secret}
    out = []
    for path, message in problems:
        if path in secret:
            shown = repr(raw.get(secret[path]))
            if shown in message:
                message = message.replace(shown, "(secret)")
        out.append((path, message))
    return out


def _coerce_csv_options(schema, raw):
    """CSV cells are strings: turn them into the option's type before validating."""
    types = {o.name: o.type for o in schema}
    out = {}
    for k, v in raw.items():
        t = types.get(k)
        try:
            if t == "int":
                v = int(v)
            elif t == "float":
                v = float(v)
            elif t == "bool":
                v = {"true": True, "false": False, "1": True, "0": False}[v.strip().lower()]
        except (ValueError, KeyError):
            pass  # validation names the problem
        out[k] = v
    return out


def _load_csv(path, host, devices, out, hint="", base_dir=None, network_schema=None,
              broken=()):
    name = str(path)
    try:
        # utf-8-sig: spreadsheet programs start their CSV exports with a BOM.
        f = open(path, newline="", encoding="utf-8-sig")
    except OSError as exc:
        out.add("city.devices", f"cannot read device list {name}: {exc.strerror}")
        return
    with f:
        reader = csv.DictReader(f, skipinitialspace=True)
        if reader.fieldnames:
            reader.fieldnames = [c.strip() for c in reader.fieldnames]
        missing = [c for c in ("id", "model") if c not in (reader.fieldnames or ())]
        if missing:
            out.add("line 1", f"missing column(s) {', '.join(missing)}; the header needs at "
                              f"least id,model (optional: {', '.join(DEVICE_FIELDS[2:])}, "
                              "the model's options and network columns such as LoRaWAN "
                              "dev_addr and keys)", name)
            return
        for row in reader:
            extra = row.pop(None, None)
            row = {k: v.strip() if isinstance(v, str) else v for k, v in row.items()}
            if not any(row.values()) and not any(c.strip() for c in extra or ()):
                continue  # a blank row, as spreadsheets write them (",,,,")
            if extra is not None:
                out.add(f"line {reader.line_num}", "more cells than header columns", name)
                continue
            _add_device(row, f"line {reader.line_num}", host, devices, out, name, hint,
                        base_dir, network_schema, broken)
