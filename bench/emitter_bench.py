"""Emitter benchmarks: emit call cost, encode+produce throughput, spool write and replay.

Needs a broker (``make up``):

    .venv/bin/python -m bench.emitter_bench [--events 200000] [--repeats 3]

Prints medians over ``--repeats`` runs of each measurement; figures are quoted in
``docs/benchmarks.md``. Not a test: nothing here asserts a time.
"""

import argparse
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from confluent_kafka import Producer

from joulestream import codec, simulate
from joulestream.events import Measurement
from joulestream.producer import EventProducer, producer_config
from joulestream.replay import replay
from joulestream.settings import EmitterSettings
from joulestream.spool import Spool


def fleet(n: int) -> list[Measurement]:
    """``n`` measurements of a 10-run fleet (the events a trainer sends most)."""
    runs = 10
    events = list(simulate.fleet(runs, n // runs, start_ms=1_767_225_600_000, seed=3))
    return simulate.measurements(events)


def emit_call_ns(events: list[Measurement], bootstrap: str, topic: str) -> list[int]:
    """The duration of every single ``emit`` call, nanoseconds, with a live background sender."""
    with tempfile.TemporaryDirectory() as tmp:
        # Room for the whole burst: this measures the queue path, not the spill to the spool.
        producer = EventProducer(bootstrap, topic, Path(tmp) / "spool.jsonl", len(events))
        durations = []
        clock = time.perf_counter_ns
        for event in events:
            start = clock()
            producer.emit(event)
            durations.append(clock() - start)
        producer.close()
        assert producer.stats.spooled == 0, f"the broker did not take every event: {producer.stats}"
    return durations


def encode_produce_per_s(events: list[Measurement], bootstrap: str, topic: str) -> float:
    """Events per second, one thread: encode with fastavro, produce, and flush at the end."""
    producer = Producer(producer_config(bootstrap))
    start = time.perf_counter()
    for event in events:
        record = event.to_record()
        while True:
            try:
                producer.produce(topic, codec.encode(record), key=event.run_id)
                break
            except BufferError:
                producer.poll(0.01)
        producer.poll(0)
    assert producer.flush(60) == 0
    return len(events) / (time.perf_counter() - start)


def emitter_per_s(events: list[Measurement], bootstrap: str, topic: str) -> float:
    """Events per second through ``EventProducer`` (emit, background sender, close)."""
    with tempfile.TemporaryDirectory() as tmp:
        producer = EventProducer(bootstrap, topic, Path(tmp) / "spool.jsonl", len(events))
        start = time.perf_counter()
        producer.emit_all(events)
        producer.close()
        elapsed = time.perf_counter() - start
        assert producer.stats.delivered == len(events), producer.stats
    return len(events) / elapsed


def spool_and_replay_per_s(
    events: list[Measurement], bootstrap: str, topic: str
) -> tuple[float, float]:
    """(spool writes/s in batches of 1000 with an fsync each, replay events/s to Kafka)."""
    with tempfile.TemporaryDirectory() as tmp:
        spool = Spool(Path(tmp) / "spool.jsonl")
        records = [e.to_record() for e in events]
        start = time.perf_counter()
        for i in range(0, len(records), 1000):
            spool.append(records[i : i + 1000])
        write_per_s = len(records) / (time.perf_counter() - start)
        start = time.perf_counter()
        summary = replay(spool.path, bootstrap, topic)
        replay_per_s = len(records) / (time.perf_counter() - start)
        assert summary.ok, summary
    return write_per_s, replay_per_s


def median_of(repeats: int, run: Callable[[], float]) -> float:
    return statistics.median(run() for _ in range(repeats))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--bootstrap-servers",
        default=EmitterSettings.from_env().bootstrap_servers,
    )
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    bootstrap, topic = args.bootstrap_servers, f"bench.{uuid.uuid4().hex[:8]}"
    events = fleet(args.events)
    print(f"{len(events)} events per run, median of {args.repeats} runs, topic {topic}")

    calls = [emit_call_ns(events, bootstrap, topic) for _ in range(args.repeats)]
    medians = [statistics.median(c) for c in calls]
    p99s = [statistics.quantiles(c, n=100)[98] for c in calls]
    print(f"emit call:               median {statistics.median(medians) / 1000:.2f} µs, "
          f"p99 {statistics.median(p99s) / 1000:.2f} µs")  # fmt: skip
    rate = median_of(args.repeats, lambda: encode_produce_per_s(events, bootstrap, topic))
    print(f"encode + produce:        {rate:,.0f} events/s (one thread)")
    rate = median_of(args.repeats, lambda: emitter_per_s(events, bootstrap, topic))
    print(f"EventProducer end to end: {rate:,.0f} events/s (emit → delivered)")
    pairs = [spool_and_replay_per_s(events, bootstrap, topic) for _ in range(args.repeats)]
    print(f"spool write:             {statistics.median(p[0] for p in pairs):,.0f} events/s "
          "(batches of 1000, fsync each)")  # fmt: skip
    print(f"replay:                  {statistics.median(p[1] for p in pairs):,.0f} events/s")


if __name__ == "__main__":
    main()
