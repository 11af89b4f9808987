"""The job in front of careless or hostile producers, and event time judged per run.

Traffic goes in real arrival order: each trainer's events in the order it emitted them, the
trainers interleaved by their true time. No probe, no wake-up and no event from the future:
each run's windows follow that run's own events.
"""

import dataclasses
import heapq
import time
from pathlib import Path
from typing import Any

from confluent_kafka import Producer

from joulestream import codec, simulate
from joulestream.chaos import ChaosConfig, inject
from joulestream.events import Event, Measurement, RunFinished, RunStarted
from joulestream.limits import ANY_TIME, event_time_window
from joulestream.producer import EventProducer, producer_config
from joulestream.replay import replay
from stack import flink
from stack.settings import StackSettings
from tests.integration.conftest import Pipeline, running_pipeline
from tests.integration.helpers import (
    HOUR_MS,
    PRICING,
    T0_MS,
    WINDOW_MS,
    assert_same,
    behind,
    documents,
    fastavro_bytes,
    restarts,
    wait_until,
)
from tests.reference import Reference

YEAR_3000_MS = 32_503_680_000_000
BOUND = "J is not finite or not within 0 and 100000 W over the interval"


def produce(pipeline: Pipeline, values: list[tuple[str, bytes]]) -> None:
    """Each (key, value) in this order, as producers would send them."""
    producer = Producer(producer_config(pipeline.settings.bootstrap_servers))
    for key, value in values:
        producer.produce(pipeline.topic, value, key=key)
    assert producer.flush(30) == 0


def encoded(events: list[Any]) -> list[tuple[str, bytes]]:
    return [(e.run_id, codec.encode(e.to_record())) for e in events if isinstance(e, Event)]


def poison(fleet: list[Event], tag: str) -> dict[str, tuple[dict[str, Any], str]]:
    """The records that used to stop the job or skew it, each aimed at a run of ``fleet``,
    by event id, with the reason the job must give."""
    measurement = next(e for e in fleet if isinstance(e, Measurement)).to_record()
    started = next(e for e in fleet if isinstance(e, RunStarted)).to_record()
    section, meta = measurement["measurement"], started["run_started"]
    records = {
        "long-run-id": (
            {**measurement, "run_id": "r" * 450_000},
            "run_id is 450000 characters long, at most 256",
        ),
        "nan-pue": (
            {**started, "run_started": {**meta, "pue": float("nan")}},
            "run_started.pue = NaN is not within [1, 3]",
        ),
        "huge-energy": (
            {**measurement, "measurement": {**section, "cpu_energy_j": 1e308}},
            f"measurement.cpu_energy_j = 1.0E308 {BOUND}",
        ),
        "nanoseconds": (
            {**measurement, "ts_ms": 1_790_000_000_000_000_000},
            "ts_ms = 1790000000000000000 is not UTC epoch milliseconds from 2000 to 9999 "
            "(seconds or nanoseconds?)",
        ),
        "year-3000": (
            {
                **measurement,
                "ts_ms": YEAR_3000_MS,
                "measurement": {**section, "interval_start_ms": YEAR_3000_MS - 1000},
            },
            f"ts_ms = {YEAR_3000_MS} is more than 600 s after the record reached Kafka at ",
        ),
        "negative-pue": (
            {**started, "run_started": {**meta, "pue": -1.0}},
            "run_started.pue = -1.0 is not within [1, 3]",
        ),
        "negative-intensity": (
            {**started, "run_started": {**meta, "intensity_g_per_kwh": -1e9}},
            "run_started.intensity_g_per_kwh = -1.0E9 g/kWh is not within [0, 2000]",
        ),
    }
    return {
        f"poison:{name}:{tag}": ({**record, "event_id": f"poison:{name}:{tag}"}, reason)
        for name, (record, reason) in records.items()
    }


def test_poison_records_alone_and_in_traffic_are_dead_letters_and_stop_nothing(
    pipeline: Pipeline,
):
    """A 450,000-character run id, NaN and negative PUE, a negative intensity, 1e308 J, a time
    in nanoseconds and one in the year 3000, each aimed at a real run: first alone on the
    topic, then mixed into the fleet's traffic. Each is a dead letter with a reason a person
    can read, the job never restarts, and every normal event is counted exactly."""
    fleet = list(simulate.fleet(runs=3, duration_s=90, start_ms=T0_MS, seed=12))
    alone, mixed = poison(fleet, "alone"), poison(fleet, "mixed")
    produce(pipeline, [(r["run_id"][:64], fastavro_bytes(r)) for r, _ in alone.values()])

    def letters() -> dict[str, str]:
        return {d["event_id"]: d["reason"] for d in pipeline.db.dead_letters.find()}

    wait_until("the lone poison records kept", lambda: len(letters()) == len(alone), seen=letters)
    assert restarts(pipeline) == 0

    traffic = encoded(fleet)
    step = len(traffic) // (len(mixed) + 1)
    for i, (record, _) in enumerate(mixed.values()):
        traffic.insert((i + 1) * step, (record["run_id"][:64], fastavro_bytes(record)))
    produce(pipeline, traffic)
    expected = Reference(fleet, PRICING)
    final = {
        "runs": expected.runs(),
        "windows": expected.windows(WINDOW_MS, set()),
        "rollups": expected.rollups(HOUR_MS, WINDOW_MS, set()),
    }
    wait_until(
        "every normal event counted",
        lambda: not behind(pipeline, final) and len(letters()) == len(alone) + len(mixed),
        seen=lambda: (behind(pipeline, final), letters()),
    )
    for name, docs in final.items():
        assert_same(documents(pipeline, name), docs)
    for event_id, (_, reason) in {**alone, **mixed}.items():
        assert letters()[event_id].startswith(reason), (event_id, letters()[event_id])
    assert pipeline.db.late_events.count_documents({}) == 0
    assert (flink.job_state(pipeline.settings, pipeline.job_id), restarts(pipeline)) == (
        "RUNNING",
        0,
    )


def in_true_order(*trainers: list[tuple[int, Any]]) -> list[Any]:
    """The trainers' traffic interleaved by true time, each trainer's own order kept."""
    return [item for _, item in heapq.merge(*trainers, key=lambda pair: pair[0])]


def test_a_run_whose_clock_is_two_hours_ahead_moves_no_other_run(services: StackSettings):
    """Ten runs with out-of-order and late events, and on the same partition a run whose
    clock is two hours ahead (the job told to accept that much), all sending now, in real
    arrival order. The ten runs' windows and late events are those of a sitting without the
    fast run, and the fast run gets its own windows two hours ahead."""
    start_ms = (time.time_ns() // 1_000_000 - 200_000) // 1000 * 1000
    fleet = list(simulate.fleet(runs=11, duration_s=150, start_ms=start_ms, seed=31))
    fast_id = sorted({e.run_id for e in fleet})[0]
    with event_time_window(ANY_TIME):
        fast = [ahead(e, 2 * HOUR_MS) for e in fleet if e.run_id == fast_id]
    normal = [e for e in fleet if e.run_id != fast_id]
    sequence, _ = inject(normal, ChaosConfig(out_of_order_ms=8_000), seed=3)
    normal_sent = [e for e in sequence if isinstance(e, Event)]
    traffic = in_true_order(
        [(e.ts_ms, e) for e in normal_sent], [(e.ts_ms - 2 * HOUR_MS, e) for e in fast]
    )
    settings = {"JOULESTREAM_MAX_EVENT_AHEAD_S": str(3 * 3600)}
    with running_pipeline(services, partitions=1, settings=settings) as pipeline:
        produce(pipeline, encoded(traffic))
        without, alone = Reference(normal_sent, PRICING), Reference(fast, PRICING)
        assert without.late(), "the chaos must make some events late"
        final = {
            "runs": {**without.runs(), **alone.runs()},
            "windows": {
                **without.windows(WINDOW_MS, set(without.late())),
                **alone.windows(WINDOW_MS, set()),
            },
        }
        wait_until(
            "every run counted",
            lambda: not behind(pipeline, final),
            seen=lambda: behind(pipeline, final),
        )
        assert_same(documents(pipeline, "windows"), final["windows"])
        assert documents(pipeline, "late_events") == without.late_events()
        assert restarts(pipeline) == 0


def ahead(e: Event, by_ms: int) -> Event:
    """``e`` as a clock ``by_ms`` ahead would have stamped it."""
    if isinstance(e, Measurement):
        return dataclasses.replace(
            e, ts_ms=e.ts_ms + by_ms, interval_start_ms=e.interval_start_ms + by_ms
        )
    return dataclasses.replace(e, ts_ms=e.ts_ms + by_ms)


def test_windows_close_on_each_runs_progress_finish_or_silence(services: StackSettings):
    """After every partition has been idle longer than the old idle timeout, a burst: finished
    runs, and a run killed mid-window (no run_finished). No on-time event is late; each
    finished run's last window is stored within 15 s of its run_finished with no other
    traffic; the killed run's windows are stored and it is ``lost`` after the configured
    silence."""
    fleet = list(simulate.fleet(runs=4, duration_s=100, start_ms=T0_MS, seed=41))
    killed = sorted({e.run_id for e in fleet})[0]
    cut_ms = T0_MS + 70_500  # mid-window
    sent = [
        e
        for e in fleet
        if e.run_id != killed or (e.ts_ms < cut_ms and not isinstance(e, RunFinished))
    ]
    settings = {"JOULESTREAM_LOST_AFTER_S": "10"}
    with running_pipeline(services, settings=settings) as pipeline:
        time.sleep(15)  # every partition idle
        produce(pipeline, encoded(sent))
        expected = Reference(sent, PRICING)
        assert expected.late() == {}
        runs, windows = expected.runs(), expected.windows(WINDOW_MS, set())
        finished = {k: w for k, w in windows.items() if w["run_id"] != killed}
        wait_until(
            "every finished run's windows stored",
            lambda: not behind(pipeline, {"windows": finished}),
            timeout_s=15,
            seen=lambda: behind(pipeline, {"windows": finished}),
        )
        runs[killed]["status"] = "lost"
        runs[killed]["version"] += 1  # its silence
        wait_until(
            "the killed run lost",
            lambda: not behind(pipeline, {"runs": runs, "windows": windows}),
            timeout_s=60,
            seen=lambda: behind(pipeline, {"runs": runs, "windows": windows}),
        )
        assert_same(documents(pipeline, "runs"), runs)
        assert_same(documents(pipeline, "windows"), windows)
        assert pipeline.db.late_events.count_documents({}) == 0


def test_a_trainer_that_spooled_through_an_outage_gets_its_windows(
    services: StackSettings, tmp_path: Path
):
    """A trainer cut off from Kafka for three minutes spools its events, while another run on
    the same partition keeps sending; then it replays. It sent in order, so by its own clock
    it is on time: its windows equal the reference and nothing is late."""
    fleet = list(simulate.fleet(runs=2, duration_s=180, start_ms=T0_MS, seed=51))
    cut_off, other = sorted({e.run_id for e in fleet})
    spool = tmp_path / "spool.jsonl"
    with running_pipeline(services, partitions=1) as pipeline:
        offline = EventProducer("127.0.0.1:9", pipeline.topic, spool, message_timeout_ms=2000)
        offline.emit_all([e for e in fleet if e.run_id == cut_off])
        offline.close(timeout_s=15)
        assert offline.stats.spooled == offline.stats.accepted > 0
        produce(pipeline, encoded([e for e in fleet if e.run_id == other]))
        summary = replay(spool, pipeline.settings.bootstrap_servers, pipeline.topic)
        assert summary.failed == 0
        expected = Reference(
            [*(e for e in fleet if e.run_id == other), *(e for e in fleet if e.run_id == cut_off)],
            PRICING,
        )
        assert expected.late() == {}
        final = {"runs": expected.runs(), "windows": expected.windows(WINDOW_MS, set())}
        wait_until(
            "both runs counted",
            lambda: not behind(pipeline, final),
            seen=lambda: behind(pipeline, final),
        )
        assert_same(documents(pipeline, "windows"), final["windows"])
        assert pipeline.db.late_events.count_documents({}) == 0
