"""``python -m emitter simulate|replay``: send a simulated fleet, or a spool, to Kafka.

Settings come from flags, with defaults from the environment (KAFKA_BOOTSTRAP_SERVERS,
JOULESTREAM_TOPIC), so the same command works against the local stack and a cluster.
"""

import argparse
import os
import sys
import time
from pathlib import Path

from emitter import replay, simulate
from emitter.producer import EventProducer


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m emitter",
        description="Emit joulestream training events to Kafka.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    sim = commands.add_parser(
        "simulate",
        help="send a seeded, reproducible fleet of simulated training runs",
        description="Send the measurements of simulated training runs, one per run per second "
        "of simulated time, starting now.",
    )
    sim.add_argument("--runs", type=int, default=6, help="concurrent runs (default: 6)")
    sim.add_argument(
        "--duration-s", type=int, default=600, help="simulated seconds per run (default: 600)"
    )
    sim.add_argument("--seed", type=int, default=42, help="random seed (default: 42)")
    sim.add_argument(
        "--speed",
        type=float,
        default=0.0,
        help="simulated seconds per wall-clock second; 0 sends as fast as possible (default: 0)",
    )
    sim.add_argument(
        "--start-ms",
        type=int,
        default=None,
        help="event time of the first interval, UTC epoch ms (default: now)",
    )
    sim.add_argument(
        "--spool",
        type=Path,
        default=Path(os.environ.get("JOULESTREAM_SPOOL", "joulestream-spool.jsonl")),
        help="where events Kafka did not take are kept for `replay` "
        "(env JOULESTREAM_SPOOL, default: ./joulestream-spool.jsonl)",
    )
    replay = commands.add_parser(
        "replay",
        help="send a spool (or any JSON Lines file of events) to Kafka",
        description="Send every valid event of a JSON Lines file to Kafka. Bad lines are "
        "reported with their line number and skipped; the exit code is 1 if any line was bad "
        "or any event was not delivered. Replaying a file twice is harmless: event ids are "
        "deterministic, so the pipeline counts each event once.",
    )
    replay.add_argument("path", type=Path, help="the JSON Lines file, e.g. the spool")
    for command in (sim, replay):
        command.add_argument(
            "--bootstrap-servers",
            default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"),
            help="Kafka bootstrap servers (env KAFKA_BOOTSTRAP_SERVERS, default: 127.0.0.1:9092)",
        )
        command.add_argument(
            "--topic",
            default=os.environ.get("JOULESTREAM_TOPIC", "training.events"),
            help="topic (env JOULESTREAM_TOPIC, default: training.events)",
        )
    return parser


def _replay(args: argparse.Namespace) -> int:
    if not args.path.is_file():
        print(f"error: no such file: {args.path}", file=sys.stderr)
        return 2
    summary = replay.replay(args.path, args.bootstrap_servers, args.topic, replay.print_progress)
    for bad in summary.bad_lines:
        print(f"{args.path}:{bad.line_no}: {bad.reason}", file=sys.stderr)
    print(
        f"replayed {args.path}: {summary.sent} sent, {summary.delivered} delivered, "
        f"{summary.failed} failed, {len(summary.bad_lines)} bad lines",
        file=sys.stderr,
    )
    return 0 if summary.ok else 1


def _simulate(args: argparse.Namespace) -> int:
    start_ms = args.start_ms if args.start_ms is not None else int(time.time() * 1000)
    producer = EventProducer(args.bootstrap_servers, args.topic, spool_path=args.spool)
    wall_start = time.monotonic()
    sent = 0
    try:
        for event in simulate.fleet(args.runs, args.duration_s, start_ms, args.seed):
            if args.speed > 0:
                # Pace by event time: an event goes out once its simulated time has come.
                due_s = (event.ts_ms - start_ms) / 1000 / args.speed
                delay_s = due_s - (time.monotonic() - wall_start)
                if delay_s > 0:
                    time.sleep(delay_s)
            producer.emit(event)
            sent += 1
    except KeyboardInterrupt:
        print("interrupted; flushing what was sent", file=sys.stderr)
    producer.close()
    stats = producer.stats
    print(
        f"emitted {sent} events to {args.topic}: {stats.delivered} delivered, "
        f"{stats.spooled} spooled to {args.spool} (send them with `replay`), {stats.dropped} lost",
        file=sys.stderr,
    )
    return 0 if stats.dropped == 0 else 1


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return _replay(args) if args.command == "replay" else _simulate(args)
