"""Decode and build LoRaWAN PHYPayloads (1.0.x and 1.1) from the command line.

  hromada lorawan decode 40F17DBE4900020001954378762B11FF0D \\
      --nwkskey 44024241ed4ce9a68c6a8bc055233fd3 --appskey env:APPSKEY
  hromada lorawan encode data --dev-addr 49be7df1 --fcnt 2 --fport 1 --payload 74657374 \\
      --nwkskey env:NWKSKEY --appskey env:APPSKEY

Keys are 32 hex digits or env:VAR (the key is read from that environment variable, so
it stays out of shell history and process lists); they are never printed.  decode exits
with 1 when the MIC does not match and 2 when the frame cannot be decoded.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import json
import re
import sys

from hromada.errors import DecodeError, EncodeError

_KEY_HELP = "32 hex digits or env:VAR"


def _int(text):
    return int(text, 0)


def _add_keys(p, names):
    helps = {
        "nwkskey": "1.0 network session key (MIC, FPort 0)",
        "appskey": "application session key (FPort > 0)",
        "appkey": "1.0 root key (join frames)",
        "nwkkey": "1.1 root key (join frames)",
        "fnwksintkey": "1.1 forwarding network session integrity key",
        "snwksintkey": "1.1 serving network session integrity key",
        "nwksenckey": "1.1 network session encryption key (FOpts, FPort 0)",
        "jsintkey": "1.1 join server integrity key (OptNeg join-accept MIC, rejoin type 1)",
        "jsenckey": "1.1 join server encryption key (join-accept answering a rejoin)",
    }
    for name in names:
        p.add_argument(f"--{name}", metavar="KEY", help=f"{helps[name]}: {_KEY_HELP}")


def configure(parser: argparse.ArgumentParser):
    """Add the ``decode`` and ``encode`` subcommands to ``parser``."""
    # The module docstring, used as the description, has examples whose lines matter.
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    sub = parser.add_subparsers(dest="lorawan_command", metavar="{decode,encode}")
    parser.set_defaults(_lorawan_parser=parser)

    d = sub.add_parser("decode", help="decode a PHYPayload and print every field",
                       description="Decode a PHYPayload (hex or base64) and print every "
                       "field. Exit status: 0 decoded (MIC ok or not checked), 1 MIC "
                       "mismatch, 2 not decodable.")
    d.add_argument("phy", metavar="HEX", help="the PHYPayload in hex (or base64)")
    _add_keys(d, ("nwkskey", "appskey", "appkey", "nwkkey", "fnwksintkey", "snwksintkey",
                  "nwksenckey", "jsintkey", "jsenckey"))
    d.add_argument("--fcnt", type=_int, metavar="N",
                   help="next expected 32-bit frame counter (default: the 16-bit wire value)")
    d.add_argument("--lorawan-version", dest="lorawan_version", choices=("1.0", "1.1"),
                   help="default: 1.1 when a 1.1 session key is given")
    d.add_argument("--fopts-scheme", choices=("errata", "original", "none"), default="errata",
                   help="1.1 FOpts encryption (default: the FCntDwn erratum)")
    d.add_argument("--conf-fcnt", type=_int, default=0, metavar="N",
                   help="1.1: counter of the confirmed frame an ACK answers")
    d.add_argument("--tx-dr", type=_int, default=0, metavar="DR", help="1.1 uplink MIC: data rate")
    d.add_argument("--tx-ch", type=_int, default=0, metavar="CH",
                   help="1.1 uplink MIC: channel index")
    d.add_argument("--join-eui", metavar="EUI",
                   help="1.1 join-accept MIC: JoinEUI of the request it answers")
    d.add_argument("--dev-nonce", type=_int, metavar="N",
                   help="1.1 join-accept MIC: DevNonce of the request it answers")
    d.add_argument("--join-req-type", type=_int, default=0xFF, metavar="T",
                   help="1.1 join-accept MIC: 255 join-request (default), 0/1/2 rejoin type")
    d.add_argument("--json", action="store_true", help="machine-readable output")

    e = sub.add_parser("encode", help="build a frame (data, join-request, join-accept, "
                       "rejoin-request)")
    esub = e.add_subparsers(dest="kind", metavar="{data,join-request,join-accept,rejoin-request}")
    e.set_defaults(_encode_parser=e)

    ed = esub.add_parser("data", help="a data frame (payload encrypted, MIC computed)")
    ed.add_argument("--dev-addr", required=True, metavar="HEX", help="DevAddr, MSB first")
    ed.add_argument("--fcnt", type=_int, required=True, metavar="N", help="32-bit frame counter")
    ed.add_argument("--fport", type=_int, metavar="N")
    ed.add_argument("--payload", default="", metavar="HEX", help="plaintext FRMPayload")
    ed.add_argument("--fopts", default="", metavar="HEX", help="plaintext FOpts (MAC commands)")
    ed.add_argument("--downlink", action="store_true", help="a downlink (default: uplink)")
    ed.add_argument("--confirmed", action="store_true")
    for flag in ("adr", "adr-ack-req", "ack", "fpending", "class-b"):
        ed.add_argument(f"--{flag}", action="store_true", help=f"set the FCtrl {flag} bit")
    _add_keys(ed, ("nwkskey", "appskey", "fnwksintkey", "snwksintkey", "nwksenckey"))
    ed.add_argument("--lorawan-version", dest="lorawan_version", choices=("1.0", "1.1"))
    ed.add_argument("--fopts-scheme", choices=("errata", "original", "none"), default="errata")
    ed.add_argument("--conf-fcnt", type=_int, default=0, metavar="N")
    ed.add_argument("--tx-dr", type=_int, default=0, metavar="DR")
    ed.add_argument("--tx-ch", type=_int, default=0, metavar="CH")

    jr = esub.add_parser("join-request", help="a join-request")
    jr.add_argument("--join-eui", required=True, metavar="EUI")
    jr.add_argument("--dev-eui", required=True, metavar="EUI")
    jr.add_argument("--dev-nonce", type=_int, required=True, metavar="N")
    _add_keys(jr, ("appkey", "nwkkey"))

    ja = esub.add_parser("join-accept", help="a join-accept, encrypted as sent")
    ja.add_argument("--join-nonce", required=True, metavar="HEX")
    ja.add_argument("--net-id", required=True, metavar="HEX")
    ja.add_argument("--dev-addr", required=True, metavar="HEX")
    ja.add_argument("--dl-settings", default="00", metavar="HEX", help="bit 7: OptNeg (1.1)")
    ja.add_argument("--rx-delay", type=_int, default=1, metavar="S")
    ja.add_argument("--cflist", metavar="HEX", help="16-byte CFList")
    _add_keys(ja, ("appkey", "nwkkey", "jsintkey", "jsenckey"))
    ja.add_argument("--join-eui", metavar="EUI", help="OptNeg MIC: JoinEUI of the request")
    ja.add_argument("--dev-nonce", type=_int, metavar="N", help="OptNeg MIC: its DevNonce")
    ja.add_argument("--join-req-type", type=_int, default=0xFF, metavar="T")
    ja.add_argument("--plain", action="store_true", help="print it before encryption")

    rj = esub.add_parser("rejoin-request", help="a 1.1 rejoin-request (type 0, 1 or 2)")
    rj.add_argument("--rejoin-type", type=_int, required=True, choices=(0, 1, 2))
    rj.add_argument("--dev-eui", required=True, metavar="EUI")
    rj.add_argument("--rj-count", type=_int, required=True, metavar="N")
    rj.add_argument("--net-id", metavar="HEX", help="types 0 and 2")
    rj.add_argument("--join-eui", metavar="EUI", help="type 1")
    _add_keys(rj, ("snwksintkey", "jsintkey"))

    for p in (ed, jr, ja, rj):
        p.add_argument("--base64", action="store_true", help="print base64 instead of hex")


_HEXRE = re.compile(r"(?:[0-9a-fA-F]{2})+")


def _phy_bytes(text):
    compact = "".join(text.split())
    if _HEXRE.fullmatch(compact):
        return bytes.fromhex(compact)
    try:
        return base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("HEX: not hex and not base64") from None


def _fmt(v):
    if v is None or isinstance(v, bool):
        return json.dumps(v)
    if v == "":
        return '""'
    return str(v)


def _render(d, frame):
    lines = []
    for name, value in d.items():
        if name == "fctrl" and value is not None:
            value = " ".join(f"{k}={_fmt(v)}" for k, v in value.items())
        if name == "mac_commands" and value:
            lines.append("mac_commands:")
            for cmd in value:
                fields = " ".join(f"{k}={_fmt(v)}" for k, v in cmd.items()
                                  if k not in ("cid", "name"))
                lines.append(f"  - {cmd['name']} (0x{cmd['cid']:02x}) {fields}".rstrip())
            continue
        if name == "mac_commands" and value == []:
            value = "none"
        if name == "frm_payload" and value:
            raw = bytes.fromhex(value)
            if all(32 <= b < 127 for b in raw):
                value = f'{value} ("{raw.decode("ascii")}")'
        lines.append(f"{name}: {_fmt(value)}")
    if frame.mic_ok is None and frame.mtype != "Proprietary":
        lines.append("note: MIC not checked (its key was not given)")
    if not frame.decrypted:
        lines.append("note: some fields are still encrypted (their key was not given)")
    return "\n".join(lines)


def _error(msg):
    sys.stderr.write(f"hromada lorawan: error: {msg}\n")
    return 2


def _decode(args):
    from hromada import lorawan

    try:
        phy = _phy_bytes(args.phy)
        frame = lorawan.decode(
            phy, nwkskey=args.nwkskey, appskey=args.appskey, appkey=args.appkey,
            nwkkey=args.nwkkey, fnwksintkey=args.fnwksintkey, snwksintkey=args.snwksintkey,
            nwksenckey=args.nwksenckey, jsintkey=args.jsintkey, jsenckey=args.jsenckey,
            fcnt=args.fcnt, version=args.lorawan_version, fopts_scheme=args.fopts_scheme,
            conf_fcnt=args.conf_fcnt, tx_dr=args.tx_dr, tx_ch=args.tx_ch,
            join_req_type=args.join_req_type, join_eui=args.join_eui, dev_nonce=args.dev_nonce)
    except DecodeError as exc:
        return _error(str(exc))
    except (ValueError, TypeError) as exc:
        return _error(str(exc))
    d = frame.to_dict()
    if args.json:
        json.dump(d, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(_render(d, frame))
    return 1 if frame.mic_ok is False else 0


def _encode(args):
    from hromada import lorawan

    kind = args.kind
    try:
        if kind == "data":
            phy = lorawan.encode_data(
                dev_addr=args.dev_addr, fcnt=args.fcnt, fport=args.fport, payload=args.payload,
                fopts=args.fopts, uplink=not args.downlink, confirmed=args.confirmed,
                adr=args.adr, adr_ack_req=args.adr_ack_req, ack=args.ack,
                fpending=args.fpending, class_b=args.class_b, nwkskey=args.nwkskey,
                appskey=args.appskey, fnwksintkey=args.fnwksintkey,
                snwksintkey=args.snwksintkey, nwksenckey=args.nwksenckey,
                version=args.lorawan_version, fopts_scheme=args.fopts_scheme,
                conf_fcnt=args.conf_fcnt, tx_dr=args.tx_dr, tx_ch=args.tx_ch)
        elif kind == "join-request":
            phy = lorawan.encode_join_request(join_eui=args.join_eui, dev_eui=args.dev_eui,
                                              dev_nonce=args.dev_nonce, appkey=args.appkey,
                                              nwkkey=args.nwkkey)
        elif kind == "join-accept":
            phy = lorawan.encode_join_accept(
                join_nonce=args.join_nonce, net_id=args.net_id, dev_addr=args.dev_addr,
                appkey=args.appkey, nwkkey=args.nwkkey, dl_settings=args.dl_settings,
                rx_delay=args.rx_delay, cflist=args.cflist, jsintkey=args.jsintkey,
                jsenckey=args.jsenckey, join_req_type=args.join_req_type,
                join_eui=args.join_eui, dev_nonce=args.dev_nonce, encrypt=not args.plain)
        elif kind == "rejoin-request":
            phy = lorawan.encode_rejoin_request(
                rejoin_type=args.rejoin_type, dev_eui=args.dev_eui, rj_count=args.rj_count,
                net_id=args.net_id, join_eui=args.join_eui, snwksintkey=args.snwksintkey,
                jsintkey=args.jsintkey)
        else:
            args._encode_parser.print_help()
            return 2
    except (EncodeError, ValueError, TypeError) as exc:
        return _error(str(exc))
    print(base64.b64encode(phy).decode() if args.base64 else phy.hex())
    return 0


def run(args) -> int:
    """Run ``hromada lorawan ...`` for parsed ``args``; returns the exit status."""
    if args.lorawan_command == "decode":
        return _decode(args)
    if args.lorawan_command == "encode":
        return _encode(args)
    args._lorawan_parser.print_help()
    return 2


def main(argv=None):
    """Standalone entry (``python -m hromada.lorawan.cli``), same as ``hromada lorawan``."""
    parser = argparse.ArgumentParser(prog="hromada lorawan", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    configure(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
