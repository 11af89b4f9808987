import math
import os
import sys
import uuid
from pathlib import Path

from confluent_kafka.admin import AdminClient

from joulestream.cli import main
from joulestream.producer import EventProducer
from joulestream.tracker import Tracker
from stack import kafka
from stack.settings import StackSettings
from tests.integration.helpers import topic_records


def topic_for(services: StackSettings) -> str:
    topic = f"test.tracker.{uuid.uuid4().hex[:10]}"
    kafka.ensure_topic(services.bootstrap_servers, topic, 1)
    return topic


def drop(services: StackSettings, topic: str) -> None:
    admin = AdminClient({"bootstrap.servers": services.bootstrap_servers})
    for future in admin.delete_topics([topic]).values():
        future.result(30)


def test_tracker_events_arrive_in_kafka_with_epochs_closed(services: StackSettings, tmp_path):
    """A tracked loop with two epochs: run_started, measurements that tile the run (one ending
    at each epoch's end), run_finished; their energies add up to the tracker's totals."""
    topic = topic_for(services)
    try:
        producer = EventProducer(services.bootstrap_servers, topic, tmp_path / "spool.jsonl")
        tracker = Tracker(model="mlp", region="FR", user_id="it", run_id=topic, interval_s=0.2,
                          producer=producer, dataset="toy")  # fmt: skip
        with tracker:
            for epoch in range(2):
                tracker.log(epoch=epoch)
                total = 0
                for step in range(300_000):
                    total += step * step
                tracker.end_epoch(epoch, samples=300_000, loss=1.0 / (epoch + 1))
        producer.close()
        assert (producer.stats.delivered, producer.stats.spooled) == (producer.stats.accepted, 0)
        got = sorted(topic_records(services.bootstrap_servers, topic), key=lambda r: r["seq"])
        assert len(got) == producer.stats.accepted
        types = [r["event_type"] for r in got]
        assert types[0] == "run_started"
        assert types[-1] == "run_finished"
        assert set(types[1:-1]) == {"measurement"}
        assert [r["seq"] for r in got] == list(range(len(got)))
        ms = [r["measurement"] for r in got[1:-1]]
        methods = {(m["cpu_method"], m["ram_method"]) for m in ms}
        assert methods == {(tracker.meters.cpu.method, tracker.meters.ram.method)}
        ends = [r["ts_ms"] for r in got[1:-1]]
        assert [m["interval_start_ms"] for m in ms[1:]] == ends[:-1]  # intervals tile the run
        assert ms[0]["interval_start_ms"] == got[0]["ts_ms"]
        closed = [m for m in ms if m["samples"] == 300_000]
        assert [(m["epoch"], m["loss"]) for m in closed] == [(0, 1.0), (1, 0.5)]
        for part in ("cpu", "ram", "gpu"):
            total_j = math.fsum(m[f"{part}_energy_j"] for m in ms)
            assert math.isclose(total_j, tracker.totals_j[part], rel_tol=1e-12, abs_tol=1e-12)
        assert tracker.totals_j["cpu"] > 0
        assert got[-1]["run_finished"]["status"] == "completed"
    finally:
        drop(services, topic)


def test_track_wraps_a_command(services: StackSettings, tmp_path, monkeypatch):
    """`track -- python -c ...` emits the run of that command and returns its exit code."""
    topic = topic_for(services)
    monkeypatch.setenv("JOULESTREAM_SPOOL", str(tmp_path / "spool.jsonl"))
    script = "import time, sys\nt = time.time()\nwhile time.time() - t < 1.2: pass\nsys.exit(3)"
    try:
        code = main(
            ["track", "--bootstrap-servers", services.bootstrap_servers, "--topic", topic,
             "--model", "wrapped", "--run-id", topic, "--interval-s", "0.5", "--region", "FR",
             "--gpu-meter", "none", "--", sys.executable, "-c", script]
        )  # fmt: skip
        assert code == 3
        got = sorted(topic_records(services.bootstrap_servers, topic), key=lambda r: r["seq"])
        assert got[0]["event_type"] == "run_started"
        assert got[0]["run_started"]["cpu_count"] == len(os.sched_getaffinity(0))
        assert got[-1]["run_finished"] == {"status": "failed", "reason": "exit code 3"}
        measurements = [r["measurement"] for r in got[1:-1]]
        assert 2 <= len(measurements) <= 4
        assert all(m["gpus"] == [] and m["gpu_energy_j"] == 0.0 for m in measurements)
        assert not Path(tmp_path / "spool.jsonl").exists()
    finally:
        drop(services, topic)
