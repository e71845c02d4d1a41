"""README stays true: its plugin works when pasted, its commands exist."""

import re
import sqlite3
from pathlib import Path

from hromada.city import load_city
from hromada.cli import build_parser
from hromada.runtime import run_city

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def block(after, lang):
    start = README.index(after)
    m = re.compile(rf"```{lang}\n(.*?)```", re.S).search(README, start)
    return m.group(1)


def test_the_readme_plugin_works_when_pasted(tmp_path):
    plugin = block("Save this as `acme.py`", "python")
    assert len(plugin.strip().splitlines()) <= 30
    (tmp_path / "acme.py").write_text(plugin)
    city_part = block("and name it in the city", "toml")
    (tmp_path / "city.toml").write_text(
        '[city]\nname = "Pasteville"\n\n[sources.sim]\nplugin = "simulator"\nspan = "1h"\n'
        'start = "2026-06-01T00:00:00+00:00"\n\n[sinks.db]\nplugin = "sqlite"\n'
        'path = "acme.db"\n\n' + city_part)
    city = load_city(tmp_path / "city.toml")
    model = city.host.device_models["acme/pulse"]
    [example] = model.examples
    assert model.decode(example.payload, example.fport, {"litres_per_pulse": 1.0}) == [
        ("volume", 1.234, "m3"), ("battery", 90, "%")]
    summary = run_city(city)
    assert (summary["frames"], summary["readings"], summary["errors"]) == (4, 8, 0)
    with sqlite3.connect(tmp_path / "acme.db") as db:
        got = db.execute("select quantity, unit, count(*) from readings group by 1, 2").fetchall()
    assert got == [("battery", "%", 4), ("volume", "m3", 4)]


def test_the_readme_commands_exist():
    choices = build_parser()._subparsers._group_actions[0].choices
    for cmd in re.findall(r"^hromada (\w[\w-]*)", README, re.M):
        assert cmd in choices, f"README shows 'hromada {cmd}', which does not exist"
    assert "python -m pip install . && hromada run examples/quickstart/city.toml" in README
    assert "python -m pip install tox && tox" in README
