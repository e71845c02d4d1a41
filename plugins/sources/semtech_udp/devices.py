"""LoRaWAN identities and keys of the city's devices, for the ``semtech-udp`` source.

A device's model decides how its payload decodes; its LoRaWAN identity (DevAddr, session
keys for ABP, root keys for OTAA) belongs to the network.  Three places, merged field by
field, each overriding the one before:

- the city's device list: columns (CSV) or keys (``[[devices]]``) ``dev_addr``,
  ``nwkskey``, ``appskey``, ``fnwksintkey``, ``snwksintkey``, ``nwksenckey``, ``appkey``,
  ``nwkkey``, ``join_eui``, ``lorawan_version`` and ``lorawan_class`` (the source's
  ``device_options``, kept in ``Device.network``; ``DEVICE_COLUMNS``).  A city device
  with none of them is not a LoRaWAN device of this source unless the two places below
  name it;

- ``keys_file``: a CSV file (header ``dev_eui`` or ``id``, then any of the fields) or a
  TOML file of the same tables as ``keys``;

- ``keys``: a table in city.toml, one sub-table per DevEUI (the city's device id)::

      [sources.gw.keys.0004a30b001c0530]
      dev_addr = "26011bda"
      nwkskey = "env:NWKSKEY_0530"
      appskey = "env:APPSKEY_0530"

Fields: ``dev_addr``; 1.0 session keys ``nwkskey``, ``appskey``; 1.1 session keys
``fnwksintkey``, ``snwksintkey``, ``nwksenckey``; OTAA root keys ``appkey`` (and
``nwkkey`` for 1.1) with ``join_eui``; ``version`` ("1.0.x" or "1.1"), ``class`` ("A" or
"C"), ``allow_reset`` (accept a device that restarts its uplink counter) and
``max_gap``; for an ABP device, its own receive windows if they differ from the source's:
``rx1_delay``, ``rx1_dr_offset``, ``rx2_frequency``, ``rx2_datr``.  Any key may be
``env:VARIABLE``.  Errors name the file, line or key path
(``devices[3].nwkskey``, ``devices.csv: line 4.appkey`` for the device list) and the
field, never a key's value; the objects built here never show keys in a repr.
"""

from __future__ import annotations

import csv
import re
import tomllib
from pathlib import Path

import attrs

from hromada.lorawan import parse_key

from . import gwmp

SESSION_KEYS = ("nwkskey", "appskey", "fnwksintkey", "snwksintkey", "nwksenckey")
ROOT_KEYS = ("appkey", "nwkkey")
#: An ABP device's own receive-window settings (its firmware's), instead of the source's.
RX_FIELDS = ("rx1_delay", "rx1_dr_offset", "rx2_frequency", "rx2_datr")
FIELDS = ("dev_addr", *SESSION_KEYS, *ROOT_KEYS, "join_eui", "version", "class",
          "allow_reset", "max_gap", *RX_FIELDS)
#: Device-list column -> field: the columns this source reads from the city's devices.
DEVICE_COLUMNS = {
    "dev_addr": "dev_addr", **{k: k for k in SESSION_KEYS}, **{k: k for k in ROOT_KEYS},
    "join_eui": "join_eui", "lorawan_version": "version", "lorawan_class": "class",
    **{k: k for k in RX_FIELDS},
}
_HEX = set("0123456789abcdef")
# 32 hex digits in a row: a key in the wrong column of a keys file, never echoed.
_KEYLIKE = re.compile(r"[0-9a-fA-F]{32}")


def _shown(value):
    """``repr(value)`` for an error message, unless it may be a key."""
    if _KEYLIKE.search(str(value)):
        return "a value that looks like a key (not shown)"
    return repr(value)


@attrs.define(eq=False, repr=False)
class LoraDevice:
    """One device's network identity.  ``session_keys`` (ABP) and ``appkey``/``nwkkey``
    (OTAA) are bytes and never shown."""

    id: str
    dev_addr: str | None = None
    session_keys: dict = attrs.field(factory=dict)
    appkey: bytes | None = None
    nwkkey: bytes | None = None
    join_eui: str | None = None
    version: str = "1.0"
    device_class: str = "A"
    allow_reset: bool = False
    max_gap: int | None = None
    rx: dict = attrs.field(factory=dict)  # RX_FIELDS given for this (ABP) device

    @property
    def abp(self):
        return self.dev_addr is not None

    @property
    def otaa(self):
        return self.appkey is not None or self.nwkkey is not None

    def __repr__(self):
        kinds = "+".join(k for k, on in (("ABP", self.abp), ("OTAA", self.otaa)) if on)
        return f"LoraDevice({self.id!r}, {kinds}, LoRaWAN {self.version}, class {self.device_class})"


def _hex_id(value, digits, where):
    text = str(value).strip().lower().replace("-", "").replace(":", "")
    if len(text) != digits or not set(text) <= _HEX:
        raise ValueError(f"{where}: expected {digits} hex digits, got {_shown(value)}")
    return text


def _version(value, where):
    text = str(value).strip()
    if text in ("1.0", "1.0.0", "1.0.1", "1.0.2", "1.0.3", "1.0.4"):
        return "1.0"
    if text in ("1.1", "1.1.0"):
        return "1.1"
    raise ValueError(f"{where}: LoRaWAN version {_shown(value)} is not 1.0.x or 1.1")


def _bool(value, where):
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    raise ValueError(f"{where}: must be true or false, not {_shown(value)}")


def _check_fields(fields, where):
    unknown = sorted(set(fields) - set(FIELDS))
    if unknown:
        raise ValueError(f"{where}: unknown field(s) {', '.join(unknown)}; allowed: "
                         f"{', '.join(FIELDS)}")


def build_device(dev_id, fields, where, paths=None):
    """A :class:`LoraDevice` from one device's fields; ValueError naming ``where``.

    ``paths`` (field -> key path) names a field given somewhere else than ``where``
    (a device-list column); by default a field is ``where.FIELD``.
    """
    _check_fields(fields, where)
    paths = paths or {}

    def at(name):
        return paths.get(name) or f"{where}.{name}"

    f = {k: v for k, v in fields.items() if v not in (None, "")}
    dev = LoraDevice(dev_id)
    if "version" in f:
        dev.version = _version(f["version"], at("version"))
    if "class" in f:
        cls = str(f["class"]).strip().upper()
        if cls not in ("A", "C"):
            raise ValueError(f"{at('class')}: device class {_shown(f['class'])} is not A or C "
                             "(class B is not supported)")
        dev.device_class = cls
    if "allow_reset" in f:
        dev.allow_reset = _bool(f["allow_reset"], at("allow_reset"))
    if "max_gap" in f:
        try:
            gap = int(f["max_gap"])
        except (TypeError, ValueError):
            raise ValueError(f"{at('max_gap')}: must be an integer, not {_shown(f['max_gap'])}") from None
        if gap < 1:
            raise ValueError(f"{at('max_gap')}: must be at least 1, not {gap}")
        dev.max_gap = gap
    for name in SESSION_KEYS:
        if name in f:
            dev.session_keys[name] = parse_key(f[name], at(name))
    for name in ROOT_KEYS:
        if name in f:
            setattr(dev, name, parse_key(f[name], at(name)))
    if "join_eui" in f:
        dev.join_eui = _hex_id(f["join_eui"], 16, at("join_eui"))
    if "dev_addr" in f:
        dev.dev_addr = _hex_id(f["dev_addr"], 8, at("dev_addr"))
    for name in RX_FIELDS:
        if name in f:
            dev.rx[name] = _rx_field(name, f[name], at(name))
    v11_session = any(n in dev.session_keys for n in ("fnwksintkey", "snwksintkey",
                                                      "nwksenckey"))
    if "version" not in f and (v11_session or dev.nwkkey is not None):
        dev.version = "1.1"
    if dev.abp:
        need = (("fnwksintkey", "snwksintkey", "nwksenckey", "appskey") if dev.version == "1.1"
                else ("nwkskey", "appskey"))
        missing = [n for n in need if n not in dev.session_keys]
        if missing:
            raise ValueError(f"{where}: an ABP device (dev_addr given) of LoRaWAN "
                             f"{dev.version} needs {', '.join(missing)}")
    elif dev.session_keys:
        raise ValueError(f"{where}: session keys without dev_addr; give the DevAddr of the "
                         "ABP session")
    if dev.version == "1.1" and dev.appkey is not None and dev.nwkkey is None:
        raise ValueError(f"{where}: an OTAA device of LoRaWAN 1.1 needs nwkkey as well as "
                         "appkey")
    if dev.version == "1.1" and dev.nwkkey is not None and dev.appkey is None:
        raise ValueError(f"{where}: an OTAA device of LoRaWAN 1.1 needs appkey as well as "
                         "nwkkey")
    if not dev.abp and not dev.otaa:
        raise ValueError(f"{where}: neither dev_addr with session keys (ABP) nor appkey "
                         "(OTAA)")
    if dev.rx and not dev.abp:
        raise ValueError(f"{where}: {', '.join(dev.rx)} are the settings of an ABP device; "
                         "an OTAA device takes the source's from its join-accept")
    return dev


_RX_EXPECTED = {"rx1_delay": "seconds from 1 to 15", "rx1_dr_offset": "an integer from 0 to 5",
                "rx2_frequency": "a frequency in MHz from 100 to 1100 (e.g. 869.525)",
                "rx2_datr": "a data rate like \"SF9BW125\" (or FSK bit/s)"}


def _rx_field(name, value, where):
    """One receive-window setting, checked as the source's option of the same name."""
    try:
        if name == "rx2_datr":
            text = str(value).strip()
            return gwmp.check_datr(int(text) if text.isdigit() else text)
        if name == "rx2_frequency":
            mhz = float(value)
            if 100.0 <= mhz <= 1100.0:
                return mhz
        else:
            n = int(value)
            lo, hi = (1, 15) if name == "rx1_delay" else (0, 5)
            if lo <= n <= hi:
                return n
    except (TypeError, ValueError):
        pass
    raise ValueError(f"{where}: must be {_RX_EXPECTED[name]}, not {_shown(value)}")


def read_keys_file(path):
    """(DevEUI -> fields, DevEUI -> where) of a CSV or TOML keys file."""
    path = Path(path)
    rows, where = {}, {}
    try:
        if path.suffix.lower() == ".toml":
            data = tomllib.loads(path.read_text(encoding="utf-8"))
            for eui, fields in data.items():
                w = f"{path}: {eui}"
                if not isinstance(fields, dict):
                    raise ValueError(f"{w}: must be a table of fields")
                key = _hex_id(eui, 16, w)
                rows[key], where[key] = fields, w
            return rows, where
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            names = [n.strip().lower() for n in (reader.fieldnames or ())]
            id_col = "dev_eui" if "dev_eui" in names else "id" if "id" in names else None
            if id_col is None:
                raise ValueError(f"{path}: line 1: the header needs a dev_eui (or id) column")
            for row in reader:
                w = f"{path}: line {reader.line_num}"
                if None in row:
                    raise ValueError(f"{w}: more cells than header columns")
                fields = {k.strip().lower(): (v.strip() if isinstance(v, str) else v)
                          for k, v in row.items()}
                key = _hex_id(fields.pop(id_col), 16, f"{w}: {id_col}")
                fields.pop("id" if id_col == "dev_eui" else "dev_eui", None)
                if key in rows:
                    raise ValueError(f"{w}: DevEUI {key} is listed twice")
                rows[key], where[key] = fields, w
    except OSError as exc:
        raise ValueError(f"cannot read keys file {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path}: invalid TOML: {exc}") from None
    return rows, where


def _given(value):
    return value is not None and value != ""


def device_list_fields(dev_id, device):
    """(fields, field -> key path, where) of one city device's LoRaWAN columns (its
    ``network``), or None when it has none."""
    network = getattr(device, "network", None) or {}
    columns = [c for c, v in network.items() if c in DEVICE_COLUMNS and _given(v)]
    if not columns:
        return None
    origin = getattr(device, "origin", None) or f"devices.{dev_id}"
    text = str(dev_id).strip().lower()
    if len(text) != 16 or not set(text) <= _HEX:
        raise ValueError(f"{origin}.id: a device with LoRaWAN columns ({', '.join(columns)}) "
                         f"needs its DevEUI (16 hex digits) as id, not {_shown(dev_id)}")
    fields = {DEVICE_COLUMNS[c]: network[c] for c in columns}
    paths = {DEVICE_COLUMNS[c]: f"{origin}.{c}" for c in columns}
    return fields, paths, origin


def load_devices(table, keys_file, city_devices, where, problems=None):
    """DevEUI -> :class:`LoraDevice` from the city's device list (the ``network`` fields
    of ``city_devices``, id -> Device; None: no device list), the ``keys_file`` and the
    ``keys`` table, merged field by field in that order (the table wins).

    The first bad device raises ValueError; with a ``problems`` list, each bad device's
    message is appended to it instead and the others still load (``hromada check``
    reports them all)."""
    rows, places, paths = {}, {}, {}

    def each(items, fn):
        for item in items:
            try:
                fn(*item)
            except ValueError as exc:
                if problems is None:
                    raise
                problems.append(str(exc))

    def merge(key, fields, place):
        row, p = rows.setdefault(key, {}), paths.setdefault(key, {})
        for name, value in fields.items():
            if _given(value):   # an empty cell overrides nothing
                row[name] = value
                p[name] = f"{place}.{name}"
        places[key] = place

    def from_list(dev_id, device):
        found = device_list_fields(dev_id, device)
        if found is not None:
            key = str(dev_id).strip().lower()
            rows[key], paths[key], places[key] = found

    each((city_devices or {}).items(), from_list)
    if keys_file is not None:
        file_rows, file_places = read_keys_file(keys_file)

        def from_file(key, fields):
            _check_fields(fields, file_places[key])
            merge(key, fields, file_places[key])

        each(file_rows.items(), from_file)

    def from_table(eui, fields):
        w = f"{where}.keys.{eui}"
        if not isinstance(fields, dict):
            raise ValueError(f"{w}: must be a table of fields (dev_addr, appskey, ...)")
        key = _hex_id(eui, 16, w)
        _check_fields(fields, w)
        merge(key, fields, w)

    each((table or {}).items(), from_table)
    out = {}

    def build(eui, fields):
        if city_devices is not None and eui not in city_devices:
            raise ValueError(f"{places[eui]}: device {eui} is not in the city's device list")
        out[eui] = build_device(eui, fields, places[eui], paths[eui])

    each(list(rows.items()), build)
    return out
