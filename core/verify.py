"""Hash-chained CSV files: writing them, and ``hromada verify FILE`` to check them.

A billing export must show when someone edited it after it was written.  Every data row
ends with two columns, ``prev_hash`` and ``hash``: ``hash`` is the SHA-256 (hex) of the
previous row's hash followed by this row's content, where the content is the exact text
of the row before ``,prev_hash,hash``.  The first row's ``prev_hash`` is the SHA-256 of
the header line, so the header is covered too.  Changing, inserting, deleting or
reordering rows breaks the chain at the first line touched (or the line after it, when
the editor recomputed that row's own hash).  Cutting rows off the end keeps the chain
intact: compare the last hash with one kept elsewhere (the writer reports it; the
metering service emits it as an event) using ``--head``.

Lines end with ``\\n``; the file is UTF-8.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import sys
from pathlib import Path

HASH_COLUMNS = ("prev_hash", "hash")
_HEX = frozenset("0123456789abcdef")


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def genesis(header_line: str) -> str:
    """The ``prev_hash`` of the first row: the hash of the header line."""
    return sha256_hex(header_line)


def row_hash(prev_hash: str, content: str) -> str:
    return sha256_hex(prev_hash + content)


def _cell(v):
    # One row is one line: the chain is checked line by line, so no cell may break it.
    if isinstance(v, str) and ("\n" in v or "\r" in v):
        return v.replace("\r", " ").replace("\n", " ")
    return v


def _csv_line(fields) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="").writerow([_cell(v) for v in fields])
    return buf.getvalue()


def chain_lines(columns, rows):
    """Lines (without newline) of a chained CSV: header, then one line per row.

    ``columns`` names the data columns (``prev_hash`` and ``hash`` are appended);
    ``rows`` are sequences of cell values, written with the csv module's quoting.
    Returns (lines, head) where head is the last row's hash (the header's hash when
    there are no rows).
    """
    header = _csv_line(list(columns) + list(HASH_COLUMNS))
    lines = [header]
    prev = genesis(header)
    for row in rows:
        content = _csv_line(row)
        h = row_hash(prev, content)
        lines.append(f"{content},{prev},{h}")
        prev = h
    return lines, prev


def write_chained_csv(path, columns, rows):
    """Write a chained CSV atomically (temporary file, then rename); return the head."""
    path = Path(path)
    lines, head = chain_lines(columns, rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8", newline="") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(tmp, path)
    return head


class ChainResult:
    """Outcome of checking one file: ``ok``, ``line`` (1-based, the first bad line),
    ``message``, ``rows`` checked and ``head`` (last valid hash)."""

    def __init__(self, path, ok, rows, head, line=None, message=None):
        self.path, self.ok, self.rows, self.head = str(path), ok, rows, head
        self.line, self.message = line, message

    def to_dict(self):
        return {"file": self.path, "valid": self.ok, "rows": self.rows, "head": self.head,
                "line": self.line, "message": self.message}

    def __str__(self):
        if self.ok:
            return f"{self.path}: valid, {self.rows} rows, head {self.head}"
        where = f"line {self.line}: " if self.line else ""
        return f"{self.path}: {where}{self.message}"


def _is_hash(s):
    return len(s) == 64 and _HEX.issuperset(s)


def verify_text(text: str, path="<text>", head: str | None = None) -> ChainResult:
    """Check a chained CSV given as text; see :func:`verify_file`."""
    if text.endswith("\n"):
        text = text[:-1]
    lines = text.split("\n")
    header = lines[0]
    if not header.endswith("," + ",".join(HASH_COLUMNS)):
        return ChainResult(path, False, 0, None, 1,
                           "not a hash-chained file: the header must end with "
                           "'prev_hash,hash'")
    prev = genesis(header)
    rows = 0
    for i, line in enumerate(lines[1:], start=2):
        parts = line.rsplit(",", 2)
        if len(parts) != 3 or not _is_hash(parts[1]) or not _is_hash(parts[2]):
            return ChainResult(path, False, rows, prev, i,
                               "malformed row: it must end with two SHA-256 hex hashes "
                               "(prev_hash,hash)")
        content, row_prev, h = parts
        if row_prev != prev:
            what = "the header" if i == 2 else f"line {i - 1}"
            return ChainResult(path, False, rows, prev, i,
                               f"prev_hash does not match the hash of {what}: a row was "
                               "edited, inserted, deleted or moved here")
        if row_hash(prev, content) != h:
            return ChainResult(path, False, rows, prev, i,
                               "hash does not match the row's content: the row was edited")
        prev = h
        rows += 1
    if head is not None and head.lower() != prev:
        return ChainResult(path, False, rows, prev, None,
                           f"chain is intact but ends at {prev}, not at the expected head "
                           f"{head}: rows were removed from the end or added")
    return ChainResult(path, True, rows, prev)


def verify_file(path, head: str | None = None) -> ChainResult:
    """Check every row of a chained CSV; the first bad line is named."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        return ChainResult(path, False, 0, None, None, f"cannot read: {exc.strerror}")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        return ChainResult(path, False, 0, None, line, "not UTF-8 text")
    if not text:
        return ChainResult(path, False, 0, None, 1, "empty file")
    return verify_text(text, path, head)


# -- the ``hromada verify`` command ------------------------------------------------------


def configure(parser):
    parser.description = ("Check hash-chained CSV files (such as the metering service's "
                          "billing export): exit 0 when every file is intact, 1 naming "
                          "the first bad line otherwise.")
    parser.add_argument("files", nargs="+", metavar="FILE", help="chained CSV file(s)")
    parser.add_argument("--head", metavar="HASH",
                        help="the expected last hash (kept elsewhere when the file was "
                             "written): also detects rows cut off the end")
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def run(args):
    results = [verify_file(f, args.head) for f in args.files]
    if args.json:
        json.dump([r.to_dict() for r in results], sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        for r in results:
            print(r, file=sys.stdout if r.ok else sys.stderr)
    return 0 if all(r.ok for r in results) else 1
