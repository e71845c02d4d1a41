import pytest

from hromada import Option
from hromada.options import parse_duration, validate_options

SCHEMA = (
    Option("path", "path", default="city.db", help="database file"),
    Option("port", "int", help="UDP port", min=1, max=65535),
    Option("mode", "str", default="fast", choices=("fast", "safe")),
    Option("every", "duration", default="15min"),
    Option("password", "str", default="", secret=True),
)


def test_defaults_and_paths_relative_to_city(tmp_path):
    opts, problems = validate_options(SCHEMA, {"plugin": "x", "port": 1700}, "sinks.db",
                                      base_dir=tmp_path)
    assert problems == []
    assert opts == {"port": 1700, "path": tmp_path / "city.db", "mode": "fast",
                    "every": 900.0, "password": ""}


def test_each_problem_names_its_key_path():
    _, problems = validate_options(
        SCHEMA, {"port": "1700", "mode": "slow", "colour": 1, "every": "soon"}, "sources.gw")
    assert problems == [
        ("sources.gw.port", "must be an integer, not str '1700'"),
        ("sources.gw.mode", "'slow' is not allowed; choose one of 'fast', 'safe'"),
        ("sources.gw.colour", "unknown option 'colour'; allowed options: every, mode, "
                              "password, path, port"),
        ("sources.gw.every", "'soon' is not a duration: use seconds or a string like "
                             "'15min', '1h', '2d'"),
    ]


def test_missing_required_and_range():
    _, problems = validate_options(SCHEMA, {}, "sources.gw")
    assert problems == [("sources.gw.port", "missing required option (UDP port)")]
    _, problems = validate_options(SCHEMA, {"port": 70000}, "sources.gw")
    assert problems == [("sources.gw.port", "70000 is above the maximum 65535")]


def test_secret_values_are_not_shown():
    _, problems = validate_options(SCHEMA, {"port": 1, "password": 1234}, "sinks.pg")
    assert problems == [("sinks.pg.password", "must be a string, not int (secret)")]


@pytest.mark.parametrize("text,seconds", [(90, 90.0), ("90", 90.0), ("15min", 900.0),
                                          ("1.5h", 5400.0), ("2d", 172800.0), ("250ms", 0.25)])
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


def test_bool_is_not_an_int():
    _, problems = validate_options((Option("n", "int"),), {"n": True}, "x")
    assert problems == [("x.n", "must be an integer, not bool True")]
