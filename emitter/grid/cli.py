"""``joulestream grid csv|electricitymaps|gb-carbon-intensity|watttime|simulate``: send
grid carbon intensity to the ``grid.intensity`` topic (Kafka key = zone).

``main(argv)`` is the entry point (for a console script too). Kafka settings as the emitter's:
``--bootstrap-servers`` (env KAFKA_BOOTSTRAP_SERVERS), the ``KAFKA_SECURITY_PROTOCOL`` and
``KAFKA_SASL_*`` variables; the topic from ``--topic`` (env JOULESTREAM_GRID_TOPIC). Exit code:
0 every period sent, 1 some entry was not a valid period or was not delivered (each reported),
2 usage error (no such file, not the expected format, bad Kafka settings).
"""

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from joulestream.grid import (
    csv_source,
    electricitymaps,
    gb_carbon_intensity,
    send,
    simulated,
    watttime,
)
from joulestream.grid.parsing import Parsed, SourceFormatError, utc_ms
from joulestream.producer import producer_config
from joulestream.schemas import defaults
from joulestream.simulate import REGIONS

MAX_JSON_BYTES = 64 * 1024 * 1024
"""A response larger than this is not read (a year of 5-minute points is about 10 MB)."""


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _time(text: str) -> int:
    try:
        return utc_ms(text, "time")
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--bootstrap-servers",
        default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or defaults.KAFKA_BOOTSTRAP_SERVERS,
        help="Kafka bootstrap servers (env KAFKA_BOOTSTRAP_SERVERS, default: "
        f"{defaults.KAFKA_BOOTSTRAP_SERVERS})",
    )
    common.add_argument(
        "--topic",
        default=os.environ.get("JOULESTREAM_GRID_TOPIC", defaults.GRID_TOPIC),
        help=f"topic (env JOULESTREAM_GRID_TOPIC, default: {defaults.GRID_TOPIC})",
    )
    common.add_argument(
        "--timeout-s",
        type=float,
        default=60.0,
        help="how long to wait for Kafka's acknowledgements (default: 60)",
    )
    common.add_argument(
        "--print",
        action="store_true",
        help="write the records as JSON Lines to stdout instead of sending them",
    )
    from_file = argparse.ArgumentParser(add_help=False)
    from_file.add_argument("path", type=Path, help="the file to read; '-' reads stdin")
    from_file.add_argument(
        "--zone", default=None, help="publish under this zone (e.g. your runs' region)"
    )
    from_file.add_argument(
        "--published-at",
        type=_time,
        default=None,
        help="when the data was fetched or published, ISO 8601 with offset or UTC epoch ms, "
        "for entries that do not say (default: now)",
    )

    parser = argparse.ArgumentParser(
        prog="joulestream grid",
        description="Send grid carbon intensity (one record per zone and period) to Kafka.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    table = commands.add_parser(
        "csv",
        parents=[common, from_file],
        help="zone time series from a CSV file",
        description="Columns: zone, start, end, intensity_g_per_kwh, and optionally kind, "
        "source, published_at, estimated. Times are ISO 8601 with their offset or UTC epoch "
        "ms. zone, source and end may be given for the whole file instead.",
    )
    table.add_argument("--source", default=None, help="the source of every row without one")
    table.add_argument(
        "--kind", choices=("average", "marginal"), default="average", help="default: average"
    )
    table.add_argument(
        "--period-s", type=int, default=None, help="period length for rows without an end"
    )
    commands.add_parser(
        "electricitymaps",
        parents=[common, from_file],
        help="Electricity Maps /v3/carbon-intensity/history (or past-range) JSON",
    )
    gb = commands.add_parser(
        "gb-carbon-intensity",
        parents=[common, from_file],
        help="Great Britain's Carbon Intensity API JSON (national or regional)",
    )
    gb.add_argument("--region-id", type=int, default=None, help="keep only this region")
    commands.add_parser(
        "watttime",
        parents=[common, from_file],
        help="WattTime v3 /historical, /forecast or /forecast/historical JSON",
    )
    sim = commands.add_parser(
        "simulate",
        parents=[common],
        help="a seeded diurnal series per zone (for the demo)",
        description="Hourly intensities shaped by the hour of the day around each zone's "
        "yearly figure; deterministic for a seed.",
    )
    sim.add_argument(
        "--zones",
        default=",".join(REGIONS),
        help="comma-separated zones (default: the simulated fleet's regions)",
    )
    sim.add_argument(
        "--start",
        type=_time,
        default=None,
        help="first period, ISO 8601 or UTC epoch ms (default: 24 h before now)",
    )
    sim.add_argument("--hours", type=int, default=48, help="hours of data (default: 48)")
    sim.add_argument("--period-s", type=int, default=3600, help="period length (default: 3600)")
    sim.add_argument("--seed", type=int, default=42, help="random seed (default: 42)")
    return parser


def _read_json(path: Path) -> Any:  # noqa: ANN401
    data = sys.stdin.buffer.read(MAX_JSON_BYTES + 1) if str(path) == "-" else None
    if data is None:
        with open(path, "rb") as file:
            data = file.read(MAX_JSON_BYTES + 1)
    if len(data) > MAX_JSON_BYTES:
        raise SourceFormatError(f"{path} is larger than {MAX_JSON_BYTES} bytes")
    try:
        return json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise SourceFormatError(f"{path} is not JSON: {exc}") from None


def _read(args: argparse.Namespace) -> Parsed:
    if args.command == "simulate":
        if not 0 < args.hours <= 24 * 366 or args.period_s * 1000 < 60_000:
            raise SourceFormatError("--hours must be in (0, 8784] and --period-s at least 60")
        start_ms = _now_ms() - 24 * simulated.HOUR_MS if args.start is None else args.start
        zones = [zone.strip() for zone in args.zones.split(",") if zone.strip()]
        return Parsed(
            events=simulated.diurnal(zones, start_ms, args.hours, args.seed, args.period_s * 1000)
        )
    published_at_ms = _now_ms() if args.published_at is None else args.published_at
    if args.command == "csv":
        defaults = csv_source.Defaults(
            published_at_ms=published_at_ms,
            zone=args.zone,
            source=args.source,
            kind=args.kind,
            period_ms=None if args.period_s is None else args.period_s * 1000,
        )
        if str(args.path) == "-":
            return csv_source.read_lines(sys.stdin, defaults)
        return csv_source.read(args.path, defaults)
    payload = _read_json(args.path)
    if args.command == "gb-carbon-intensity":
        return gb_carbon_intensity.read(payload, published_at_ms, args.zone, args.region_id)
    readers: dict[str, Callable[[Any, int, str | None], Parsed]] = {
        "electricitymaps": electricitymaps.read,
        "watttime": watttime.read,
    }
    return readers[args.command](payload, published_at_ms, args.zone)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    where = getattr(args, "path", args.command)
    try:
        parsed = _read(args)
        config = (
            None
            if args.print
            else producer_config(
                args.bootstrap_servers, message_timeout_ms=int(args.timeout_s * 1000)
            )
        )
    except FileNotFoundError:
        print(f"error: no such file: {where}", file=sys.stderr)
        return 2
    except (OSError, ValueError) as exc:  # SourceFormatError, bad Kafka settings
        print(f"error: {where}: {exc}", file=sys.stderr)
        return 2
    for problem in parsed.problems:
        print(f"{where}: {problem}", file=sys.stderr)
    if config is None:
        count = send.write_json_lines(parsed.events)
        print(f"{count} periods, {len(parsed.problems)} entries skipped", file=sys.stderr)
        return 1 if parsed.problems else 0
    summary = send.send(parsed.events, args.topic, config, args.timeout_s)
    for failure in summary.failures:
        print(failure, file=sys.stderr)
    print(
        f"{where}: {summary.delivered} of {len(parsed.events)} periods delivered to "
        f"{args.topic}, {len(summary.failures)} not delivered, {len(parsed.problems)} entries "
        "skipped",
        file=sys.stderr,
    )
    return 0 if summary.ok and not parsed.problems else 1
