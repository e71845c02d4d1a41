"""Choosing between compiled modules and their pure-Python twins.

Every compiled module ``hromada._NAME`` (built from ``ext/_NAME.pyx``) has a twin
``hromada._NAME_py`` with the same API.  ``HROMADA_NO_EXTENSIONS=1`` selects the twins
(read here at import time, and by setup.py at build time).  ``modules`` records which
implementation each loaded module uses; ``hromada info`` prints it.
"""

import importlib
import os
import warnings

#: Names of the modules that have a compiled implementation.
KNOWN = ("ring", "lpp", "layout", "wmbus", "lorawan")


def _flag(name):
    return os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no")


NO_EXTENSIONS = _flag("HROMADA_NO_EXTENSIONS")
REQUIRE_EXTENSIONS = _flag("HROMADA_REQUIRE_EXTENSIONS")

#: name -> "compiled" | "pure", for every module loaded through :func:`load`.
modules: dict[str, str] = {}


def load(name):
    """Return the implementation of ``name`` to use: compiled unless disabled or missing."""
    if not NO_EXTENSIONS:
        try:
            mod = importlib.import_module(f"hromada._{name}")
        except ImportError as exc:
            if REQUIRE_EXTENSIONS:
                raise ImportError(
                    f"hromada._{name} is not compiled and HROMADA_REQUIRE_EXTENSIONS is set"
                ) from exc
            warnings.warn(
                f"hromada._{name} is not compiled ({exc}); using the pure-Python twin",
                RuntimeWarning,
                stacklevel=2,
            )
        else:
            modules[name] = "compiled"
            return mod
    mod = importlib.import_module(f"hromada._{name}_py")
    modules[name] = "pure"
    return mod


def both(name):
    """(compiled module or None, pure module): for differential tests and benchmarks."""
    try:
        compiled = importlib.import_module(f"hromada._{name}")
    except ImportError:
        compiled = None
    return compiled, importlib.import_module(f"hromada._{name}_py")


def status():
    """name -> "compiled" | "pure" for every known module (loading each one)."""
    out = {}
    for name in KNOWN:
        try:
            load(name)
        except ImportError:
            modules[name] = "missing"
        out[name] = modules[name]
    return out


def is_compiled():
    """True when every known module runs compiled."""
    return all(v == "compiled" for v in status().values())
