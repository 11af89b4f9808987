"""``python -m emitter simulate``: send a simulated fleet to Kafka.

Settings come from flags, with defaults from the environment (KAFKA_BOOTSTRAP_SERVERS,
JOULESTREAM_TOPIC), so the same command works against the local stack and a cluster.
"""

import argparse
import os
import sys
import time

from emitter import simulate
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
        "--bootstrap-servers",
        default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"),
        help="Kafka bootstrap servers (env KAFKA_BOOTSTRAP_SERVERS, default: 127.0.0.1:9092)",
    )
    sim.add_argument(
        "--topic",
        default=os.environ.get("JOULESTREAM_TOPIC", "training.events"),
        help="topic (env JOULESTREAM_TOPIC, default: training.events)",
    )
    return parser


def _simulate(args: argparse.Namespace) -> int:
    start_ms = args.start_ms if args.start_ms is not None else int(time.time() * 1000)
    producer = EventProducer(args.bootstrap_servers, args.topic)
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
            producer.send(event)
            sent += 1
    except KeyboardInterrupt:
        print("interrupted; flushing what was sent", file=sys.stderr)
    undelivered = producer.flush()
    print(
        f"sent {sent} events to {args.topic}: {producer.stats.delivered} delivered, "
        f"{producer.stats.failed + undelivered} failed",
        file=sys.stderr,
    )
    return 0 if producer.stats.failed + undelivered == 0 else 1


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return _simulate(args)
