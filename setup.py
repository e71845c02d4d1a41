"""Build the compiled modules (ext/*.pyx -> hromada._*).

Metadata lives in pyproject.toml.  This file only

* lists the packages (the import names differ from the folders: core/ -> hromada,
  plugins/ -> hromada_plugins, so setuptools' finder cannot do it), and
* declares the extensions: every ``ext/_NAME.pyx`` becomes ``hromada._NAME``, with any
  hand-written C in ``ext/_NAME/*.c`` compiled into the same module.

``HROMADA_NO_EXTENSIONS=1`` builds no extension (the pure-Python twins are used).
A failed compile degrades to the pure twins with a warning, unless
``HROMADA_REQUIRE_EXTENSIONS=1`` (set by CI and release builds), which makes it fatal.
"""

import glob
import os
import sys

from setuptools import find_packages, setup
from setuptools.command.build_ext import build_ext
from setuptools.extension import Extension


def _flag(name):
    return os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no")


NO_EXTENSIONS = _flag("HROMADA_NO_EXTENSIONS")
REQUIRE_EXTENSIONS = _flag("HROMADA_REQUIRE_EXTENSIONS")


def extensions():
    if NO_EXTENSIONS:
        return []
    exts = []
    for pyx in sorted(glob.glob("ext/_*.pyx")):
        name = os.path.basename(pyx)[: -len(".pyx")]
        c_sources = sorted(glob.glob(f"ext/{name}/*.c"))
        exts.append(
            Extension(
                f"hromada.{name}",
                [pyx, *c_sources],
                include_dirs=["ext", f"ext/{name}"],
                extra_compile_args=["-O3", "-g0", "-std=c11", "-Wno-unused-function"],
                # Set per extension so that setuptools keeps it: cythonize() would drop it.
                optional=not REQUIRE_EXTENSIONS,
            )
        )
    return exts


class BuildExt(build_ext):
    """Say clearly what a failed compile means for the user."""

    def build_extension(self, ext):
        try:
            super().build_extension(ext)
        except Exception as exc:
            if REQUIRE_EXTENSIONS:
                raise
            sys.stderr.write(
                f"WARNING: hromada: compiling {ext.name} failed ({exc}); "
                "the pure-Python twin will be used. "
                "Set HROMADA_REQUIRE_EXTENSIONS=1 to make this an error.\n"
            )


packages = ["hromada", *("hromada." + p for p in find_packages("core"))]
packages += ["hromada_plugins", *("hromada_plugins." + p for p in find_packages("plugins"))]

setup(
    packages=packages,
    package_data={"hromada_plugins": ["**/*.toml", "**/*.js", "**/*.json"],
                  "hromada": ["py.typed", "templates/**/*"]},
    ext_modules=extensions(),
    cmdclass={"build_ext": BuildExt},
)
