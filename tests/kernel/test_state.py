"""The city's state database (hromada.state): what sources and services keep between
runs, one transaction per write."""

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from hromada.cli import main
from hromada.state import StateDB, StateError

QUICKSTART = Path(__file__).parents[2] / "examples" / "quickstart"
# what an earlier run of the quickstart left next to it
LEFTOVERS = shutil.ignore_patterns(".hromada-state", "*.db", "*.db-*", "summary.json")


def test_write_load_delete_and_rename(tmp_path):
    with StateDB(tmp_path / "deep" / "state.db") as db:  # the directory is created
        a, b = db.scope("source:gw"), db.scope("service:leaks")
        a.write({"meta": b"m1", "device/01": b"d1", "device/02": b"d2"})
        b.put("snapshot", b"s1")
        a.write({"device/01": b"d1b", "device/02": None})   # update and delete at once
        assert a.load() == {"meta": b"m1", "device/01": b"d1b"}
        assert b.load() == {"snapshot": b"s1"}
        assert a.get("device/02") is None and a.get("meta") == b"m1"
        b.put("snapshot.corrupt", b"old")
        b.rename("snapshot", "snapshot.corrupt")             # replaces the older one
        assert b.load() == {"snapshot.corrupt": b"s1"}
        assert db.owners() == {"service:leaks": 1, "source:gw": 2}
        assert repr(a) == f"StateScope('{tmp_path / 'deep' / 'state.db'}', 'source:gw')"
    # and it is a plain SQLite table that any tool can read
    with sqlite3.connect(tmp_path / "deep" / "state.db") as conn:
        assert conn.execute("select owner, key, value from state order by owner, key"
                            ).fetchall() == [("service:leaks", "snapshot.corrupt", b"s1"),
                                             ("source:gw", "device/01", b"d1b"),
                                             ("source:gw", "meta", b"m1")]


def test_a_failed_write_changes_nothing(tmp_path):
    with StateDB(tmp_path / "state.db") as db:
        s = db.scope("source:gw")
        s.write({"device/01": b"old"})
        with pytest.raises(StateError) as exc:
            # the second value cannot be stored: the first must not be either
            s.write({"device/01": b"new", "device/02": object()})
        assert str(exc.value).startswith(f"the city's state database {tmp_path / 'state.db'}: ")
        assert s.load() == {"device/01": b"old"}


def test_a_state_database_that_cannot_be_opened_names_the_file(tmp_path):
    (tmp_path / "state.db").write_bytes(b"this is not a database" * 100)
    with pytest.raises(StateError) as exc:
        StateDB(tmp_path / "state.db")
    assert str(exc.value) == (f"cannot open the city's state database {tmp_path / 'state.db'}: "
                              "file is not a database")


def test_run_refuses_a_city_whose_state_cannot_be_kept(tmp_path, capsys):
    city = tmp_path / "city"
    shutil.copytree(QUICKSTART, city, ignore=LEFTOVERS)
    state = city / ".hromada-state"
    state.write_text("a file where the state directory should be")
    assert main(["run", str(city / "city.toml"), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert err.splitlines()[-1] == (
        f"hromada: cannot open the city's state database {state / 'state.db'}: "
        f"[Errno 17] File exists: '{state}'")


def _quickstart(tmp_path):
    city = tmp_path / "city"
    shutil.copytree(QUICKSTART, city, ignore=LEFTOVERS)
    return city / "city.toml", city / ".hromada-state" / "state.db"


def test_state_command_lists_owners_and_forgets_one(tmp_path, capsys):
    city, path = _quickstart(tmp_path)
    assert main(["state", str(city), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"path": str(path), "owners": {}}
    with StateDB(path) as db:
        db.scope("source:gw").write({"meta": b"12345", "device/01": b"abc"})
        db.scope("service:leaks").put("snapshot", b"secret-ish")
    assert main(["state", str(city)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == f"{path}: 2 owner(s)"
    assert [line.split()[:5] for line in out.splitlines()[1:]] == [
        ["service:leaks", "1", "key(s)", "10", "bytes"],
        ["source:gw", "2", "key(s)", "8", "bytes"]]
    assert "secret-ish" not in out and "abc" not in out
    assert main(["state", str(city), "--forget", "source:gw", "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert got["forgot"] == {"owner": "source:gw", "keys": 2}
    assert list(got["owners"]) == ["service:leaks"]
    assert main(["state", str(city), "--forget", "source:gw"]) == 1
    assert capsys.readouterr().err == (f"hromada: {path} holds nothing of 'source:gw'; "
                                       "owners: service:leaks\n")
