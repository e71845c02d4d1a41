"""hromada new-plugin: the generated package installs and its tests pass."""

import argparse
import os
import subprocess
import sys
import tomllib

import pytest

from hromada import scaffold


def parse(*argv):
    parser = argparse.ArgumentParser()
    scaffold.configure(parser)
    return parser.parse_args(argv)


def test_names():
    assert scaffold.names("acme-meters") == {
        "name": "acme-meters", "dist": "hromada-acme-meters", "package": "hromada_acme_meters",
        "vendor": "acme", "model": "sensor", "model_id": "acme/sensor", "model_slug": "sensor",
        "hromada_version": "0.1"}
    n = scaffold.names("hromada-Acme", vendor="acme.io", model="th-1+")
    assert (n["dist"], n["model_id"], n["model_slug"]) == ("hromada-acme", "acme.io/th-1+",
                                                           "th_1_")


@pytest.mark.parametrize("kwargs, message", [
    ({"name": "1acme"}, "plugin name '1acme' must be lowercase letters and digits in words "
                        "joined by '-', starting with a letter (e.g. 'acme-meters')"),
    ({"name": "acme_meters"}, "plugin name 'acme_meters' must be"),
    ({"name": "acme--x"}, "plugin name 'acme--x' must be"),
    ({"name": "acme", "vendor": "Ac Me"}, "vendor 'ac me' must be lowercase"),
    ({"name": "acme", "model": "th/1"}, "model 'th/1' must be lowercase"),
])
def test_invalid_names(kwargs, message):
    with pytest.raises(ValueError) as info:
        scaffold.names(**kwargs)
    assert str(info.value).startswith(message)


def test_scaffold_writes_the_package(tmp_path):
    root = scaffold.scaffold("acme-meters", tmp_path, model="th-1")
    assert root == tmp_path / "hromada-acme-meters"
    files = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
    assert files == [".gitignore", "README.md", "hromada_acme_meters/__init__.py",
                     "hromada_acme_meters/codec.py", "pyproject.toml", "tests/test_th_1.py"]
    meta = tomllib.loads((root / "pyproject.toml").read_text())
    assert meta["project"]["name"] == "hromada-acme-meters"
    assert meta["project"]["dependencies"] == ["hromada>=0.1"]
    assert meta["project"]["entry-points"]["hromada"] == {"acme-meters": "hromada_acme_meters"}
    for path in root.rglob("*"):
        if path.is_file():
            assert "{{" not in path.read_text(), path
    assert 'id="acme/th-1"' in (root / "hromada_acme_meters" / "__init__.py").read_text()


def test_scaffold_refuses_a_non_empty_folder(tmp_path):
    scaffold.scaffold("acme", tmp_path)
    with pytest.raises(FileExistsError) as info:
        scaffold.scaffold("acme", tmp_path)
    assert str(info.value) == (f"{tmp_path / 'hromada-acme'} already exists and is not empty "
                               "(use --force to overwrite the generated files)")
    assert scaffold.scaffold("acme", tmp_path, force=True) == tmp_path / "hromada-acme"


def test_cli_run(tmp_path, capsys):
    assert scaffold.run(parse("acme", "--dir", str(tmp_path), "--vendor", "acme",
                              "--model", "bin-1")) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"created hromada-acme in {tmp_path / 'hromada-acme'} (device model "
                          "acme/bin-1)\nnext:\n")
    assert "pip install -e '.[test]'" in out
    assert scaffold.run(parse("Bad Name", "--dir", str(tmp_path))) == 2
    assert capsys.readouterr().err == (
        "hromada new-plugin: plugin name 'bad name' must be lowercase letters and digits in "
        "words joined by '-', starting with a letter (e.g. 'acme-meters')\n")


def _pytest(project, env):
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider",
                           str(project / "tests")],
                          capture_output=True, text=True, cwd=project, env=env, timeout=180)


def test_generated_tests_pass_before_install(tmp_path):
    root = scaffold.scaffold("acme-meters", tmp_path, vendor="acme", model="th-1")
    env = dict(os.environ, PYTHONPATH=str(root))
    proc = _pytest(root, env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "6 passed, 1 skipped" in proc.stdout
    assert "hromada-acme-meters is not installed: pip install -e ." in proc.stdout


@pytest.mark.slow
def test_generated_package_installs_and_its_tests_pass(tmp_path):
    # pip install for real, into a target folder on PYTHONPATH: the shared venv (and
    # other test runs using it) never sees the plugin.
    root = scaffold.scaffold("acme-meters", tmp_path / "src", model="th-1")
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--no-build-isolation", "--target", str(site), str(root)],
                   check=True, capture_output=True, text=True, timeout=240)
    assert (site / "hromada_acme_meters" / "codec.py").exists()
    # The tests run from an unrelated folder, so that they import the installed copy.
    elsewhere = tmp_path / "run"
    elsewhere.mkdir()
    (elsewhere / "tests").symlink_to(root / "tests")
    env = dict(os.environ, PYTHONPATH=str(site))
    proc = _pytest(elsewhere, env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "7 passed" in proc.stdout
    code = ("import hromada_acme_meters as m, hromada.plugins as p; print(m.__file__); "
            "print(sorted(p.PluginHost().device_models))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=elsewhere, env=env, check=True).stdout.splitlines()
    assert out[0].startswith(str(site))
    assert "acme/th-1" in out[1]
