"""The pipeline under faults: a TaskManager killed several times, a broker stopped and started,
a stop with a savepoint and a restore. Each ends with MongoDB equal to an independent
computation from the events sent, to the joule and to the gram."""

import threading
import time
from pathlib import Path

import pytest

from joulestream import simulate
from joulestream.events import Event
from joulestream.producer import EventProducer
from joulestream.replay import replay
from stack import flink, kafka, procs
from stack.settings import StackSettings
from tests.integration.conftest import Pipeline, running_pipeline
from tests.integration.helpers import (
    HOUR_MS,
    PRICING,
    T0_MS,
    WINDOW_MS,
    arrivals,
    assert_same,
    behind,
    documents,
    wait_until,
)
from tests.reference import Reference


class Sender(threading.Thread):
    """Emits events at a steady pace, as trainers do, while the test breaks things."""

    def __init__(self, pipeline: Pipeline, events: list[Event], spool: Path, per_s: float):
        super().__init__(daemon=True)
        self.events, self.pause_s = events, 1.0 / per_s
        self.producer = EventProducer(
            pipeline.settings.bootstrap_servers, pipeline.topic, spool, message_timeout_ms=5_000
        )

    def run(self) -> None:
        for event in self.events:
            self.producer.emit(event)
            time.sleep(self.pause_s)
        self.producer.close(timeout_s=30)


def local_flink(services: StackSettings) -> None:
    if procs.running_pid(services, "flink-taskmanager") is None:
        pytest.skip("needs the local Flink cluster of this project (it kills its TaskManager)")


def completed_checkpoints(services: StackSettings, job_id: str) -> int:
    try:
        return int(flink.checkpoints(services, job_id)["counts"]["completed"])
    except OSError:
        return 0


def restores(services: StackSettings, job_id: str) -> int:
    try:
        return int(flink.checkpoints(services, job_id)["counts"]["restored"])
    except OSError:
        return 0


def running(services: StackSettings, job_id: str) -> bool:
    try:
        return flink.job_state(services, job_id) == "RUNNING"
    except OSError:
        return False


def kill_taskmanager(services: StackSettings, job_id: str, kills: int) -> dict[str, object]:
    """After a new checkpoint, kill -9 the TaskManager, start another, and wait for the job's
    next restore; return the checkpoint it was restored from."""
    done = completed_checkpoints(services, job_id)
    wait_until("a new checkpoint", lambda: completed_checkpoints(services, job_id) > done)
    procs.kill(services, "flink-taskmanager")
    wait_until(
        "the TaskManager gone", lambda: procs.running_pid(services, "flink-taskmanager") is None
    )
    flink.up(services)
    wait_until(
        "the job restored and running",
        lambda: restores(services, job_id) > kills and running(services, job_id),
    )
    restored: dict[str, object] = flink.checkpoints(services, job_id)["latest"]["restored"]
    return restored


def check_exact(pipeline: Pipeline, events: list[Event], late_allowed: bool = False) -> None:
    """Wait for the job, and compare every collection with the reference computed from the
    events in the order they reached Kafka (which decides which are late: a replayed spool
    arrives after its run's newer events)."""
    arrived = arrivals(pipeline)
    assert {e.event_id for e in arrived} == {e.event_id for e in events}
    expected = Reference(arrived, PRICING)
    late = set(expected.late())
    if not late_allowed:
        assert late == set()
    final = {
        "runs": expected.runs(),
        "windows": expected.windows(WINDOW_MS, late),
        "rollups": expected.rollups(HOUR_MS, WINDOW_MS, late),
        "epochs": expected.epochs(),
    }
    wait_until(
        "every document at its final version",
        lambda: not behind(pipeline, final),
        timeout_s=180,
        seen=lambda: (
            {name: dict(list(d.items())[:5]) for name, d in behind(pipeline, final).items()},
            flink.checkpoints(pipeline.settings, pipeline.job_id)["counts"],
        ),
    )
    for name, docs in final.items():
        assert_same(documents(pipeline, name), docs)
    assert documents(pipeline, "late_events") == expected.late_events()


def test_killing_the_taskmanager_three_times_mid_stream_counts_every_event_once(
    services: StackSettings, tmp_path: Path
):
    """Kill -9 the TaskManager three times while trainers keep sending; each time the job is
    restored from its latest checkpoint and replays what came after it."""
    local_flink(services)
    events = list(simulate.fleet(runs=4, duration_s=150, start_ms=T0_MS, seed=21))
    with running_pipeline(services) as pipeline:
        sender = Sender(pipeline, events, tmp_path / "spool.jsonl", per_s=8)
        sender.start()
        restored = [kill_taskmanager(services, pipeline.job_id, kills=n) for n in range(3)]
        sender.join(timeout=180)
        assert not sender.is_alive()
        assert sender.producer.stats.delivered == len(events)
        assert all(r is not None and not r["is_savepoint"] for r in restored), restored
        check_exact(pipeline, events)


def test_a_broker_stopped_and_restarted_mid_stream_loses_nothing(
    services: StackSettings, own_broker: StackSettings, tmp_path: Path
):
    """The broker stops for 15 s while trainers send: the emitter spools what Kafka does not
    take, the job waits, the spool is replayed after the restart (duplicates included: an
    event both delivered and spooled), and every accepted event is counted exactly once."""
    local_flink(services)
    events = list(simulate.fleet(runs=3, duration_s=120, start_ms=T0_MS, seed=8))
    spool = tmp_path / "spool.jsonl"
    with running_pipeline(services, own_broker.bootstrap_servers) as pipeline:
        sender = Sender(pipeline, events, spool, per_s=12)
        sender.start()
        time.sleep(8)
        procs.stop(own_broker, kafka.NAME)
        time.sleep(15)
        kafka.up(own_broker)
        sender.join(timeout=120)
        assert not sender.is_alive()
        stats = sender.producer.stats
        assert (stats.accepted, stats.dropped) == (len(events), 0)
        assert stats.spooled > 0  # the outage was felt
        summary = replay(spool, own_broker.bootstrap_servers, pipeline.topic)
        assert (summary.sent, summary.failed, summary.bad_lines) == (stats.spooled, 0, [])
        check_exact(pipeline, events, late_allowed=True)


def test_stop_with_a_savepoint_and_restore_counts_every_event_once(
    services: StackSettings, tmp_path: Path
):
    """Stop the job with a savepoint mid-stream (an upgrade), keep sending, start the job again
    from the savepoint: it resumes where it stopped."""
    events = list(simulate.fleet(runs=3, duration_s=120, start_ms=T0_MS, seed=5))
    with running_pipeline(services) as pipeline:
        sender = Sender(pipeline, events, tmp_path / "spool.jsonl", per_s=15)
        sender.start()
        time.sleep(8)
        savepoint = flink.stop_with_savepoint(services, pipeline.job_id)
        time.sleep(3)
        pipeline.job_id = flink.submit(
            services, pipeline.job_env, job_name=pipeline.job_name, savepoint=savepoint
        )
        restored = flink.checkpoints(services, pipeline.job_id)["latest"]["restored"]
        assert restored is not None
        assert restored["is_savepoint"] is True
        sender.join(timeout=120)
        assert sender.producer.stats.delivered == len(events)
        check_exact(pipeline, events)
