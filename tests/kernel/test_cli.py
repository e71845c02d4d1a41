"""The hromada command line, as a user runs it."""

import json
import subprocess
import sys
import textwrap

import pytest

from hromada import compiled
from hromada.cli import build_parser, main


def run_cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "hromada", *args], capture_output=True,
                          text=True, env=env, timeout=60)


def test_help_lists_every_command():
    out = run_cli("--help").stdout
    for cmd in ("run", "check", "info", "plugins", "devices", "decode"):
        assert f"\n    {cmd} " in out, cmd
    assert "HROMADA_NO_EXTENSIONS=1" in out


def test_info_json_says_what_is_compiled():
    proc = run_cli("info", "--json")
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)
    assert info["version"] == "0.1.0"
    assert set(info["modules"]) == set(compiled.KNOWN)
    assert {"cayenne", "simulator", "sqlite"} <= set(info["plugins"])
    expected = "pure" if compiled.NO_EXTENSIONS else "compiled"
    assert set(info["modules"].values()) == {expected}
    assert info["compiled"] is (not compiled.NO_EXTENSIONS)


def test_plugins_lists_versions_and_what_each_provides(capsys):
    assert main(["plugins", "--json"]) == 0
    report = {p["name"]: p for p in json.loads(capsys.readouterr().out)}
    assert report["sqlite"]["provides"] == {"sinks": ["sqlite"]}
    assert report["sqlite"]["version"] == "0.1.0"
    assert report["cayenne"]["provides"] == {"device_models": ["cayenne/lpp"]}
    assert main(["plugins"]) == 0
    out = capsys.readouterr().out
    assert "sqlite 0.1.0  [loaded]  hromada_plugins.sinks.sqlite\n    sinks: sqlite\n" in out


def test_decode_prints_readings(capsys):
    assert main(["decode", "cayenne/lpp", "03670110056700ff", "--fport", "1", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == [
        {"quantity": "temperature_3", "value": 27.2, "unit": "Cel"},
        {"quantity": "temperature_5", "value": 25.5, "unit": "Cel"}]


def test_decode_errors(capsys):
    assert main(["decode", "cayenne/lpp", "0367", "--json"]) == 1
    err = json.loads(capsys.readouterr().out)
    assert err["offset"] == 2 and "truncated" in err["error"]
    assert main(["decode", "acme/none", "00"]) == 2
    assert capsys.readouterr().err.startswith("unknown device model 'acme/none'; installed: ")
    assert main(["decode", "cayenne/lpp", "zz"]) == 2
    assert capsys.readouterr().err == "not a hex string: 'zz'\n"


def test_devices_json(capsys):
    assert main(["devices", "cayenne", "--json"]) == 0
    [model] = json.loads(capsys.readouterr().out)
    assert model["id"] == "cayenne/lpp" and model["encoder"] is True
    assert len(model["examples"]) >= 3


def test_plugin_commands_are_added(tmp_path, monkeypatch, capsys):
    """A plugin's hromada_commands hook adds a subcommand."""
    (tmp_path / "fake_cmdplug.py").write_text(textwrap.dedent("""
        import hromada
        from hromada import CliCommand

        def configure(parser):
            parser.add_argument("who")

        def run(args):
            print(f"hello {args.who}")
            return 3

        @hromada.hookimpl
        def hromada_commands():
            return [CliCommand("hello", "say hello", configure, run)]
        """))
    info = tmp_path / "fake_cmdplug-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fake-cmdplug\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[hromada]\ncmdplug = fake_cmdplug\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import hromada.plugins

    monkeypatch.setattr(hromada.plugins, "_default", None)
    assert main(["hello", "city"]) == 3
    assert capsys.readouterr().out == "hello city\n"
    monkeypatch.setattr(hromada.plugins, "_default", None)


def test_no_command_prints_help(capsys):
    assert main([]) == 0
    assert "usage: hromada" in capsys.readouterr().out


@pytest.mark.parametrize("cmd", ["run", "check"])
def test_city_commands_need_a_city(cmd):
    with pytest.raises(SystemExit) as info:
        build_parser().parse_args([cmd])
    assert info.value.code == 2
