"""``pos-sim gate``: a transit gate that checks ride codes offline, opens or denies, and uploads its taps."""

from __future__ import annotations

import argparse
import json
import sys
from contextlib import ExitStack
from pathlib import Path

from pos_sim.cli.backend import default_data_dir, reach_gateway
from pos_sim.cli.errors import EXIT_DECLINED, EXIT_OK, UsageError
from pos_sim.cli.settings import FLAG_SETTINGS, merchant_language, terminal_values
from pos_sim.language import N_, _


GATE_BACKEND = ("backend", "backend_data_dir", "client_id", "merchant_key", "gateway_key")


GATE_SETTINGS = (*GATE_BACKEND, "time_zone")
"""The register commands' settings a gate takes (the backend and the operator's keys, the network's time zone)."""


def add_gate_command(commands: argparse._SubParsersAction) -> None:
    gate = commands.add_parser(
        "gate", help=N_("a transit gate: check ride codes offline, open or deny, upload the taps"),
        description="Decide open or deny for each ride code, offline, with the station's cached key ring, and print each "
                    "decision. Before and after, sync with --backend or an embedded simulator (upload the taps, refresh "
                    "the key ring); an unreachable backend is said on stderr and the gate goes on offline. "
                    "Exit 0 all open, 1 some denied (or images without a code), 2 bad usage or input.")
    gate.add_argument("--station", required=True, metavar="ID", help="the station: a stop id of the network, e.g. M01")
    gate.add_argument("--direction", required=True, choices=("in", "out"), help="entry or exit gate")
    gate.add_argument("--gate", default="G1", metavar="G", help="this gate's id at the station (default G1)")
    gate.add_argument("--station-dir", type=Path, metavar="DIR",
                      help="the station folder its gates share (default: <backend data dir>/stations/ID)")
    gate.add_argument("--network", type=Path, metavar="DIR", help="the fare network folder (default: assets/transit/metro)")
    source = gate.add_mutually_exclusive_group(required=True)
    source.add_argument("--scan", nargs="+", type=Path, metavar="PATH", help="image files and folders: each code found is a tap")
    source.add_argument("--camera", metavar="N", help="camera index or video file: each new code once")
    source.add_argument("--text", metavar="CODE", help="one ride code's text")
    gate.add_argument("--frames", type=int, metavar="N", help="with --camera: stop after N frames")
    gate.add_argument("--config", type=Path, metavar="FILE", help="a TOML settings file, as the register commands read")
    gate.add_argument("--backend", metavar="URL", help="the backend (default: an embedded simulator for this command)")
    gate.add_argument("--backend-data-dir", type=Path, metavar="DIR", help="a simulator's data dir: the operator's keys")
    gate.add_argument("--client-id", metavar="ID", help="the operator's client id at --backend")
    gate.add_argument("--merchant-key", type=Path, metavar="PEM", help="the operator's private key file")
    gate.add_argument("--gateway-key", type=Path, metavar="PEM", help="the gateway's public key file")
    gate.add_argument("--time-zone", metavar="ZONE", help="the network's time, for fares (default: this machine's)")
    gate.add_argument("--offline", action="store_true", help="no backend: decide with the cached key ring; taps wait")
    gate.add_argument("--json", action="store_true", help="one JSON object per decision")
    gate.set_defaults(run=run_gate, **{dest: None for dest in FLAG_SETTINGS if dest not in GATE_SETTINGS})


def run_gate(args: argparse.Namespace) -> int:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from pos_sim.terminal.gate import DEFAULT_NETWORK, Gate, TransitClient, scanned_texts
    from pos_sim.terminal.settings import GatewaySettings

    if args.offline and any(getattr(args, dest) is not None for dest in GATE_BACKEND):
        raise UsageError(_("--offline: no backend, so no --backend, --backend-data-dir or keys"))
    if args.frames is not None and args.camera is None:
        raise UsageError(_("--frames is for --camera"))
    if args.scan and (missing := [path for path in args.scan if not path.exists()]):
        raise UsageError(_("--scan {path}: no such file or folder").format(path=missing[0]))
    values, origins = terminal_values(args)
    try:
        zone = ZoneInfo(values["time_zone"]) if values.get("time_zone") else None
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(_("--time-zone {zone}: not an IANA time zone (like Asia/Singapore)").format(
            zone=repr(values["time_zone"]))) from None
    with ExitStack() as stack:
        client = None
        if not args.offline:
            reach_gateway(values, stack, origins)
            gateway = GatewaySettings(*(values.get(f"gateway.{name}") for name in
                                        ("url", "client_id", "merchant_key", "gateway_key", "simulator_data_dir")))
            client = TransitClient(gateway.credentials())
        station_dir = args.station_dir or Path(values.get("gateway.simulator_data_dir") or default_data_dir()) / "stations" / args.station
        gate = stack.enter_context(Gate.open(station_dir, args.station, args.gate, args.direction, client=client, zone=zone,
                                             network=args.network or DEFAULT_NETWORK))
        gate_synced(gate, N_("start"))
        if gate.keyring is None:
            why = _("the gate is --offline") if args.offline else _("the backend gave none")
            raise UsageError(_("no issuer key ring for station {station}: {path} is not there and {why}; run the gate once "
                               "with its backend reachable").format(station=args.station, path=gate.station.keyring_path,
                                                                    why=why))
        denied = unread = taps = 0
        try:
            scanned = scanned_texts(args.text, args.camera, args.scan, args.frames, merchant_language(args))
            for origin, text, error in scanned:
                if error is not None:
                    print(f"{origin}: {error}", file=sys.stderr)
                    unread += 1
                    continue
                decision = gate.decide(text)
                taps += 1
                denied += not decision.opened
                if args.json:
                    print(json.dumps(decision.to_json() | {"origin": origin}, ensure_ascii=False), flush=True)
                else:
                    fare = f" | {_(decision.fare_text)}" if decision.fare_text else ""
                    print(f"{decision.decision.upper():<4} {args.station}/{args.gate} {args.direction}: {_(decision.message)}"
                          f"{fare}  ({decision.reason}, {decision.ms:.1f} ms)", flush=True)
        finally:
            gate_synced(gate, N_("end"))
    if args.scan and taps == 0:
        raise UsageError(_("--scan: no code read in {paths}").format(paths=", ".join(map(str, args.scan))))
    return EXIT_OK if denied == 0 and unread == 0 else EXIT_DECLINED


def gate_synced(gate, when: str) -> None:
    """Sync the gate, and say on stderr what came of it."""
    report = gate.sync()
    if gate.client is not None and (not report.ok or report.uploaded or report.keyring_updated or when == "end"):
        print(f"gate: {_(report.summary(gate.client.credentials.url, when))}", file=sys.stderr, flush=True)
