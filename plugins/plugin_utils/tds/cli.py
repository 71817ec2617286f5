"""One-off probe of one endpoint, without an inventory.

    python -m ansible_collections.mssql.tls.plugins.plugin_utils.tds.cli sql01:1433 \
        [--mode tds|strict|tls] [--out probe.json] [--profile odbc18 ...] [--timeout 5] [--delay 0]

Prints the readable table (``format_table``) and, with ``--out``, writes the
whole probe result as JSON (schema: docs/prober.md; among others
``protocols``, ``cipher_suites`` per protocol in server order,
``certificate``, ``encryption`` and ``client_verdicts``). Certificates are
observed, never validated.

Exit status: 0 when the endpoint was probed (whatever it accepts or
refuses: a refusal is a finding), 1 when it could not be reached or the JSON
could not be written, 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .errors import ProbeInputError
from .probe import format_table, probe_endpoint
from .profiles import PROFILES
from .transport import MODES

EXIT_PROBED, EXIT_UNREACHABLE, EXIT_USAGE = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ansible_collections.mssql.tls.plugins.plugin_utils.tds.cli",
        description="Probe a SQL Server port the way clients connect: TLS protocols, cipher suites in "
        "server order, certificate, ForceEncryption, and which client profiles would fail with error "
        "10054. The certificate is observed, not validated.",
    )
    parser.add_argument("target", help="host, host:port or [ipv6]:port (port default 1433)")
    parser.add_argument(
        "--mode",
        choices=MODES,
        default="tds",
        help="tds: TDS 7.x (PRELOGIN, TLS inside TDS packets); strict: TDS 8.0 (TLS first, ALPN tds/8.0); "
        "tls: plain TLS (default: tds)",
    )
    parser.add_argument("--out", type=Path, help="write the probe result as JSON to this file")
    parser.add_argument(
        "--profile",
        dest="profiles",
        action="append",
        metavar="NAME",
        help="client profile to judge (repeatable; default: those using the mode's entry path). "
        f"Known: {', '.join(p.name for p in PROFILES)}",
    )
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds per receive (default 5)")
    parser.add_argument(
        "--delay", type=float, default=0.0, help="seconds between handshakes of one protocol (default 0)"
    )
    parser.add_argument("--server-name", help="SNI host name to send (not an IP address)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        result = probe_endpoint(
            args.target,
            args.mode,
            timeout=args.timeout,
            delay=args.delay,
            profiles=args.profiles,
            server_name=args.server_name,
        )
    except ProbeInputError as error:
        parser.error(str(error))  # exits with EXIT_USAGE
    print(format_table(result))
    if args.out is not None and not _write_json(args.out, result):
        return EXIT_UNREACHABLE
    reached = any(state is not None for state in result["protocols"].values())
    return EXIT_PROBED if reached else EXIT_UNREACHABLE


def _write_json(path: Path, result: dict[str, Any]) -> bool:
    try:
        path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    except OSError as error:
        print(f"--out: cannot write {path}: {error}", file=sys.stderr)
        return False
    return True


if __name__ == "__main__":
    sys.exit(main())
