"""``joulestream simulate|replay|track|doctor|grid`` (or ``python -m joulestream``): send a
simulated fleet or a spool to Kafka, measure a training command, say how this host is measured,
or send grid carbon-intensity series.

Settings come from flags, with defaults from the environment (KAFKA_BOOTSTRAP_SERVERS,
JOULESTREAM_TOPIC), so the same command works against the local stack and a cluster.
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

from confluent_kafka import Producer

from joulestream import chaos, doctor, replay, simulate, track
from joulestream.meters.select import CPU_CHOICES, GPU_CHOICES, RAM_CHOICES
from joulestream.producer import DEFAULT_SPOOL, EventProducer, producer_config


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="joulestream",
        description="Emit joulestream training events to Kafka.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser(
        "grid",
        help="send grid carbon-intensity series to the grid.intensity topic "
        "(joulestream grid --help)",
        add_help=False,
    )
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
        default=Path(os.environ.get("JOULESTREAM_SPOOL", str(DEFAULT_SPOOL))),
        help="where events Kafka did not take are kept for `replay` "
        "(env JOULESTREAM_SPOOL, default: ./joulestream-spool.jsonl)",
    )
    chaos = sim.add_argument_group(
        "chaos", "faults to inject, for testing the pipeline (all off by default)"
    )
    chaos.add_argument(
        "--out-of-order-ms",
        type=int,
        default=0,
        help="shuffle events within windows of this much event time",
    )
    chaos.add_argument(
        "--late-fraction",
        type=float,
        default=0.0,
        help="share of events sent only after events --late-by-s newer",
    )
    chaos.add_argument("--late-by-s", type=int, default=0, help="how late a late event is")
    chaos.add_argument(
        "--duplicate-fraction",
        type=float,
        default=0.0,
        help="share of events sent twice (same event id)",
    )
    chaos.add_argument(
        "--malformed-fraction",
        type=float,
        default=0.0,
        help="undecodable records to add, as a share of the events",
    )
    chaos.add_argument(
        "--clock-skew-ms",
        type=int,
        default=0,
        help="each run's clock is off by up to this much, either way",
    )
    chaos.add_argument(
        "--manifest",
        type=Path,
        default=None,
        help="write what was injected and the exact expected totals to this JSON",
    )
    replay = commands.add_parser(
        "replay",
        help="send a spool (or any JSON Lines file of events) to Kafka",
        description="Send every valid event of a JSON Lines file to Kafka. Every line that "
        "fails (not a valid event, refused by Kafka, not acknowledged in time) is reported "
        "with its line number and reason, and the replay goes on. Afterwards the file holds "
        "only the lines that failed (empty if none did), so replaying it again retries just "
        "those. Exit code: 0 every line sent, 1 some line failed, 2 usage error.",
    )
    replay.add_argument("path", type=Path, help="the JSON Lines file, e.g. the spool")
    replay.add_argument(
        "--timeout-s",
        type=float,
        default=60.0,
        help="how long an event may wait for Kafka's acknowledgement (default: 60)",
    )
    checkup = commands.add_parser(
        "doctor",
        help="say what this host can measure, and whether events would reach Kafka",
        description="Choose the meters as a tracker would (RAPL, NVML, the estimates; psutil) "
        "and print each one's method and the reason for the choice; check that the spool can "
        "be written and that the broker answers. Exit code 1 on a hard problem: a meter named "
        "explicitly that cannot be used, a spool that cannot be written, bad Kafka settings "
        "(and, with --require-broker, a broker that does not answer).",
    )
    checkup.add_argument(
        "--spool",
        type=Path,
        default=Path(os.environ.get("JOULESTREAM_SPOOL", str(DEFAULT_SPOOL))),
        help="the spool a run would use "
        "(env JOULESTREAM_SPOOL, default: ./joulestream-spool.jsonl)",
    )
    checkup.add_argument(
        "--timeout-s",
        type=float,
        default=doctor.DEFAULT_TIMEOUT_S,
        help=f"how long to wait for the broker (default: {doctor.DEFAULT_TIMEOUT_S:g})",
    )
    checkup.add_argument(
        "--require-broker",
        action="store_true",
        help="a broker that does not answer is a hard problem (exit code 1)",
    )
    tracked = commands.add_parser(
        "track",
        help="run a training command and measure it: track [options] -- python train.py",
        description="Run a command to its end, emitting run_started, a measurement per "
        "interval and run_finished for it. The CPU estimate (where RAPL cannot be read) covers "
        "the command's whole process tree; RAPL and NVML measure whole devices. The command, "
        "the arguments, the meters and the Kafka settings are checked before it starts. The "
        "exit code is the command's; else 2: bad arguments, meters or settings; 127: command "
        "not found; 126: not executable; 125: the tracker failed and the command was ended.",
    )
    tracked.add_argument("--model", required=True, help="the model being trained")
    tracked.add_argument("--project", default="default", help="project (default: default)")
    tracked.add_argument("--dataset", default=None, help="dataset name")
    tracked.add_argument("--framework", default=None, help="e.g. 'pytorch 2.5'")
    tracked.add_argument("--run-id", default=None, help="run id (default: a new UUID)")
    tracked.add_argument(
        "--user", default=None, help="user id (env JOULESTREAM_USER, default: login name)"
    )
    tracked.add_argument(
        "--region",
        default=None,
        help="country or cloud region (env JOULESTREAM_REGION, default: WORLD)",
    )
    tracked.add_argument(
        "--interval-s",
        type=float,
        default=1.0,
        help="seconds per measurement, at most 3600 (default: 1)",
    )
    for plan, what in (("steps", "optimizer steps"), ("epochs", "epochs")):
        tracked.add_argument(
            f"--planned-{plan}",
            type=int,
            default=None,
            help=f"{what} the run will take in all, for the dashboard's ETA and projected totals",
        )
    tracked.add_argument(
        "--kill-after-s",
        type=float,
        default=track.DEFAULT_KILL_AFTER_S,
        help="if the tracker fails, the command is sent SIGTERM, and SIGKILL after this long "
        f"(default: {track.DEFAULT_KILL_AFTER_S:g})",
    )
    tracked.add_argument(
        "argv", nargs=argparse.REMAINDER, metavar="-- COMMAND", help="the command and its args"
    )
    for part, env_name, choices in (
        ("cpu", "JOULESTREAM_CPU_METER", CPU_CHOICES),
        ("ram", "JOULESTREAM_RAM_METER", RAM_CHOICES),
        ("gpu", "JOULESTREAM_GPU_METER", GPU_CHOICES),
    ):
        for sub in (checkup, tracked):
            sub.add_argument(
                f"--{part}-meter",
                choices=choices,
                default=os.environ.get(env_name, "auto"),
                help=f"{part.upper()} meter (env {env_name}, default: auto)",
            )
    for command in (sim, replay, tracked, checkup):
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
    if not 0 < args.timeout_s <= 3600:
        print(f"error: --timeout-s must be in (0, 3600], got {args.timeout_s}", file=sys.stderr)
        return 2
    try:
        config = producer_config(
            args.bootstrap_servers, message_timeout_ms=int(args.timeout_s * 1000)
        )
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    summary = replay.replay(
        args.path,
        args.bootstrap_servers,
        args.topic,
        replay.print_progress,
        timeout_s=args.timeout_s,
        config=config,
    )
    for bad in summary.failures:
        print(f"{args.path}:{bad.line_no}: {bad.reason}", file=sys.stderr)
    print(
        f"replayed {args.path}: {summary.lines} lines, {summary.delivered} delivered, "
        f"{summary.failed} not delivered, {len(summary.bad_lines)} not valid events",
        file=sys.stderr,
    )
    if summary.keep_error is not None:
        print(f"error: {summary.keep_error}", file=sys.stderr)
    elif summary.kept:
        print(
            f"the {summary.kept} failed lines are kept in {args.path} (line numbers above are "
            "those of the file before this replay)",
            file=sys.stderr,
        )
    return 0 if summary.ok else 1


def _simulate(args: argparse.Namespace) -> int:
    start_ms = args.start_ms if args.start_ms is not None else int(time.time() * 1000)
    events = list(simulate.fleet(args.runs, args.duration_s, start_ms, args.seed))
    try:
        config = chaos.ChaosConfig(
            out_of_order_ms=args.out_of_order_ms,
            late_fraction=args.late_fraction,
            late_by_ms=args.late_by_s * 1000,
            duplicate_fraction=args.duplicate_fraction,
            malformed_fraction=args.malformed_fraction,
            clock_skew_ms=args.clock_skew_ms,
        )
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    sequence, manifest = chaos.inject(events, config, seed=args.seed)
    if args.manifest is not None:
        args.manifest.write_text(json.dumps(manifest.to_json(), indent=1) + "\n")
    try:
        kafka_config = producer_config(args.bootstrap_servers)  # security from the environment
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    producer = EventProducer(args.bootstrap_servers, args.topic, spool_path=args.spool)
    # Malformed records bypass the event model on purpose: they test the dead-letter path.
    raw = Producer(kafka_config) if manifest.malformed else None
    wall_start = time.monotonic()
    sent = 0
    paced_ms = start_ms
    try:
        for item in sequence:
            if isinstance(item, chaos.Malformed):
                assert raw is not None
                raw.produce(args.topic, value=item.value, key=item.key)
                raw.poll(0)
                sent += 1
                continue
            # Pace by the true time: a skewed trainer still sends in real time.
            paced_ms = max(paced_ms, item.ts_ms - manifest.clock_skew_ms.get(item.run_id, 0))
            if args.speed > 0:
                # Pace by event time: an event goes out once its simulated time has come.
                due_s = (paced_ms - start_ms) / 1000 / args.speed
                delay_s = due_s - (time.monotonic() - wall_start)
                if delay_s > 0:
                    time.sleep(delay_s)
            producer.emit(item)
            sent += 1
    except KeyboardInterrupt:
        print("interrupted; flushing what was sent", file=sys.stderr)
    producer.close()
    raw_undelivered = raw.flush(30) if raw is not None else 0
    stats = producer.stats
    print(
        f"sent {sent} records to {args.topic}: {stats.delivered} events delivered, "
        f"{stats.spooled} spooled to {args.spool} (send them with `replay`), {stats.dropped} lost"
        + (f", {manifest.malformed} malformed" if manifest.malformed else ""),
        file=sys.stderr,
    )
    return 0 if stats.dropped == 0 and raw_undelivered == 0 else 1


def main(argv: list[str] | None = None) -> int:
    given = sys.argv[1:] if argv is None else argv
    if given[:1] == ["grid"]:
        # The grid feed has its own sources and options (joulestream/grid/cli.py).
        from joulestream.grid import cli as grid_cli

        return grid_cli.main(given[1:])
    args = _parser().parse_args(argv)
    if args.command == "doctor":
        return doctor.doctor(
            args.cpu_meter,
            args.ram_meter,
            args.gpu_meter,
            args.bootstrap_servers,
            args.topic,
            args.spool,
            timeout_s=args.timeout_s,
            require_broker=args.require_broker,
        )
    if args.command == "track":
        return track.track(args)
    return _replay(args) if args.command == "replay" else _simulate(args)
