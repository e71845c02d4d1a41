"""Build the Example W1 decoder into the package as a plain shared library.

setuptools compiles it like an extension module (that is only how it gets a compiler
and the right flags); hromada never imports it, it loads it with cffi in ABI mode.
"""

import os
from pathlib import Path

from setuptools import Extension, setup

HERE = Path(__file__).resolve().parent
INCLUDE = os.environ.get("HROMADA_PLUGIN_INCLUDE", str(HERE.parent.parent / "ext" / "plugin_abi"))

setup(
    ext_modules=[
        Extension(
            "hromada_example_native._example_w1",
            ["src/example_w1.c"],
            include_dirs=[INCLUDE],
            extra_compile_args=["-std=c11", "-O2"],
        )
    ],
)
