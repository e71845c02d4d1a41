"""SenML (RFC 8428) packs in JSON and CBOR: parsing, validation and resolution.

A SenML pack is an array of records.  Base fields (``bn`` base name, ``bt`` base time,
``bu`` base unit, ``bv`` base value, ``bs`` base sum, ``bver`` base version) apply to
the record that carries them and to every later record until they change.
:func:`resolve` turns a pack into *resolved records* (RFC 8428 section 4.6): the name
is base name + name, the unit is the record's own or the base unit, the value is
base value + value (numeric values only), the sum is base sum + sum, and the time is
base time + time.  Resolved times below 2**28 are relative to "roughly now"; with
``now`` given they become absolute POSIX seconds.

``loads(data, "json" | "cbor")`` = :func:`parse` + :func:`resolve`; :func:`dumps`
builds packs (tests, device simulators, encoders).  Every problem raises
:class:`hromada.errors.DecodeError` naming the record (its index in the pack) and the
field; for JSON syntax errors the byte offset is given.

Pure Python: a pack is a handful of records, and the JSON and CBOR parsers doing the
real work (``json``, ``cbor2``) are already native.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from .errors import DecodeError

__all__ = [
    "CBOR_LABELS", "CONTENT_FORMATS", "JSON_LABELS", "RELATIVE_LIMIT", "VERSION", "Record",
    "dumps", "loads", "parse", "resolve",
]

#: CoAP content-format numbers of the two representations (RFC 8428 section 12.3).
CONTENT_FORMATS = {"json": 110, "cbor": 112}

#: CBOR integer label -> JSON label (RFC 8428 section 6, table 4).
CBOR_LABELS = {
    -1: "bver", -2: "bn", -3: "bt", -4: "bu", -5: "bv", -6: "bs",
    0: "n", 1: "u", 2: "v", 3: "vs", 4: "vb", 5: "s", 6: "t", 7: "ut", 8: "vd",
}
_LABEL_CBOR = {v: k for k, v in CBOR_LABELS.items()}
JSON_LABELS = tuple(_LABEL_CBOR)

#: Resolved times below this are relative to now (RFC 8428 section 4.5.3).
RELATIVE_LIMIT = 2 ** 28

#: The SenML version this receiver understands; newer packs must not be used (4.4).
VERSION = 10

_STRINGS = ("bn", "bu", "n", "u", "vs")
_NUMBERS = ("bt", "bv", "bs", "v", "s", "t", "ut")
_VALUE_FIELDS = ("v", "vs", "vb", "vd")
# RFC 8428 section 4.5.1 names, plus a leading "/" as OMA LwM2M writes object paths
# ("/3303/0/5700").
# \Z, not $: "$" also matches before a final newline.
_NAME = re.compile(r"[A-Za-z0-9/][A-Za-z0-9\-:./_]*\Z")


class _Object(dict):
    """A JSON object; ``duplicates`` names the keys it had more than once."""

    __slots__ = ("duplicates",)


def _object(pairs):
    obj = _Object(pairs)
    seen = set()
    obj.duplicates = [k for k, _ in pairs if k in seen or seen.add(k)]
    return obj


@attrs.frozen(slots=True)
class Record:
    """One resolved SenML record.

    ``value`` is a number (``v``), str (``vs``), bool (``vb``), bytes (``vd``) or None
    when the record only has a sum.  ``time`` is absolute POSIX seconds unless
    ``relative`` is true (then seconds from "now", negative in the past).  ``local``
    is the record's own name (``n``) and ``base_name`` the base name in effect.
    """

    name: str
    unit: str | None
    value: Any
    sum: float | int | None
    time: float | int
    relative: bool
    update_time: float | int | None = None
    version: int = 10
    index: int = 0
    local: str = ""
    base_name: str = ""

    def at(self, now: float) -> float:
        """Absolute time of the record, taking relative times from ``now``."""
        return now + self.time if self.relative else self.time


def _err(message, field=None, offset=None):
    return DecodeError(message, offset=offset, field=field)


def _kind(value):
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bytes | bytearray):
        return "a byte string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a map"
    if value is None:
        return "null"
    return type(value).__name__


def _b64(text, i):
    # RFC 8428 section 5: base64url without padding; padding is tolerated.
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        raise _err(f"record {i}: 'vd' is not base64url data", "vd") from None


def _check_record(rec, i, cbor):
    """Validate one raw record; return it with JSON labels and checked types."""
    if not isinstance(rec, dict):
        raise _err(f"record {i}: must be a {'map' if cbor else 'JSON object'}, not {_kind(rec)}")
    dups = getattr(rec, "duplicates", None)
    if dups:
        # json keeps the last of repeated keys: which value was meant is unknown
        raise _err(f"record {i}: field {dups[0]!r} appears twice", dups[0])
    out = {}
    for key, value in rec.items():
        if cbor and isinstance(key, int) and not isinstance(key, bool):
            label = CBOR_LABELS.get(key)
            if label is None:
                continue  # an extension this receiver does not know: ignored (RFC 8428 4.4)
        elif isinstance(key, str):
            label = key
            if label not in _LABEL_CBOR:
                if label.endswith("_"):
                    raise _err(f"record {i}: field {label!r} must be understood (it ends "
                               "with '_') and is not supported", label)
                continue
        else:
            raise _err(f"record {i}: field label {key!r} is neither a string nor an "
                       "integer")
        if label in _STRINGS:
            if not isinstance(value, str):
                raise _err(f"record {i}: {label!r} must be a string, not {_kind(value)}", label)
        elif label in _NUMBERS:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise _err(f"record {i}: {label!r} must be a number, not {_kind(value)}", label)
            if isinstance(value, float) and not math.isfinite(value):
                raise _err(f"record {i}: {label!r} must be a finite number, not {value}", label)
        elif label == "vb":
            if not isinstance(value, bool):
                raise _err(f"record {i}: 'vb' must be a boolean, not {_kind(value)}", label)
        elif label == "bver":
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise _err(f"record {i}: 'bver' must be a positive integer, not {value!r}",
                           label)
            if value > VERSION:
                raise _err(f"record {i}: SenML version {value} is newer than this receiver "
                           f"understands ({VERSION})", label)
        elif label == "vd":
            if cbor and isinstance(value, bytes | bytearray):
                value = bytes(value)
            elif not cbor and isinstance(value, str):
                value = _b64(value, i)
            else:
                want = "a byte string" if cbor else "a base64url string"
                raise _err(f"record {i}: 'vd' must be {want}, not {_kind(value)}", label)
        if label in out:
            # CBOR can name a field by its integer and by its string label
            raise _err(f"record {i}: field {label!r} appears twice", label)
        out[label] = value
    return out


def _no_constants(name):
    raise ValueError(f"{name} is not a JSON number")


def parse(data: bytes | bytearray | str, fmt: str = "json") -> list[dict]:
    """Raw records of a pack (JSON labels as keys, types checked, ``vd`` as bytes)."""
    if fmt == "json":
        if isinstance(data, bytes | bytearray | memoryview):
            try:
                text = bytes(data).decode("utf-8")
            except UnicodeDecodeError as exc:
                raise _err(f"SenML JSON: not UTF-8 text at byte {exc.start}", None,
                           exc.start) from None
        else:
            text = data
        try:
            pack = json.loads(text, parse_constant=_no_constants,
                              object_pairs_hook=_object)
        except json.JSONDecodeError as exc:
            raise _err(f"SenML JSON: {exc.msg} at offset {exc.pos}", None, exc.pos) from None
        except (ValueError, RecursionError) as exc:
            raise _err(f"SenML JSON: {exc}") from None
        cbor = False
    elif fmt == "cbor":
        import cbor2

        try:
            pack = cbor2.loads(bytes(data))
        except (cbor2.CBORDecodeError, RecursionError, ValueError, TypeError,
                OverflowError, MemoryError) as exc:
            raise _err(f"SenML CBOR: {exc}") from None
        cbor = True
    else:
        raise ValueError(f"fmt must be 'json' or 'cbor', not {fmt!r}")
    if not isinstance(pack, list):
        raise _err(f"SenML {fmt.upper()}: a pack must be an array of records, not "
                   f"{_kind(pack)}")
    return [_check_record(rec, i, cbor) for i, rec in enumerate(pack)]


def _add(base, value):
    # Only add when a base is in effect, so that an integer value stays an integer.
    return value if base is None else base + value


def resolve(records: Iterable[Mapping[str, Any]], now: float | None = None) -> list[Record]:
    """Resolved records (RFC 8428 section 4.6) of raw records from :func:`parse`.

    With ``now`` (POSIX seconds), relative times become absolute; without it they stay
    relative (``Record.relative``).
    """
    bn, bt, bu, bv, bs, bver = "", None, None, None, None, 10
    out = []
    for i, rec in enumerate(records):
        bn = rec.get("bn", bn)
        bt = rec.get("bt", bt)
        bu = rec.get("bu", bu)
        bv = rec.get("bv", bv)
        bs = rec.get("bs", bs)
        bver = rec.get("bver", bver)
        local = rec.get("n", "")
        name = bn + local
        if name and not _NAME.match(name):
            raise _err(f"record {i}: name {name!r} has characters SenML does not allow "
                       "(letters, digits and - : . / _ only, starting with a letter or "
                       "digit)", "n")
        present = [k for k in _VALUE_FIELDS if k in rec]
        if len(present) > 1:
            raise _err(f"record {i}: has more than one value field "
                       f"({', '.join(present)})", present[1])
        if not present and "s" not in rec:
            raise _err(f"record {i}: has no value (v, vs, vb or vd) and no sum (s)", "v")
        if present:
            field = present[0]
            value = _add(bv, rec["v"]) if field == "v" else rec[field]
        else:
            value = None
        total = _add(bs, rec["s"]) if "s" in rec else None
        t = rec.get("t", 0)
        t = t if bt is None else bt + t
        relative = t < RELATIVE_LIMIT
        if relative and now is not None:
            t = now + t
            relative = False
        out.append(Record(name=name, unit=rec.get("u", bu), value=value, sum=total,
                          time=t, relative=relative, update_time=rec.get("ut"),
                          version=bver, index=i, local=local, base_name=bn))
    return out


def loads(data: bytes | bytearray | str, fmt: str = "json", *,
          now: float | None = None) -> list[Record]:
    """Parse and resolve a pack: ``resolve(parse(data, fmt), now)``."""
    return resolve(parse(data, fmt), now)


def dumps(records: Iterable[Mapping[str, Any]], fmt: str = "json") -> bytes:
    """Encode records given with JSON labels (``{"n": "temp", "v": 21.5}``) as a pack.

    ``vd`` values are bytes: base64url without padding in JSON, a byte string in
    CBOR.  Labels are not checked beyond being known (use :func:`parse` to validate).
    """
    recs = []
    for rec in records:
        unknown = [k for k in rec if k not in _LABEL_CBOR]
        if unknown:
            raise ValueError(f"unknown SenML label(s) {', '.join(map(repr, unknown))}")
        recs.append(dict(rec))
    if fmt == "json":
        for rec in recs:
            if "vd" in rec:
                rec["vd"] = base64.urlsafe_b64encode(bytes(rec["vd"])).rstrip(b"=").decode()
        return json.dumps(recs, separators=(",", ":"), allow_nan=False).encode()
    if fmt == "cbor":
        import cbor2

        return cbor2.dumps([{_LABEL_CBOR[k]: v for k, v in rec.items()} for rec in recs])
    raise ValueError(f"fmt must be 'json' or 'cbor', not {fmt!r}")
