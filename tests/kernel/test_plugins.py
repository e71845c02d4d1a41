"""The plugin host: discovery, isolation, switches, and the hook catalogue's honesty."""

import ast
import inspect
import re
import textwrap
import tomllib
from pathlib import Path

import pytest

import hromada
from hromada import hookspecs
from hromada.plugins import PluginHost

ROOT = Path(__file__).resolve().parents[2]
HOOKS = sorted(n for n in dir(hookspecs) if n.startswith("hromada_"))


@pytest.fixture
def fake_plugins(tmp_path, monkeypatch):
    """Install plugin modules as a fake distribution with `hromada` entry points."""

    def install(modules, dist="hromada-fake"):
        eps = []
        for name, source in modules.items():
            (tmp_path / f"fake_{name}.py").write_text(textwrap.dedent(source))
            eps.append(f"{name} = fake_{name}")
        info = tmp_path / f"{dist.replace('-', '_')}-1.2.3.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.2.3\n")
        (info / "entry_points.txt").write_text("[hromada]\n" + "\n".join(eps) + "\n")
        monkeypatch.syspath_prepend(str(tmp_path))

    return install


GOOD = """
import hromada
from hromada import DeviceModel

def _decode(payload, fport, options):
    return [("count", payload[0], "count")]

@hromada.hookimpl
def hromada_device_models():
    return [DeviceModel(id="fake/counter", family="pulse_counter", decode=_decode)]
"""


def test_hookimpl_is_exported_from_the_top_package():
    assert hromada.hookimpl.project_name == "hromada"


def test_first_party_plugins_load_through_entry_points():
    host = PluginHost()
    assert host.errors == []
    for name in ("cayenne", "simulator", "sqlite"):
        assert host.plugins[name].status == "loaded", name
        assert host.plugins[name].distribution == "hromada"
    assert "cayenne/lpp" in host.device_models
    assert "simulator" in host.sources and "sqlite" in host.sinks
    assert host.owner("sinks", "sqlite") == "sqlite"


def test_every_first_party_plugin_has_its_entry_point():
    """Every plugin module under plugins/ (a module with a hookimpl) is declared."""
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "entry-points"]["hromada"]
    targets = set(declared.values())
    found = set()
    for path in (ROOT / "plugins").rglob("*.py"):
        if "@hromada.hookimpl" in path.read_text():
            mod = ".".join(("hromada_plugins", *path.relative_to(ROOT / "plugins").with_suffix("").parts))
            found.add(mod.removesuffix(".__init__"))
    assert found, "no plugin modules found"
    missing = sorted(found - targets)
    assert missing == [], f"plugin modules without an entry point in pyproject.toml: {missing}"


def test_a_plugin_that_fails_to_import_is_reported_and_the_rest_load(fake_plugins):
    fake_plugins({"broken": "import nonexistent_module_xyz\n", "good": GOOD})
    host = PluginHost()
    assert host.plugins["broken"].status == "failed"
    assert host.errors == [("broken", "failed to import fake_broken: ModuleNotFoundError: "
                                      "No module named 'nonexistent_module_xyz'")]
    assert host.plugins["good"].status == "loaded"
    assert host.plugins["good"].version == "1.2.3"
    assert host.plugins["good"].provides == {"device_models": ["fake/counter"]}
    assert "fake/counter" in host.device_models and "cayenne/lpp" in host.device_models


def test_a_registration_hook_that_raises_is_isolated(fake_plugins):
    fake_plugins({"raiser": """
        import hromada
        @hromada.hookimpl
        def hromada_sinks():
            raise RuntimeError("database driver missing")
        """, "good": GOOD})
    host = PluginHost()
    assert ("raiser", "hromada_sinks raised RuntimeError: database driver missing") in host.errors
    assert "sqlite" in host.sinks and "fake/counter" in host.device_models


def test_duplicate_descriptor_names_are_reported(fake_plugins):
    fake_plugins({"dup": GOOD, "dup2": GOOD})
    host = PluginHost()
    assert ("dup2", "device model 'fake/counter' is already provided by plugin 'dup'") \
        in host.errors or \
        ("dup", "device model 'fake/counter' is already provided by plugin 'dup2'") in host.errors


def test_deny_list_env_and_argument(fake_plugins, monkeypatch):
    fake_plugins({"good": GOOD})
    monkeypatch.setenv("HROMADA_DISABLE_PLUGINS", "good")
    host = PluginHost()
    assert host.plugins["good"].status == "disabled"
    assert "fake/counter" not in host.device_models
    monkeypatch.delenv("HROMADA_DISABLE_PLUGINS")
    host = PluginHost(deny=["cayenne"])
    assert host.plugins["cayenne"].status == "disabled"
    assert "cayenne/lpp" not in host.device_models and "fake/counter" in host.device_models


def test_essential_plugins_cannot_be_disabled():
    host = PluginHost(deny=["sqlite", "simulator"])
    assert host.plugins["sqlite"].status == "loaded"
    assert "sqlite" in host.sinks and "simulator" in host.sources


def test_autoload_off_loads_only_essential_and_named(fake_plugins, monkeypatch):
    fake_plugins({"good": GOOD})
    monkeypatch.setenv("HROMADA_DISABLE_PLUGIN_AUTOLOAD", "1")
    host = PluginHost()
    assert host.plugins["good"].status == "disabled"
    assert host.plugins["cayenne"].status == "disabled"
    assert host.plugins["sqlite"].status == "loaded"
    monkeypatch.setenv("HROMADA_PLUGINS", "good")
    host = PluginHost()
    assert host.plugins["good"].status == "loaded"


def test_trace_switch_prints_hook_calls(monkeypatch, capsys):
    monkeypatch.setenv("HROMADA_TRACE_PLUGINS", "1")
    PluginHost()
    err = capsys.readouterr().err
    assert "[hromada trace] hromada_device_models -> cayenne\n" in err
    assert re.search(r"\[hromada trace\] hromada_sinks <- sqlite in [\d.]+ ms\n", err)


# -- the catalogue stays honest (datasette's test_docs / test_plugin_hooks_have_tests) --


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_is_documented(hook):
    doc = inspect.getdoc(getattr(hookspecs, hook)) or ""
    assert len(doc.splitlines()) >= 3, f"{hook} has no real docstring"
    assert "Added in" in doc, f"{hook}'s docstring does not say when it was added"
    readme = (ROOT / "README.md").read_text()
    assert hook in readme, f"{hook} is not listed in README.md"


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_has_a_test(hook):
    tests = ""
    for path in (ROOT / "tests").rglob("test_*.py"):
        if path.name != "test_plugins.py":
            tests += path.read_text()
    tests += Path(__file__).read_text().split("# -- the catalogue")[0]
    assert hook in tests, f"no test mentions {hook}"


def test_hookspecs_module_has_only_prefixed_hooks():
    tree = ast.parse(Path(hookspecs.__file__).read_text())
    funcs = [n.name for n in tree.body if isinstance(n, ast.FunctionDef)]
    assert funcs and all(f.startswith("hromada_") for f in funcs)
