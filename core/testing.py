"""Testing helpers for device models, and a pytest plugin that checks installed ones.

For a plugin's own tests (public API)::

    from hromada.testing import assert_readings, check_model

    def test_my_model():
        check_model(my_plugin.model())     # examples, round trips, random bytes

    def test_decode():
        assert_readings(decode(b"..."), [("temperature", 21.5, "Cel")])

As a pytest plugin it does nothing unless asked.  ``pytest --hromada-models`` adds one
test item per check of every installed device model (its id shows in the test id, e.g.
``hromada-models::dragino/ldds75::example[0]``):

* ``example[N]`` -- the model decodes example N to its expected readings (floats
  compared with a tolerance), and every reading is declared in ``model.quantities``
  with the same unit, a unit of :mod:`hromada.units`;
* ``roundtrip[N]`` -- when the model has an ``encode``: ``decode(encode(values))`` of
  example N's values gives those values back;
* ``simulate`` -- when it has ``simulate`` and ``encode``: the same for simulated values;
* ``fuzz`` -- random and mutated payloads (hypothesis) either decode to well-formed
  readings or raise :class:`~hromada.errors.DecodeError`, nothing else.

Options: ``--hromada-model PATTERN`` (repeatable, glob over ids), ``--hromada-plugin
MODULE`` (register a module as a plugin too), ``--hromada-no-entry-points`` (only those),
``--hromada-fuzz-examples N``.  ``python -m hromada.testing [PATTERN ...]`` runs only
these checks.  Run it twice, once with ``HROMADA_NO_EXTENSIONS=1``, to cover the
compiled and pure builds.

Importing this module has no side effects and imports neither pytest nor hypothesis.
"""

from __future__ import annotations

import fnmatch
import importlib
import math
import os
import sys
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import pluggy

from .descriptors import REQUIRED, DeviceModel, Example
from .errors import DecodeError, EncodeError
from .units import UNITS

__all__ = [
    "DEFAULT_FUZZ_EXAMPLES", "assert_readings", "check_declared", "check_example",
    "check_fuzz", "check_model", "check_models", "check_roundtrip", "check_simulated",
    "model_checks", "normalize_readings", "same_value",
]

#: hypothesis examples per model in ``check_fuzz`` (the machine has 2 cores).
DEFAULT_FUZZ_EXAMPLES = 100


class SkipCheck(Exception):
    """A check that does not apply (e.g. the encoder does not take an example)."""


# -- comparing readings ----------------------------------------------------------------


def normalize_readings(readings) -> list[tuple[str, Any, str]]:
    """``[(quantity, value, unit)]`` from tuples (a fourth element, the reading's own
    time, is dropped), dicts or :class:`hromada.Reading` s."""
    out = []
    for r in readings:
        if isinstance(r, Mapping):
            out.append((r["quantity"], r["value"], r.get("unit", "")))
        elif hasattr(r, "quantity") and hasattr(r, "value"):
            out.append((r.quantity, r.value, getattr(r, "unit", "")))
        elif len(r) == 4:  # (quantity, value, unit, time): the time is not compared
            q, v, u, _t = r
            out.append((q, v, u))
        else:
            q, v, u = r
            out.append((q, v, u))
    return out


def same_value(actual, expected, *, rel=1e-6, abs=1e-9) -> bool:
    """Equality for decoded values: numbers within a tolerance, NaN equal to NaN,
    booleans only equal to booleans (a flag must not come out as 1.0), others ``==``."""
    if isinstance(actual, bool) or isinstance(expected, bool):
        return type(actual) is type(expected) and actual == expected
    num = (int, float)
    if isinstance(actual, num) and isinstance(expected, num):
        if isinstance(actual, float) and isinstance(expected, float):
            if math.isnan(actual) and math.isnan(expected):
                return True
        return math.isclose(actual, expected, rel_tol=rel, abs_tol=abs)
    return type(actual) is type(expected) and actual == expected


def _show(q, v, u):
    return f"{q} = {v!r}" + (f" {u}" if u else "")


def assert_readings(actual, expected, *, rel=1e-6, abs=1e-9):
    """Assert that two sets of readings are the same, in any order.

    Readings are matched by quantity (repeated quantities pair up in order); values are
    compared with :func:`same_value`.  The AssertionError lists every difference:
    missing and unexpected readings, wrong values, wrong units.
    """
    actual = normalize_readings(actual)
    expected = normalize_readings(expected)
    remaining = list(actual)
    problems = []
    for q, v, u in expected:
        idx = next((i for i, r in enumerate(remaining) if r[0] == q), None)
        if idx is None:
            problems.append(f"missing {_show(q, v, u)}")
            continue
        _, av, au = remaining.pop(idx)
        if not same_value(av, v, rel=rel, abs=abs):
            problems.append(f"{q}: expected {v!r}, got {av!r}")
        if au != u:
            problems.append(f"{q}: expected unit {u!r}, got {au!r}")
    for q, v, u in remaining:
        problems.append(f"unexpected {_show(q, v, u)}")
    if problems:
        raise AssertionError("readings differ:\n  " + "\n  ".join(problems))


# -- checks of one model -----------------------------------------------------------------


def _default_options(model: DeviceModel) -> dict:
    return {o.name: o.default for o in model.options if o.default is not REQUIRED}


def _options(model, example=None):
    opts = _default_options(model)
    if example is not None:
        opts.update(example.options)
    return opts


def _well_formed(model, readings, where):
    """Readings must be a list of (str quantity, scalar value, known unit)."""
    if not isinstance(readings, list | tuple):
        raise AssertionError(f"{model.id}: decode {where} returned "
                             f"{type(readings).__name__}, not a list of readings")
    out = []
    for i, r in enumerate(readings):
        try:
            q, v, u = normalize_readings([r])[0]
        except (TypeError, ValueError, KeyError):
            raise AssertionError(f"{model.id}: decode {where}: reading {i} is {r!r}, not "
                                 "(quantity, value, unit)") from None
        if not isinstance(q, str) or not q:
            raise AssertionError(f"{model.id}: decode {where}: reading {i} has quantity "
                                 f"{q!r}, not a name")
        if not isinstance(v, bool | int | float | str) and v is not None:
            raise AssertionError(f"{model.id}: decode {where}: {q} has a "
                                 f"{type(v).__name__} value {v!r}; use a number, bool or str")
        if u not in UNITS:
            raise AssertionError(f"{model.id}: decode {where}: {q} has unit {u!r}, which "
                                 "is not in hromada.units.UNITS")
        out.append((q, v, u))
    return out


def _declared_unit(model, quantity):
    if quantity in model.quantities:
        return model.quantities[quantity]
    for pattern, unit in model.quantities.items():
        if fnmatch.fnmatchcase(quantity, pattern):
            return unit
    return None


def check_declared(model: DeviceModel, readings, where="") -> None:
    """Every reading's quantity is declared in ``model.quantities`` with its unit."""
    if not model.quantities:
        raise AssertionError(f"{model.id}: the model declares no quantities")
    problems = []
    for q, _v, u in normalize_readings(readings):
        declared = _declared_unit(model, q)
        if declared is None:
            problems.append(f"{q} is not declared in quantities")
        elif declared != u:
            problems.append(f"{q} comes in {u!r} but is declared in {declared!r}")
    if problems:
        raise AssertionError(f"{model.id}: {where}: " + "; ".join(problems))


def check_example(model: DeviceModel, example: Example, index: int | None = None) -> None:
    """Decode one example and compare with its expected readings; check declarations."""
    where = f"example {index}" if index is not None else "example"
    where += f" ({example.payload.hex()} on fPort {example.fport})"
    try:
        actual = model.decode(example.payload, example.fport, _options(model, example))
    except DecodeError as exc:
        raise AssertionError(f"{model.id}: {where} raised DecodeError: {exc}") from None
    actual = _well_formed(model, actual, where)
    try:
        assert_readings(actual, example.readings)
    except AssertionError as exc:
        raise AssertionError(f"{model.id}: {where}: {exc}") from None
    check_declared(model, example.readings, f"{where}, expected readings")
    check_declared(model, actual, f"{where}, decoded readings")


def _roundtrip(model, values, options, where):
    try:
        fport, payload = model.encode(values, options)
    except EncodeError as exc:
        raise SkipCheck(f"{model.id}: the encoder does not take {where}: {exc}") from None
    if not isinstance(payload, bytes | bytearray):
        raise AssertionError(f"{model.id}: encode({where}) returned {type(payload).__name__},"
                             " not (fport, bytes)")
    try:
        decoded = model.decode(bytes(payload), fport, options)
    except DecodeError as exc:
        raise AssertionError(f"{model.id}: decode(encode({where})) = decode("
                             f"{bytes(payload).hex()}, fPort {fport}) raised DecodeError: "
                             f"{exc}") from None
    decoded = _well_formed(model, decoded, f"of encode({where})")
    got = {}
    for q, v, _u in decoded:
        got.setdefault(q, v)
    problems = []
    for q, v in values.items():
        if q not in got:
            problems.append(f"{q} is missing")
        elif not same_value(got[q], v):
            problems.append(f"{q}: put {v!r}, got {got[q]!r}")
    if problems:
        shown = bytes(payload).hex() or "an empty payload"
        raise AssertionError(f"{model.id}: decode(encode({where})) via {shown} on fPort "
                             f"{fport}: " + "; ".join(problems))


def check_roundtrip(model: DeviceModel, example: Example, index: int | None = None) -> None:
    """``decode(encode(values))`` gives back the values of an example's readings.

    Raises SkipCheck when the model has no encoder or the encoder refuses these values
    with EncodeError (an encoder may cover only some frame types).
    """
    if model.encode is None:
        raise SkipCheck(f"{model.id} has no encoder")
    values = {}
    for q, v, _u in normalize_readings(example.readings):
        values.setdefault(q, v)
    where = f"example {index} values" if index is not None else "the example's values"
    _roundtrip(model, values, _options(model, example), where)


def check_simulated(model: DeviceModel, count: int = 20, seed: int = 1) -> None:
    """``decode(encode(simulate(...)))`` gives back the simulated values."""
    import random

    from .model import Device

    if model.simulate is None or model.encode is None:
        raise SkipCheck(f"{model.id} has no simulate and encode")
    rng = random.Random(seed)
    example = model.examples[0] if model.examples else None
    options = _options(model, example)
    device = Device(id="test-device", model=model.id, options=options)
    t0 = 1_700_000_000.0
    for i in range(count):
        values = dict(model.simulate(device, t0 + 900.0 * i, rng))
        _roundtrip(model, values, options, f"simulated values #{i}")


def _fuzz_payloads(model):
    from hypothesis import strategies as st

    seeds = sorted({e.payload for e in model.examples})
    random_bytes = st.binary(max_size=64)
    if not seeds:
        return random_bytes

    def mutations(seed):
        n = len(seed)
        return st.one_of(
            st.integers(0, n).map(lambda k: seed[:k]),
            st.tuples(st.integers(0, max(n - 1, 0)), st.integers(0, 255)).map(
                lambda t: seed[:t[0]] + bytes([t[1]]) + seed[t[0] + 1:]),
            st.binary(min_size=1, max_size=16).map(lambda extra: seed + extra),
            st.lists(st.integers(0, 255), min_size=n, max_size=n).map(bytes),
        )

    return st.one_of(random_bytes, st.sampled_from(seeds).flatmap(mutations))


def _origin(exc):
    import traceback

    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return ""
    f = frames[-1]
    return f" at {os.path.basename(f.filename)}:{f.lineno}"


def check_fuzz(model: DeviceModel, max_examples: int = DEFAULT_FUZZ_EXAMPLES, *,
               derandomize: bool = True) -> None:
    """Random and mutated payloads never raise anything but DecodeError.

    Payloads are random bytes and mutations of the examples (truncated, one byte
    changed, extended, same length), on the examples' fPorts and any other; what
    decodes must be well-formed readings with known units.  Deterministic by default
    (``derandomize``) so that a failure reproduces.
    """
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    ports = sorted({e.fport for e in model.examples}) or [1]
    options = [_options(model, e) for e in model.examples] or [_default_options(model)]

    @settings(max_examples=max_examples, deadline=None, database=None,
              derandomize=derandomize, print_blob=False,
              suppress_health_check=list(HealthCheck))
    @given(payload=_fuzz_payloads(model),
           fport=st.one_of(st.sampled_from(ports), st.integers(0, 255)),
           opts=st.sampled_from(options))
    def fuzz(payload, fport, opts):
        where = f"of {payload.hex() or 'empty payload'} on fPort {fport}"
        try:
            readings = model.decode(payload, fport, opts)
        except DecodeError:
            return
        except Exception as exc:  # noqa: BLE001 - that is what this check looks for
            raise AssertionError(f"{model.id}: decode {where} raised {type(exc).__name__}: "
                                 f"{exc}{_origin(exc)} (only DecodeError may be raised)"
                                 ) from exc
        _well_formed(model, readings, where)

    fuzz()


def model_checks(model: DeviceModel, *, fuzz_examples: int = DEFAULT_FUZZ_EXAMPLES
                 ) -> list[tuple[str, Callable[[], None]]]:
    """The checks of one model as ``[(name, check)]``: ``example[N]`` for each example,
    ``roundtrip[N]`` when it has an encoder, ``simulate`` when it has ``simulate`` and
    an encoder, ``fuzz``; plus ``examples`` (a failing one) when it has fewer than 3."""
    checks = []
    if len(model.examples) < 3:
        def too_few():
            raise AssertionError(f"{model.id}: has {len(model.examples)} example(s); a "
                                 "model ships at least 3 (payload, fPort, expected readings)")
        checks.append(("examples", too_few))
    for i, ex in enumerate(model.examples):
        checks.append((f"example[{i}]", lambda ex=ex, i=i: check_example(model, ex, i)))
    if model.encode is not None:
        for i, ex in enumerate(model.examples):
            checks.append((f"roundtrip[{i}]", lambda ex=ex, i=i: check_roundtrip(model, ex, i)))
        if model.simulate is not None:
            checks.append(("simulate", lambda: check_simulated(model)))
    checks.append(("fuzz", lambda: check_fuzz(model, fuzz_examples)))
    return checks


def check_model(model: DeviceModel, *, fuzz: bool = True,
                fuzz_examples: int = DEFAULT_FUZZ_EXAMPLES) -> list[str]:
    """Run every check of ``model``; raise one AssertionError listing all failures.

    Returns the names of the checks that were skipped because they do not apply (for
    instance a round trip the encoder refuses).
    """
    failures, skipped = [], []
    for name, check in model_checks(model, fuzz_examples=fuzz_examples):
        if name == "fuzz" and not fuzz:
            continue
        try:
            check()
        except SkipCheck as exc:
            skipped.append(f"{name}: {exc}")
        except AssertionError as exc:
            failures.append(f"[{name}] {exc}")
    if failures:
        raise AssertionError(f"{model.id}: {len(failures)} check(s) failed:\n"
                             + "\n".join(failures))
    return skipped


def check_models(models: Iterable[DeviceModel] | Mapping[str, DeviceModel] | None = None, *,
                 fuzz: bool = True, fuzz_examples: int = DEFAULT_FUZZ_EXAMPLES) -> int:
    """Check many models (default: every installed one); one AssertionError for all.

    Returns how many models were checked.
    """
    if models is None:
        from .plugins import get_host

        models = get_host().device_models
    if isinstance(models, Mapping):
        models = models.values()
    failures, n = [], 0
    for model in models:
        n += 1
        try:
            check_model(model, fuzz=fuzz, fuzz_examples=fuzz_examples)
        except AssertionError as exc:
            failures.append(str(exc))
    if failures:
        raise AssertionError("\n\n".join(failures))
    return n


# -- the pytest plugin ---------------------------------------------------------------------
#
# Hooks are plain functions with pytest's names; pytest (imported lazily, inside them)
# is only needed when this module is used as a plugin.


def pytest_addoption(parser):
    group = parser.getgroup("hromada", "hromada device models")
    group.addoption("--hromada-models", action="store_true", default=False,
                    help="check every installed hromada device model (examples, round "
                         "trips, random bytes), one test item per check")
    group.addoption("--hromada-model", action="append", default=[], metavar="PATTERN",
                    help="only models whose id matches this glob (repeatable)")
    group.addoption("--hromada-plugin", action="append", default=[], metavar="MODULE",
                    help="also register MODULE as a hromada plugin (repeatable)")
    group.addoption("--hromada-no-entry-points", action="store_true", default=False,
                    help="do not load plugins from the 'hromada' entry points")
    group.addoption("--hromada-fuzz-examples", type=int, default=DEFAULT_FUZZ_EXAMPLES,
                    metavar="N", help=f"random payloads per model (default "
                                      f"{DEFAULT_FUZZ_EXAMPLES})")


def _enabled(config):
    return config.getoption("--hromada-models", default=False)


def pytest_report_header(config):
    if not _enabled(config):
        return None
    from . import compiled

    build = ("pure-Python twins (HROMADA_NO_EXTENSIONS)" if compiled.NO_EXTENSIONS
             else "compiled extensions where built")
    return f"hromada device models: {build}"


def _host(config):
    """The plugin host the options ask for, and [(plugin, message)] of modules given
    with --hromada-plugin that failed to import."""
    from .plugins import PluginHost

    plugins, failed = [], []
    for name in config.getoption("--hromada-plugin") or ():
        try:
            plugins.append((name, importlib.import_module(name)))
        except Exception as exc:  # noqa: BLE001 - reported as a failing check
            failed.append((name, f"failed to import {name}: {type(exc).__name__}: {exc}"))
    host = PluginHost(entry_points=not config.getoption("--hromada-no-entry-points"),
                      plugins=plugins)
    return host, failed


def _item_classes():
    import pytest

    class CheckItem(pytest.Item):
        """One check of one model (or one plugin's load error)."""

        def __init__(self, *, check, label, **kwargs):
            super().__init__(**kwargs)
            self.check = check
            self.label = label

        def runtest(self):
            try:
                self.check()
            except SkipCheck as exc:
                pytest.skip(str(exc))

        def repr_failure(self, excinfo, style=None):
            if isinstance(excinfo.value, AssertionError):
                return str(excinfo.value)
            return super().repr_failure(excinfo, style=style)

        def reportinfo(self):
            return self.path, None, self.label

    class ModelCollector(pytest.Collector):
        """The checks of one device model."""

        def __init__(self, *, model, fuzz_examples, **kwargs):
            super().__init__(**kwargs)
            self.model = model
            self.fuzz_examples = fuzz_examples

        def collect(self):
            for name, check in model_checks(self.model, fuzz_examples=self.fuzz_examples):
                yield CheckItem.from_parent(self, name=name, check=check,
                                            label=f"hromada model {self.model.id} {name}")

    return CheckItem, ModelCollector


def _make_items(session, config):
    CheckItem, ModelCollector = _item_classes()
    host, failed = _host(config)
    patterns = config.getoption("--hromada-model") or ["*"]
    fuzz_examples = config.getoption("--hromada-fuzz-examples")
    here = os.path.abspath(__file__)
    items = []
    for plugin, message in [*failed, *host.errors]:
        def failed(message=message, plugin=plugin):
            raise AssertionError(f"hromada plugin {plugin!r}: {message}")

        item = CheckItem.from_parent(
            session, name=f"hromada-plugins::{plugin}", nodeid=f"hromada-plugins::{plugin}",
            path=Path(here), check=failed, label=f"hromada plugin {plugin}")
        items.extend(session.genitems(item))
    for model_id in sorted(host.device_models):
        if not any(fnmatch.fnmatchcase(model_id, p) for p in patterns):
            continue
        collector = ModelCollector.from_parent(
            session, name=model_id, nodeid=f"hromada-models::{model_id}", path=Path(here),
            model=host.device_models[model_id], fuzz_examples=fuzz_examples)
        items.extend(session.genitems(collector))
    return items


# pytest.hookimpl is this very marker; taking it from pluggy keeps pytest unimported.
_pytest_hookimpl = pluggy.HookimplMarker("pytest")


@_pytest_hookimpl(tryfirst=True)
def pytest_collection_modifyitems(session, config, items):
    # tryfirst: the checks are added before pytest's own -k/-m deselection runs, so
    # those options select among them too.
    if _enabled(config):
        items.extend(_make_items(session, config))


def plugin_args() -> list[str]:
    """Arguments that load this plugin in a pytest run: none when pytest already
    auto-loads it from the ``pytest11`` entry point, else ``-p hromada.testing``."""
    from importlib import metadata

    autoload = os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "") in ("", "0")
    if autoload:
        for ep in metadata.entry_points(group="pytest11"):
            if ep.value == __name__:
                return []
    return ["-p", __name__]


def main(argv=None) -> int:
    """``python -m hromada.testing [PATTERN ...] [-- PYTEST ARGS]``: run only the model
    checks (of the models matching the patterns, default all)."""
    import tempfile

    import pytest

    argv = list(sys.argv[1:] if argv is None else argv)
    extra = []
    if "--" in argv:
        cut = argv.index("--")
        argv, extra = argv[:cut], argv[cut + 1:]
    args = ["--hromada-models", "-p", "no:cacheprovider", "-c", os.devnull,
            "--rootdir", os.getcwd()]
    for pattern in argv:
        args += ["--hromada-model", pattern]
    # Under ``python -m`` this file runs as __main__; pytest must get the real module.
    plugin = importlib.import_module("hromada.testing")
    plugins = [plugin] if plugin.plugin_args() else []
    with tempfile.TemporaryDirectory(prefix="hromada-models-") as empty:
        # An empty directory as the only path: no test file is collected, only the checks.
        return int(pytest.main([*args, *extra, empty], plugins=plugins))


if __name__ == "__main__":
    sys.exit(main())
