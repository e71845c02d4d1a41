"""city.toml validation: every problem names file, key path or CSV line, and what is allowed."""

import csv
import textwrap
from pathlib import Path

import pytest

from hromada.city import check_city, load_city
from hromada.cli import main
from hromada.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
QUICKSTART = ROOT / "examples" / "quickstart" / "city.toml"

BASE = """
[city]
name = "Testville"
timezone = "Europe/Kyiv"

[sources.sim]
plugin = "simulator"
span = "1h"

[sinks.db]
plugin = "sqlite"
path = "test.db"

[[devices]]
id = "70B3D57ED0000001"
model = "cayenne/lpp"
name = "climate-1"
lat = 48.44
lon = 22.71
district = "Tsentr"
tags = ["climate"]
"""


def write(tmp_path, text, name="city.toml"):
    p = tmp_path / name
    p.write_text(textwrap.dedent(text))
    return p


def problems_of(path):
    city, problems = check_city(path)
    assert city is None
    return [(p.where, p.message) for p in problems]


def test_quickstart_is_valid():
    city = load_city(QUICKSTART)
    assert city.name == "Quickstart"
    assert len(city.devices) == 300
    assert set(city.sources) == {"sim"} and set(city.sinks) == {"db"}
    dev = city.devices["70b3d57ed0000000"]
    assert (dev.model, dev.name, dev.district, dev.tags) == (
        "cayenne/lpp", "climate-001", "Tsentr", ("climate", "lamp-post"))
    # relative paths are relative to the city file
    assert city.sinks["db"].options["path"] == QUICKSTART.parent.resolve() / "quickstart.db"


def test_valid_city_with_inline_devices(tmp_path):
    city = load_city(write(tmp_path, BASE))
    dev = city.devices["70b3d57ed0000001"]  # ids are case-insensitive: stored lowercase
    assert (dev.lat, dev.lon, dev.tags) == (48.44, 22.71, ("climate",))
    assert city.sources["sim"].options["span"] == 3600.0
    assert city.kernel["overflow"] == "reject"


def test_wrong_option_names_its_key_path(tmp_path):
    p = write(tmp_path, BASE.replace('path = "test.db"', 'path = 5\ncolour = "red"'))
    assert problems_of(p) == [
        ("sinks.db.path", "must be a file path (string), not int 5"),
        ("sinks.db.colour", "unknown option 'colour'; allowed options: path, synchronous"),
    ]


def test_unknown_plugin_lists_installed_ones(tmp_path):
    p = write(tmp_path, BASE.replace('plugin = "sqlite"', 'plugin = "oracle"'))
    [(where, msg)] = problems_of(p)
    assert where == "sinks.db.plugin"
    assert msg.startswith("unknown sink plugin 'oracle'; installed: ")
    assert "sqlite" in msg


def test_unknown_model_duplicate_and_bad_coordinates(tmp_path):
    p = write(tmp_path, BASE + """
[[devices]]
id = "70b3d57ed0000001"
model = "acme/nothing"
lat = 123
""")
    probs = problems_of(p)
    assert probs[0] == ("devices[1].id", "duplicate device id '70b3d57ed0000001'")
    assert probs[1][0] == "devices[1].model"
    assert probs[1][1].startswith("unknown device model 'acme/nothing'; installed: ")
    assert "cayenne/lpp" in probs[1][1]
    assert probs[2] == ("devices[1].lat", "must be a number from -90 to 90, not 123")


def test_bad_toml_names_the_line(tmp_path):
    p = write(tmp_path, '[city]\nname = "x"\n[sinks.db\n')
    [problem] = check_city(p)[1]
    assert problem.file == str(p)
    assert problem.where == "line 3"
    assert problem.message.startswith("invalid TOML: ")


def test_city_level_problems(tmp_path):
    p = write(tmp_path, """
        [city]
        timezone = "Mars/Olympus"
        [weather]
        x = 1
        """)
    assert problems_of(p) == [
        ("weather", "unknown table 'weather'; allowed: city, kernel, plugins, models, "
                    "sources, services, sinks, devices"),
        ("city.name", "missing required option (the city's name)"),
        ("city.timezone", "unknown time zone 'Mars/Olympus'; use an IANA name like "
                          "'Europe/Kyiv' or 'UTC'"),
        ("sources", "no [sources.NAME] table: a city needs at least one source"),
    ]


def test_csv_problems_name_file_and_line(tmp_path):
    csv_path = tmp_path / "devices.csv"
    csv_path.write_text("id,model,name,lat,lon,district,tags\n"
                        "a1,cayenne/lpp,ok,48.1,22.1,Tsentr,x;y\n"
                        "a2,acme/none,bad,48.1,22.1,,\n"
                        "a3,cayenne/lpp,bad,north,22.1,,\n")
    p = write(tmp_path, BASE.split("[[devices]]")[0].replace(
        'timezone = "Europe/Kyiv"', 'timezone = "Europe/Kyiv"\ndevices = "devices.csv"'))
    city, problems = check_city(p)
    assert city is None
    assert [(pr.file, pr.where) for pr in problems] == [
        (str(csv_path), "line 3.model"), (str(csv_path), "line 4.lat")]
    assert problems[1].message == "must be a number from -90 to 90, not 'north'"


def test_csv_missing_columns(tmp_path):
    (tmp_path / "devices.csv").write_text("eui,type\n1,2\n")
    p = write(tmp_path, BASE.split("[[devices]]")[0].replace(
        'timezone = "Europe/Kyiv"', 'devices = "devices.csv"'))
    [pr] = check_city(p)[1]
    assert pr.where == "line 1"
    assert pr.message.startswith("missing column(s) id, model; the header needs")


def test_hundred_thousand_devices_load(tmp_path):
    with open(tmp_path / "devices.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "model", "name", "lat", "lon", "district", "tags"])
        for i in range(100_000):
            w.writerow([f"{i:016x}", "cayenne/lpp", f"d{i}", 48.4, 22.7, "Tsentr", "a"])
    p = write(tmp_path, BASE.split("[[devices]]")[0].replace(
        'timezone = "Europe/Kyiv"', 'devices = "devices.csv"'))
    city = load_city(p)
    assert len(city.devices) == 100_000
    assert city.devices[f"{99_999:016x}"].name == "d99999"


def test_load_city_raises_with_every_problem(tmp_path):
    p = write(tmp_path, "[city]\n")
    with pytest.raises(ConfigError) as info:
        load_city(p)
    assert len(info.value.problems) == 2
    assert str(info.value).startswith(f"{p}: city.name: missing required option")


def test_cli_check_exit_codes(tmp_path, capsys):
    assert main(["check", str(QUICKSTART)]) == 0
    assert "Quickstart is valid: 300 devices, 1 sources, 0 services, 1 sinks" in \
        capsys.readouterr().out
    p = write(tmp_path, BASE.replace('path = "test.db"', 'path = 5'))
    assert main(["check", str(p)]) == 2
    err = capsys.readouterr().err
    assert f"{p}: sinks.db.path: must be a file path (string), not int 5" in err
    assert "1 problem; the city is not valid" in err


def test_cli_run_refuses_an_invalid_city(tmp_path, capsys):
    p = write(tmp_path, BASE.replace('plugin = "sqlite"', 'plugin = "oracle"'))
    assert main(["run", str(p)]) == 2
    assert "sinks.db.plugin: unknown sink plugin 'oracle'" in capsys.readouterr().err
    assert not (tmp_path / "test.db").exists()


def test_a_broken_plugin_does_not_invalidate_the_city(tmp_path, capsys):
    (tmp_path / "broken.py").write_text("import no_such_module_here\n")
    p = write(tmp_path, BASE.replace("[sources.sim]", '[plugins]\nmodules = ["broken.py"]\n\n'
                                                      "[sources.sim]"))
    assert main(["check", str(p)]) == 0
    err = capsys.readouterr().err
    assert (f"warning: plugin broken: failed to load {tmp_path / 'broken.py'}: "
            "ModuleNotFoundError: No module named 'no_such_module_here'") in err
    # ...but what it would have provided is reported with the hint
    p = write(tmp_path, BASE.replace("[sources.sim]", '[plugins]\nmodules = ["broken.py"]\n\n'
                                                      "[sources.sim]").replace(
        'model = "cayenne/lpp"', 'model = "broken/thing"'))
    [(where, msg)] = problems_of(p)
    assert where == "devices[0].model"
    assert msg.endswith("(plugins that failed to load: broken; see 'hromada plugins')")


@pytest.mark.parametrize("table", ['deny = ["cayenne"]', 'autoload = false'])
def test_city_toml_plugin_switches(tmp_path, table):
    p = write(tmp_path, BASE.replace("[sources.sim]", f"[plugins]\n{table}\n\n[sources.sim]"))
    [(where, msg)] = problems_of(p)
    assert where == "devices[0].model"
    assert msg.startswith("unknown device model 'cayenne/lpp'; installed: ")
    # essential plugins stay: the simulator source and the sqlite sink still resolve


def test_city_toml_autoload_off_with_load_list(tmp_path):
    p = write(tmp_path, BASE.replace("[sources.sim]", '[plugins]\nautoload = false\n'
                                                      'load = ["cayenne"]\n\n[sources.sim]'))
    city = load_city(p)
    assert set(city.host.device_models) == {"cayenne/lpp"}
    assert city.host.plugins["milesight"].status == "disabled"


def test_device_model_path_options_are_relative_to_the_city_file(tmp_path):
    (tmp_path / "model_plug.py").write_text(textwrap.dedent('''
        import hromada
        from hromada import DeviceModel, Option

        @hromada.hookimpl
        def hromada_device_models():
            return [DeviceModel(id="test/tabled", family="generic",
                                decode=lambda p, f, o: [],
                                options=(Option("table", "path", default="cal.csv"),))]
        '''))
    p = write(tmp_path, BASE.replace("[sources.sim]", '[plugins]\nmodules = ["model_plug.py"]\n\n'
                                                      "[sources.sim]") + """
[[devices]]
id = "bb01"
model = "test/tabled"
table = "calibration/bb01.csv"

[[devices]]
id = "bb02"
model = "test/tabled"
""")
    city = load_city(p)
    base = tmp_path.resolve()
    assert city.devices["bb01"].options["table"] == base / "calibration" / "bb01.csv"
    assert city.devices["bb02"].options["table"] == base / "cal.csv"
