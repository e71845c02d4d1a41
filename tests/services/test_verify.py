"""Hash-chained CSV files and ``hromada verify``."""

import json

from hromada import verify
from hromada.cli import main

COLUMNS = ("date", "device", "note", "value")
ROWS = [("2026-03-02", "w1", "plain", 1.5), ("2026-03-02", "w2", "comma, inside", 2),
        ("2026-03-02", "w3", 'quote " and\nnewline', -0.25)]


def write(tmp_path, rows=ROWS):
    path = tmp_path / "bill.csv"
    head = verify.write_chained_csv(path, COLUMNS, rows)
    return path, head


def test_chain_format(tmp_path):
    path, head = write(tmp_path)
    lines = path.read_text().split("\n")
    assert lines[-1] == "" and len(lines) == 5   # header, 3 rows, final newline
    assert lines[0] == "date,device,note,value,prev_hash,hash"
    prev = verify.sha256_hex(lines[0])
    for line in lines[1:4]:
        content, p, h = line.rsplit(",", 2)
        assert p == prev and h == verify.sha256_hex(prev + content)
        prev = h
    assert prev == head
    assert lines[2].startswith('2026-03-02,w2,"comma, inside",2,')
    assert lines[3].startswith('2026-03-02,w3,"quote "" and newline",-0.25,')  # one line
    empty, head0 = verify.chain_lines(COLUMNS, [])
    assert head0 == verify.sha256_hex(empty[0])


def test_every_kind_of_edit_is_found(tmp_path):
    path, head = write(tmp_path)
    good = path.read_text()
    lines = good.split("\n")
    cases = {
        "value changed": (lines[:2] + [lines[2].replace(",2,", ",3,", 1)] + lines[3:], 3,
                          "hash does not match"),
        "row deleted": (lines[:2] + lines[3:], 3, "prev_hash does not match the hash of "
                                                  "line 2"),
        "rows swapped": ([lines[0], lines[2], lines[1]] + lines[3:], 2,
                         "prev_hash does not match the hash of the header"),
        "header changed": (["Date" + lines[0][4:]] + lines[1:], 2, "prev_hash"),
        "hash cut": (lines[:1] + [lines[1][:-1]] + lines[2:], 2, "malformed row"),
        "crlf": (lines[:1] + [lines[1] + "\r"] + lines[2:], 2, "malformed row"),
        "not chained": (["a,b,c", "1,2,3", ""], 1, "not a hash-chained file"),
    }
    for name, (edited, line, message) in cases.items():
        path.write_text("\n".join(edited))
        r = verify.verify_file(path)
        assert (r.ok, r.line) == (False, line), name
        assert message in r.message, name
    path.write_text(good)
    assert verify.verify_file(path, head=head).ok
    path.write_text(good.replace(ROWS[0][1], "w9", 1))   # content edited, hash recomputed?
    assert not verify.verify_file(path).ok


def test_the_command_line(tmp_path, capsys):
    path, head = write(tmp_path)
    assert main(["verify", str(path)]) == 0
    assert capsys.readouterr().out == f"{path}: valid, 3 rows, head {head}\n"
    assert main(["verify", str(path), "--head", head]) == 0
    capsys.readouterr()
    text = path.read_text().replace("plain", "plane")
    path.write_text(text)
    assert main(["verify", str(path)]) == 1
    err = capsys.readouterr().err
    assert err == (f"{path}: line 2: hash does not match the row's content: the row "
                   "was edited\n")
    assert main(["verify", str(path), str(tmp_path / "missing.csv"), "--json"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert [(r["valid"], r["line"]) for r in out] == [(False, 2), (False, None)]
    assert out[1]["message"].startswith("cannot read")
