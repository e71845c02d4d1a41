"""Validation of component options against their declared schema (descriptors.Option).

Used for every ``[sources.X]``, ``[services.X]``, ``[sinks.X]`` table and for device
model options.  Each problem names the key path and what is allowed.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

from .descriptors import OPTION_TYPES, Option

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|sec|min|m|h|d|w)?\s*$")
_UNIT_SECONDS = {None: 1, "ms": 0.001, "s": 1, "sec": 1, "min": 60, "m": 60, "h": 3600,
                 "d": 86400, "w": 604800}


def parse_duration(value):
    """Seconds from a number or a string like "90", "15min", "1.5h", "2d"."""
    if isinstance(value, bool):
        raise ValueError("a duration is a number of seconds or a string like '15min', '1h', '2d'")
    if isinstance(value, int | float):
        # TOML has -1, nan and inf: none of them is a length of time.
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"{value!r} is not a duration: it must be a finite number of "
                             "seconds >= 0, or a string like '15min', '1h', '2d'")
        return float(value)
    m = _DURATION.match(str(value))
    if not m:
        raise ValueError(
            f"{value!r} is not a duration: use seconds or a string like '15min', '1h', '2d'")
    return float(m.group(1)) * _UNIT_SECONDS[m.group(2)]


_TYPE_WORDS = {
    "str": "a string", "int": "an integer", "float": "a number", "bool": "true or false",
    "path": "a file path (string)", "list": "a list", "table": "a table",
    "duration": "a duration (seconds, or '15min', '1h', '2d')", "any": "any value",
}
assert set(_TYPE_WORDS) == set(OPTION_TYPES)


def _convert(opt: Option, value, base_dir: Path | None):
    t = opt.type
    if t == "str":
        if not isinstance(value, str):
            raise ValueError
        return value
    if t == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError
        return value
    if t == "float":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError
        return float(value)
    if t == "bool":
        if not isinstance(value, bool):
            raise ValueError
        return value
    if t == "path":
        if not isinstance(value, str):
            raise ValueError
        p = Path(value).expanduser()
        if not p.is_absolute() and base_dir is not None:
            p = base_dir / p
        return p
    if t == "list":
        if not isinstance(value, list):
            raise ValueError
        return value
    if t == "table":
        if not isinstance(value, dict):
            raise ValueError
        return value
    if t == "duration":
        return parse_duration(value)
    return value


def validate_options(schema, table, where, *, base_dir=None, skip=("plugin",)):
    """Check ``table`` against ``schema`` (a sequence of Option).

    Returns (options with defaults filled in, list of (key path, message)).
    """
    by_name = {o.name: o for o in schema}
    out = {}
    problems = []
    for key, value in table.items():
        if key in skip:
            continue
        opt = by_name.get(key)
        path = f"{where}.{key}"
        if opt is None:
            allowed = ", ".join(sorted(by_name)) or "none"
            problems.append((path, f"unknown option {key!r}; allowed options: {allowed}"))
            continue
        try:
            conv = _convert(opt, value, base_dir)
        except ValueError as exc:
            detail = str(exc) or f"must be {_TYPE_WORDS[opt.type]}, not {type(value).__name__} {_shown(opt, value)}"
            problems.append((path, detail))
            continue
        if opt.choices is not None and conv not in opt.choices:
            allowed = ", ".join(repr(c) for c in opt.choices)
            problems.append((path, f"{_shown(opt, value)} is not allowed; choose one of {allowed}"))
            continue
        if opt.min is not None and isinstance(conv, int | float) and conv < opt.min:
            problems.append((path, f"{_shown(opt, value)} is below the minimum {opt.min:g}"))
            continue
        if opt.max is not None and isinstance(conv, int | float) and conv > opt.max:
            problems.append((path, f"{_shown(opt, value)} is above the maximum {opt.max:g}"))
            continue
        if opt.check is not None and conv is not None:
            try:
                opt.check(conv)
            except (TypeError, ValueError) as exc:
                problems.append((path, str(exc) or f"{_shown(opt, value)} is not valid"))
                continue
        out[key] = conv
    for opt in schema:
        if opt.name in out or any(p[0] == f"{where}.{opt.name}" for p in problems):
            continue
        if opt.required:
            help_ = f" ({opt.help})" if opt.help else ""
            problems.append((f"{where}.{opt.name}", f"missing required option{help_}"))
        else:
            default = opt.default
            if opt.type == "path" and isinstance(default, str) and base_dir is not None:
                default = _convert(opt, default, base_dir)
            elif opt.type == "duration" and default is not None:
                default = parse_duration(default)
            out[opt.name] = default
    return out, problems


def _shown(opt, value):
    return "(secret)" if opt.secret else repr(value)
