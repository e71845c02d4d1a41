"""The build backends asked for can read the pyproject.toml fields used."""

import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("path", ["pyproject.toml", "examples/native_plugin/pyproject.toml"])
def test_setuptools_lower_bound_reads_the_license_field(path):
    data = tomllib.loads((ROOT / path).read_text())
    [req] = [r for r in data["build-system"]["requires"] if r.startswith("setuptools")]
    m = re.fullmatch(r"setuptools>=(\d+)(?:\.\d+)*", req.replace(" ", ""))
    assert m, f"{path}: setuptools requirement {req!r} has no lower bound"
    # A PEP 639 licence expression (license = "Apache-2.0") needs setuptools 77: older
    # ones refuse it ("project.license must be valid exactly by one definition").
    assert isinstance(data["project"]["license"], str)
    assert int(m.group(1)) >= 77, f"{path}: {req} cannot read license = \"...\""
