"""hromada check names a secret option whose env:VARIABLE is not set: without it the
city would start without that component."""

from hromada.cli import main

CITY = """
[city]
name = "Secretville"

[sources.ttn]
plugin = "tts"
url = "mqtt://127.0.0.1:1883"
application_id = "app"
api_key = "env:HROMADA_TEST_UNSET_API_KEY"

[sinks.db]
plugin = "postgres"
dsn = "env:HROMADA_TEST_SET_DSN"

[[devices]]
id = "70b3d57ed0000001"
model = "cayenne/lpp"
"""


def test_check_names_an_unset_secret_variable(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("HROMADA_TEST_UNSET_API_KEY", raising=False)
    monkeypatch.setenv("HROMADA_TEST_SET_DSN", "postgresql://127.0.0.1/test")
    (tmp_path / "city.toml").write_text(CITY)
    assert main(["check", str(tmp_path / "city.toml")]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == [
        f"{tmp_path / 'city.toml'}: sources.ttn.api_key: environment variable "
        "HROMADA_TEST_UNSET_API_KEY is not set",
        f"{tmp_path / 'city.toml'}: 1 problem; the city is not valid"]
    monkeypatch.setenv("HROMADA_TEST_UNSET_API_KEY", "NNSXS.secret")
    assert main(["check", str(tmp_path / "city.toml")]) == 0
    assert "NNSXS" not in capsys.readouterr().out
