"""The plugin host: discovery, registration and isolation of plugins (pluggy).

Plugins come from the ``hromada`` entry-point group, first-party ones included.  pluggy
neither guards imports nor isolates a failing hook implementation, so the host does
both: a plugin that fails to import is recorded with its error and the others load; a
registration hook that raises is recorded against its plugin and the others' results
are kept.

Operator switches (like pytest's ``-p no:NAME`` and ``PYTEST_DISABLE_PLUGIN_AUTOLOAD``):

* ``HROMADA_DISABLE_PLUGINS=a,b`` or ``[plugins] deny = [...]`` in city.toml: never load;
* ``HROMADA_DISABLE_PLUGIN_AUTOLOAD=1`` or ``[plugins] autoload = false``: load only the
  essential plugins and those named in ``HROMADA_PLUGINS=a,b`` / ``[plugins] load``;
* ``HROMADA_TRACE_PLUGINS=1``: print every hook call and its duration to stderr.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import time
import traceback
from importlib import metadata
from pathlib import Path

import attrs
import pluggy

from . import hookspecs

GROUP = "hromada"

#: Plugins that cannot be disabled: without them no city runs.
ESSENTIAL = ("sqlite", "simulator")

_REGISTRIES = {
    "device_models": ("hromada_device_models", "id"),
    "sources": ("hromada_sources", "name"),
    "services": ("hromada_services", "name"),
    "sinks": ("hromada_sinks", "name"),
    "commands": ("hromada_commands", "name"),
}


def _env_list(name):
    return [p.strip() for p in os.environ.get(name, "").split(",") if p.strip()]


def _env_flag(name):
    return os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no")


@attrs.define
class PluginInfo:
    """What ``hromada plugins`` shows about one plugin."""

    name: str
    module: str
    version: str | None = None
    distribution: str | None = None
    status: str = "loaded"  # loaded | failed | disabled
    error: str | None = None
    provides: dict = attrs.field(factory=dict)

    def to_dict(self):
        return attrs.asdict(self)


class PluginHost:
    """Loads plugins and collects their descriptors.

    ``host.device_models``, ``host.sources``, ``host.services``, ``host.sinks`` and
    ``host.commands`` map names to descriptors; ``host.plugins`` maps plugin names to
    :class:`PluginInfo`; ``host.errors`` lists (plugin, message) for every failure.
    """

    def __init__(self, *, deny=(), load=(), autoload=None, entry_points=True, plugins=(),
                 files=()):
        self.pm = pluggy.PluginManager(GROUP)
        self.pm.add_hookspecs(hookspecs)
        self.plugins: dict[str, PluginInfo] = {}
        self.errors: list[tuple[str, str]] = []
        self._owner: dict[tuple[str, str], str] = {}
        deny = set(deny) | set(_env_list("HROMADA_DISABLE_PLUGINS"))
        load = set(load) | set(_env_list("HROMADA_PLUGINS"))
        if autoload is None:
            autoload = not _env_flag("HROMADA_DISABLE_PLUGIN_AUTOLOAD")
        self.trace = _env_flag("HROMADA_TRACE_PLUGINS")
        if entry_points:
            self._load_entry_points(deny, load, autoload)
        for name, obj in plugins:
            self.register(obj, name)
        for path in files:
            self._load_file(path)
        self._collect()

    # -- loading -------------------------------------------------------------------

    def _load_entry_points(self, deny, load, autoload):
        seen = set()
        for ep in metadata.entry_points(group=GROUP):
            if ep.name in seen:
                continue
            seen.add(ep.name)
            dist = getattr(ep, "dist", None)
            info = PluginInfo(
                name=ep.name,
                module=ep.value,
                version=dist.version if dist else None,
                distribution=dist.metadata["Name"] if dist else None,
            )
            self.plugins[ep.name] = info
            essential = ep.name in ESSENTIAL
            if not essential and (ep.name in deny or (not autoload and ep.name not in load)):
                info.status = "disabled"
                continue
            try:
                obj = ep.load()
            except Exception as exc:  # noqa: BLE001 - any import failure is the plugin's
                self._fail(info, f"failed to import {ep.value}: {type(exc).__name__}: {exc}")
                continue
            try:
                self.pm.register(obj, name=ep.name)
            except Exception as exc:  # noqa: BLE001 - e.g. a hookimpl with a wrong signature
                self._fail(info, f"failed to register: {type(exc).__name__}: {exc}")

    def _load_file(self, path):
        """Load a plugin from a Python file (``[plugins] modules`` in city.toml)."""
        path = Path(path)
        name = path.stem
        info = PluginInfo(name=name, module=str(path))
        self.plugins[name] = info
        try:
            spec = importlib.util.spec_from_file_location(f"hromada_local_{name}", path)
            if spec is None:
                raise ImportError(f"not a Python file: {path}")
            mod = importlib.util.module_from_spec(spec)
            sys.modules[spec.name] = mod
            spec.loader.exec_module(mod)
            self.pm.register(mod, name=name)
        except Exception as exc:  # noqa: BLE001 - a broken local plugin is reported
            self._fail(info, f"failed to load {path}: {type(exc).__name__}: {exc}")

    def register(self, obj, name):
        """Register a plugin object directly (tests, embedding applications)."""
        self.plugins[name] = PluginInfo(name=name, module=getattr(obj, "__name__", repr(obj)))
        self.pm.register(obj, name=name)

    def _fail(self, info, message):
        info.status = "failed"
        info.error = message
        self.errors.append((info.name, message))

    # -- calling -------------------------------------------------------------------

    def call_each(self, hook_name, **kwargs):
        """Call every implementation of a hook, isolating failures.

        Returns [(plugin name, result)] for the implementations that returned normally;
        a raising one is recorded in ``errors`` (plugin, message) and skipped.
        """
        out = []
        hook = getattr(self.pm.hook, hook_name)
        for impl in reversed(hook.get_hookimpls()):
            args = {k: kwargs[k] for k in impl.argnames}
            if self.trace:
                print(f"[hromada trace] {hook_name} -> {impl.plugin_name}", file=sys.stderr)
                t0 = time.perf_counter()
            try:
                result = impl.function(**args)
            except Exception as exc:  # noqa: BLE001 - isolation is the point
                msg = f"{hook_name} raised {type(exc).__name__}: {exc}"
                self.errors.append((impl.plugin_name, msg))
                info = self.plugins.get(impl.plugin_name)
                if info is not None:
                    info.error = msg
                    info.status = "failed"
                continue
            if self.trace:
                ms = (time.perf_counter() - t0) * 1000
                print(f"[hromada trace] {hook_name} <- {impl.plugin_name} in {ms:.2f} ms",
                      file=sys.stderr)
            out.append((impl.plugin_name, result))
        return out

    def _collect(self):
        for attr, (hook_name, key) in _REGISTRIES.items():
            table = {}
            for plugin, result in self.call_each(hook_name):
                try:
                    result = list(result or ())
                except Exception:  # noqa: BLE001 - e.g. one descriptor returned bare
                    self.errors.append(
                        (plugin, f"{hook_name} returned {type(result).__name__}, "
                                 "not a list of descriptors"))
                    continue
                for desc in result:
                    name = getattr(desc, key, None)
                    if name is None:
                        self.errors.append(
                            (plugin, f"{hook_name} returned {desc!r}, not a descriptor"))
                        continue
                    if name in table:
                        self.errors.append(
                            (plugin, f"{attr[:-1].replace('_', ' ')} {name!r} is already "
                                     f"provided by plugin {self._owner[(attr, name)]!r}"))
                        continue
                    table[name] = desc
                    self._owner[(attr, name)] = plugin
                    info = self.plugins.get(plugin)
                    if info is not None:
                        info.provides.setdefault(attr, []).append(name)
            setattr(self, attr, table)

    def owner(self, kind, name):
        """The plugin that provides descriptor ``name`` of ``kind`` ("sinks", ...)."""
        return self._owner.get((kind, name))

    def report(self):
        """A list of dicts, one per plugin, for ``hromada plugins --json``."""
        return [p.to_dict() for p in sorted(self.plugins.values(), key=lambda p: p.name)]


_default: PluginHost | None = None


def get_host(**kwargs) -> PluginHost:
    """The process-wide host with default settings (loaded once)."""
    global _default
    if kwargs:
        return PluginHost(**kwargs)
    if _default is None:
        _default = PluginHost()
    return _default


def format_error(exc):
    """One line for an exception raised by plugin code: type, message, where."""
    tb = traceback.extract_tb(exc.__traceback__)
    where = f" ({tb[-1].filename}:{tb[-1].lineno})" if tb else ""
    return f"{type(exc).__name__}: {exc}{where}"
