"""Decode wireless M-Bus / OMS telegrams (EN 13757-3/-4/-7).

  hromada wmbus decode 2E4493157856341233037A2A0020255923C9... --key 0102...0F11
  hromada wmbus decode HEX --key env:METER_KEY --json

The telegram is hex as a receiver logs it, with or without the link-layer CRCs
(frame format A or B; --frame-format to say which).  Encrypted telegrams (security
mode 5 or 7, ELL AES-CTR) need the meter's AES-128 key: 32 hex digits, or env:NAME to
read it from an environment variable (keeps it out of the shell history).  The key
is never printed.  Exit status 2 and a message on stderr when the telegram cannot
be decoded.
"""

from __future__ import annotations

import argparse
import json
import sys

from hromada.errors import DecodeError

__all__ = ["configure", "run"]


def configure(parser) -> None:
    """Add the ``decode`` subcommand to the ``hromada wmbus`` parser."""
    # The module docstring is the group's description: keep its line breaks.
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    sub = parser.add_subparsers(dest="wmbus_command", metavar="COMMAND")
    p = sub.add_parser("decode", help="decode one telegram given in hex",
                       description="Decode one wM-Bus telegram: header and records.")
    p.add_argument("hex", metavar="HEX", nargs="+",
                   help="the telegram in hex (spaces allowed)")
    p.add_argument("--key", metavar="K",
                   help="AES-128 key: 32 hex digits, or env:NAME")
    p.add_argument("--frame-format", choices=("auto", "A", "B", "none"), default="auto",
                   help="link-layer CRCs: A or B present, none stripped (default: auto)")
    p.add_argument("--json", action="store_true", help="machine-readable output")


def _fmt_value(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.10g}"
    return str(v)


def _print_text(t, out) -> None:
    h = t.header
    out.write(f"meter    {h.manufacturer} {h.id}  {h.device_type} (0x{h.device_type_code:02x})"
              f"  version {h.version}\n")
    acc = "-" if h.access_number is None else str(h.access_number)
    status = "-" if h.status is None else f"0x{h.status:02x}"
    out.write(f"layers   CI 0x{h.ci:02x}  access {acc}  status {status}  security mode "
              f"{h.security_mode}  encryption {h.encryption}  frame format {h.frame_format}\n")
    if not t.records:
        out.write("no records\n")
        return
    rows = [("quantity", "value", "unit", "storage", "tariff", "subunit", "function",
             "dif_vif")]
    for r in t.records:
        rows.append((r.quantity, _fmt_value(r.value), r.unit, str(r.storage), str(r.tariff),
                     str(r.subunit), r.function or "-", r.dif_vif))
    widths = [max(len(row[k]) for row in rows) for k in range(len(rows[0]))]
    for row in rows:
        out.write("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
                  + "\n")


def run(args) -> int:
    """Run ``hromada wmbus decode``; 0 on success, 2 with a message on stderr if not."""
    if getattr(args, "wmbus_command", None) != "decode":
        sys.stderr.write("usage: hromada wmbus decode HEX [--key K] [--json]\n")
        return 2
    from hromada.wmbus import decode

    try:
        t = decode("".join(args.hex), key=args.key, frame_format=args.frame_format)
    except (DecodeError, ValueError) as exc:
        sys.stderr.write(f"hromada wmbus decode: {exc}\n")
        return 2
    if args.json:
        json.dump(t.to_dict(), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        _print_text(t, sys.stdout)
    return 0
