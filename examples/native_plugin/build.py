"""Compile the Example W1 decoder into a shared library with the system C compiler.

    python build.py [OUT_DIR]      # prints the path of the library it built

This is what a vendor's build does without setuptools; ``pip install .`` (setup.py)
builds the same library into the package instead.  Tests import ``build_library``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "src" / "example_w1.c"
# The ABI header lives in hromada's source tree; a vendor copies it into its own repo.
INCLUDE = Path(os.environ.get("HROMADA_PLUGIN_INCLUDE", HERE.parent.parent / "ext" / "plugin_abi"))
LIBRARY_NAME = "libexample_w1.so" if sys.platform != "darwin" else "libexample_w1.dylib"


def compiler():
    """The C compiler to use (``CC`` or cc/gcc/clang on PATH), or None."""
    cc = os.environ.get("CC")
    if cc:
        return cc
    for name in ("cc", "gcc", "clang"):
        if shutil.which(name):
            return name
    return None


def build_library(out_dir) -> Path:
    """Compile src/example_w1.c into OUT_DIR/libexample_w1.so and return its path."""
    cc = compiler()
    if cc is None:
        raise RuntimeError("no C compiler found (set CC, or install cc/gcc/clang)")
    out = Path(out_dir) / LIBRARY_NAME
    out.parent.mkdir(parents=True, exist_ok=True)
    cmd = [cc, "-std=c11", "-O2", "-Wall", "-Wextra", "-Werror", "-shared", "-fPIC",
           f"-I{INCLUDE}", "-o", str(out), str(SOURCE)]
    subprocess.run(cmd, check=True, capture_output=True, text=True)
    return out


if __name__ == "__main__":
    print(build_library(sys.argv[1] if len(sys.argv) > 1 else HERE / "build"))
