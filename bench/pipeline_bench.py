"""Pipeline benchmarks: Kafka → Flink → MongoDB throughput, end-to-end latency, recovery after a
TaskManager kill, checkpoint duration and size as runs grow.

Needs the local stack (``make up``); each measurement runs its own job on its own topic and
database, like the integration tests:

    .venv/bin/python -m bench.pipeline_bench [--events 300000] [--rate 5000] [--seconds 60]

Each job reads a grid topic of its own (``<topic>.grid``), empty unless ``--grid-feed`` sends
hourly periods (the simulated diurnal series) for every zone of the benchmark's runs, covering
the events' time range, before the events; ``--grid-revision`` also sends a revision of every
period midway, which prices the runs' kept windows again. Throughput and latency only.

Prints its figures; they are quoted in ``docs/benchmarks.md``. Not a test: nothing here asserts
a time.
"""

import argparse
import contextlib
import dataclasses
import statistics
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient
from pymongo import MongoClient
from pymongo.database import Database

from joulestream import codec
from joulestream.events import Measurement
from joulestream.grid import send as grid_send
from joulestream.grid import simulated
from joulestream.grid.events import GridIntensity
from joulestream.producer import producer_config
from joulestream.schemas.documents import ensure_indexes
from joulestream.schemas.limits import MAX_INTENSITY_G_PER_KWH
from stack import flink, kafka, procs
from stack.services import job_env
from stack.settings import StackSettings

ZONES = ("FR",)
"""Every zone the benchmark's runs are in (``measurement``'s region)."""
HOUR_MS = 3_600_000


@dataclass(frozen=True)
class GridFeed:
    """What the grid topic gets: hourly periods before the events, and a revision midway."""

    revision: bool = False


@dataclass
class Job:
    settings: StackSettings
    topic: str
    grid_topic: str
    db: Database[dict[str, Any]]
    name: str
    env: dict[str, str]
    job_id: str = ""

    def submit(self) -> None:
        self.job_id = flink.submit(self.settings, self.env, job_name=self.name)


@contextlib.contextmanager
def job(settings: StackSettings, start: bool = True) -> Iterator[Job]:
    suffix = uuid.uuid4().hex[:8]
    topic, database, name = f"bench.{suffix}", f"bench_{suffix}", f"bench-{suffix}"
    # Its own grid topic: the stack's shared one may hold another run's series.
    grid_topic = f"{topic}.grid"
    kafka.ensure_topic(settings.bootstrap_servers, topic, settings.topic_partitions)
    kafka.ensure_topic(settings.bootstrap_servers, grid_topic, 1)
    client: MongoClient[dict[str, Any]] = MongoClient(settings.mongo_uri, tz_aware=True)
    db = client[database]
    ensure_indexes(db)
    own = dataclasses.replace(settings, topic=topic, grid_topic=grid_topic, mongo_database=database)
    env = job_env(own, name)
    handle = Job(settings, topic, grid_topic, db, name, env)
    try:
        if start:  # else the caller fills the topic first, then submits
            handle.submit()
        yield handle
    finally:
        for jid in [j["jid"] for j in flink.jobs(settings) if j.get("name") == name]:
            with contextlib.suppress(OSError):
                flink.cancel(settings, jid)
        client.drop_database(database)
        client.close()
        AdminClient({"bootstrap.servers": settings.bootstrap_servers}).delete_topics(
            [topic, f"{topic}.windows", grid_topic]
        )


def measurement(run: int, seq: int, ts_ms: int) -> bytes:
    event = Measurement(
        run_id=f"run-{run}", seq=seq, interval_start_ms=ts_ms - 1000, ts_ms=ts_ms,
        user_id=f"user-{run % 7}", model=f"model-{run % 5}", region=ZONES[0],
        cpu_energy_j=10.5, gpu_energy_j=250.25, ram_energy_j=3.125, samples=64,
    )  # fmt: skip
    return codec.encode(event.to_record())


def produce(bootstrap: str, topic: str, values: Iterator[tuple[str, bytes]]) -> int:
    producer = Producer(producer_config(bootstrap))
    sent = 0
    for key, value in values:
        while True:
            try:
                producer.produce(topic, value, key=key)
                break
            except BufferError:
                producer.poll(0.01)
        sent += 1
        producer.poll(0)
    assert producer.flush(120) == 0
    return sent


def counted(db: Database[dict[str, Any]]) -> int:
    return sum(d["events"] for d in db.runs.find({}, {"events": 1}))


def send_grid(j: Job, periods: list[GridIntensity]) -> None:
    summary = grid_send.send(periods, j.grid_topic, producer_config(j.settings.bootstrap_servers))
    if not summary.ok:
        raise RuntimeError(f"grid periods not delivered: {summary.failures[:3]}")


def feed_grid(j: Job, from_ms: int, to_ms: int) -> list[GridIntensity]:
    """Sends hourly periods of every zone in ``ZONES`` that cover ``[from_ms, to_ms)``."""
    first_ms = from_ms - from_ms % HOUR_MS
    periods = simulated.diurnal(ZONES, first_ms, -(-(to_ms - first_ms) // HOUR_MS))
    send_grid(j, periods)
    return periods


def revise_grid(j: Job, periods: list[GridIntensity]) -> None:
    """Sends every period again, 10 % higher and published now: each prices again what its
    period priced."""
    now_ms = time.time_ns() // 1_000_000
    send_grid(j, [
        dataclasses.replace(
            p, published_at_ms=now_ms,
            intensity_g_per_kwh=min(round(p.intensity_g_per_kwh * 1.1, 1), MAX_INTENSITY_G_PER_KWH),
        )
        for p in periods
    ])  # fmt: skip


def throughput(settings: StackSettings, events: int, runs: int, grid: GridFeed | None) -> float:
    """Events/s from a pre-filled topic: first document to every event counted."""
    with job(settings, start=False) as j:
        # Ending now: the job keeps only events of the last 7 days (JOULESTREAM_MAX_EVENT_AGE_S).
        t0 = time.time_ns() // 1_000_000 - (events // runs + 1) * 1000
        periods = [] if grid is None else feed_grid(j, t0 - 1000, t0 + (events // runs + 1) * 1000)
        revise = grid is not None and grid.revision
        values = (
            (f"run-{i % runs}", measurement(i % runs, i // runs, t0 + (i // runs) * 1000))
            for i in range(events)
        )
        produce(settings.bootstrap_servers, j.topic, values)
        j.submit()
        while counted(j.db) == 0:
            time.sleep(0.2)
        start = time.monotonic()
        while (done := counted(j.db)) < events:
            if revise and done >= events // 2:
                revise_grid(j, periods)
                revise = False
            time.sleep(0.2)
        return events / (time.monotonic() - start)


def latency(
    settings: StackSettings, rate: int, seconds: int, runs: int, grid: GridFeed | None
) -> list[float]:
    """Seconds from an event's creation (its ts_ms) to its run's document counting it."""
    created: dict[str, list[float]] = {f"run-{r}": [] for r in range(runs)}
    with job(settings, start=False) as j:
        now_ms = time.time_ns() // 1_000_000
        # Sent before the job starts: it reads the series before the first event.
        periods = [] if grid is None else feed_grid(j, now_ms, now_ms + (seconds + 120) * 1000)
        revise = grid is not None and grid.revision
        j.submit()
        stop = threading.Event()
        seen: dict[str, list[tuple[float, int]]] = {r: [] for r in created}

        def poll() -> None:
            while not stop.is_set():
                now = time.time()
                for d in j.db.runs.find({}, {"events": 1}):
                    if d["_id"] in seen:
                        seen[d["_id"]].append((now, d["events"]))
                time.sleep(0.1)

        poller = threading.Thread(target=poll, daemon=True)
        poller.start()
        producer = Producer(producer_config(settings.bootstrap_servers))
        start, sent = time.time(), 0
        while sent < rate * seconds:
            if revise and time.time() - start >= seconds / 2:
                revise_grid(j, periods)
                revise = False
            due = int((time.time() - start) * rate)
            while sent < min(due, rate * seconds):
                run = f"run-{sent % runs}"
                now = time.time()
                created[run].append(now)
                seq = len(created[run]) - 1
                producer.produce(j.topic, measurement(sent % runs, seq, int(now * 1000)), key=run)
                sent += 1
            producer.poll(0)
            time.sleep(0.001)
        producer.flush(30)
        deadline = time.time() + 60
        while time.time() < deadline and counted(j.db) < sent:
            time.sleep(0.5)
        stop.set()
        poller.join()
    latencies = []
    for run, times in created.items():
        observations = seen[run]
        k = 0
        for i, t in enumerate(times):
            while k < len(observations) and observations[k][1] < i + 1:
                k += 1
            if k < len(observations):
                latencies.append(observations[k][0] - t)
    return latencies


def recovery(settings: StackSettings, runs: int) -> tuple[float, float]:
    """(seconds from kill -9 of the TaskManager to the job running again, seconds until the
    events sent meanwhile are counted), with 200 events/s flowing."""
    with job(settings) as j:
        stop = threading.Event()
        sent = [0]

        def send() -> None:
            producer = Producer(producer_config(settings.bootstrap_servers))
            while not stop.is_set():
                run, ts_ms = sent[0] % runs, int(time.time() * 1000)
                value = measurement(run, sent[0] // runs, ts_ms)
                producer.produce(j.topic, value, key=f"run-{run}")
                sent[0] += 1
                producer.poll(0)
                time.sleep(0.005)
            producer.flush(30)

        sender = threading.Thread(target=send, daemon=True)
        sender.start()
        while int(flink.checkpoints(settings, j.job_id)["counts"]["completed"]) == 0:
            time.sleep(0.5)
        killed = time.monotonic()
        procs.kill(settings, "flink-taskmanager")
        while procs.running_pid(settings, "flink-taskmanager") is not None:
            time.sleep(0.1)
        flink.up(settings)
        while int(flink.checkpoints(settings, j.job_id)["counts"]["restored"]) == 0 or (
            flink.job_state(settings, j.job_id) != "RUNNING"
        ):
            time.sleep(0.2)
        running = time.monotonic() - killed
        target = sent[0]
        while counted(j.db) < target:
            time.sleep(0.2)
        caught_up = time.monotonic() - killed
        stop.set()
        sender.join()
    return running, caught_up


def checkpoint_growth(settings: StackSettings, steps: list[int]) -> None:
    """Print distinct runs, checkpoint duration and checkpointed state size as runs are added.

    FerretDB on SQLite replaces a few hundred documents a second, so thousands of active runs
    make the sink, not the checkpoint, the limit here; a real MongoDB goes further."""
    with job(settings) as j:
        t0_ms, total = int(time.time() * 1000), 0
        for runs in steps:
            values = ((f"run-{r}", measurement(r, 0, t0_ms)) for r in range(total, runs))
            produce(settings.bootstrap_servers, j.topic, values)
            total = runs
            while counted(j.db) < runs:
                time.sleep(0.5)
            done = int(flink.checkpoints(settings, j.job_id)["counts"]["completed"])
            while int(flink.checkpoints(settings, j.job_id)["counts"]["completed"]) <= done + 1:
                time.sleep(0.5)
            latest = flink.checkpoints(settings, j.job_id)["latest"]["completed"]
            size = int(latest.get("checkpointed_size", latest.get("state_size", 0)))
            duration_ms = int(latest["end_to_end_duration"])
            print(f"checkpoint with {runs:>6,} runs: {duration_ms:>5} ms, {size / 1e6:.2f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--rate", type=int, default=5_000)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", choices=["throughput", "latency", "recovery", "checkpoints"])
    parser.add_argument(
        "--grid-feed", action="store_true",
        help="send hourly grid periods for the runs' zones before the events (throughput, latency)",
    )  # fmt: skip
    parser.add_argument(
        "--grid-revision", action="store_true",
        help="with --grid-feed: send a revision of every period midway (re-pricing)",
    )  # fmt: skip
    args = parser.parse_args()
    if args.grid_revision and not args.grid_feed:
        parser.error("--grid-revision needs --grid-feed")
    settings = StackSettings.from_env()
    grid = GridFeed(revision=args.grid_revision) if args.grid_feed else None
    fed = (
        ""
        if grid is None
        else f"; grid feed: hourly periods of {', '.join(ZONES)}"
        + (", revised midway" if grid.revision else "")
    )

    if args.only in (None, "throughput"):
        rates = [throughput(settings, args.events, 100, grid) for _ in range(args.repeats)]
        each = [round(r) for r in rates]
        print(f"throughput: median {statistics.median(rates):,.0f} events/s "
              f"({args.events:,} pre-loaded events, 100 runs; each run {each}{fed})")  # fmt: skip
    if args.only in (None, "latency"):
        lat = latency(settings, args.rate, args.seconds, 100, grid)
        q = statistics.quantiles(lat, n=100)
        print(f"latency at {args.rate}/s for {args.seconds} s: p50 {q[49]:.2f} s, "
              f"p99 {q[98]:.2f} s, max {max(lat):.2f} s ({len(lat):,} events{fed})")  # fmt: skip
    if args.only in (None, "recovery"):
        results = [recovery(settings, runs=20) for _ in range(args.repeats)]
        print(f"recovery after kill -9 of the TaskManager: job running again after median "
              f"{statistics.median(r[0] for r in results):.1f} s, caught up after median "
              f"{statistics.median(r[1] for r in results):.1f} s")  # fmt: skip
    if args.only in (None, "checkpoints"):
        checkpoint_growth(settings, [100, 500, 1_000])


if __name__ == "__main__":
    main()
