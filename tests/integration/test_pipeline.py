import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from confluent_kafka import Producer

from emitter import codec, simulate
from emitter.events import Event, Measurement, RunFinished
from emitter.producer import EventProducer, producer_config
from tests.integration.conftest import Pipeline

T0_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z, a minute boundary
WINDOW_MS = 60_000


def utc(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def expected_runs(events: list[Event]) -> dict[str, dict[str, Any]]:
    """The runs documents, computed independently of the job from the events sent."""
    runs: dict[str, dict[str, Any]] = {}
    for e in events:
        run = runs.setdefault(
            e.run_id,
            {"_id": e.run_id, "run_id": e.run_id, "user_id": e.user_id, "project": e.project,
             "model": e.model, "region": e.region, "status": "running", "events": 0,
             "last_seq": -1, "samples": 0, "started_at": None, "last_event_at": None,
             "cpu_energy_j": 0.0, "gpu_energy_j": 0.0, "ram_energy_j": 0.0, "energy_j": 0.0},
        )  # fmt: skip
        run["last_seq"] = max(run["last_seq"], e.seq)
        if isinstance(e, RunFinished):
            run["status"] = e.status
        if not isinstance(e, Measurement):
            continue
        run["events"] += 1
        run["samples"] += e.samples or 0
        start, end = utc(e.interval_start_ms), utc(e.ts_ms)
        run["started_at"] = min(run["started_at"] or start, start)
        run["last_event_at"] = max(run["last_event_at"] or end, end)
        run["cpu_energy_j"] += e.cpu_energy_j
        run["gpu_energy_j"] += e.gpu_energy_j
        run["ram_energy_j"] += e.ram_energy_j
        run["energy_j"] += e.energy_j
    return runs


def expected_windows(events: list[Event]) -> dict[str, dict[str, Any]]:
    """The windows documents: measurements grouped by run and by the minute their event time
    is in."""
    windows: dict[str, dict[str, Any]] = {}
    for e in simulate.measurements(events):
        start_ms = e.ts_ms - e.ts_ms % WINDOW_MS
        key = f"{e.run_id}/{utc(start_ms).strftime('%Y-%m-%dT%H:%M:%SZ')}"
        w = windows.setdefault(
            key,
            {"_id": key, "run_id": e.run_id, "window_start": utc(start_ms),
             "window_end": utc(start_ms + WINDOW_MS), "events": 0, "cpu_energy_j": 0.0,
             "gpu_energy_j": 0.0, "ram_energy_j": 0.0, "energy_j": 0.0},
        )  # fmt: skip
        w["events"] += 1
        w["cpu_energy_j"] += e.cpu_energy_j
        w["gpu_energy_j"] += e.gpu_energy_j
        w["ram_energy_j"] += e.ram_energy_j
        w["energy_j"] += e.energy_j
    return windows


def advance_watermark(pipeline: Pipeline, to_ms: int) -> None:
    """One event per partition far ahead in event time, so every earlier window closes."""
    producer = Producer(producer_config(pipeline.settings.bootstrap_servers))
    for partition in range(pipeline.settings.topic_partitions):
        probe = Measurement(
            run_id=f"watermark-probe-{partition}", seq=0, interval_start_ms=to_ms,
            ts_ms=to_ms, user_id="probe", model="probe", region="ZZ",
            cpu_energy_j=0.0, gpu_energy_j=0.0, ram_energy_j=0.0,
        )  # fmt: skip
        producer.produce(pipeline.topic, codec.encode(probe.to_record()), partition=partition)
    assert producer.flush(30) == 0


def wait_for(pipeline: Pipeline, runs: dict[str, Any], windows: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    run_ids = list(runs)
    while time.monotonic() < deadline:
        done = pipeline.db.runs.count_documents({"_id": {"$in": run_ids}, "events": {"$gt": 0}})
        counts = {d["_id"]: d["events"] for d in pipeline.db.runs.find({"_id": {"$in": run_ids}})}
        closed = pipeline.db.windows.count_documents({"run_id": {"$in": run_ids}})
        if (
            done == len(run_ids)
            and closed == windows
            and counts == {r: runs[r]["events"] for r in run_ids}
        ):
            return
        time.sleep(1)
    raise AssertionError(f"pipeline did not catch up in {timeout_s} s: {counts}, {closed} windows")


def test_fleet_totals_and_windows_reach_mongodb_exactly(pipeline: Pipeline, tmp_path: Path):
    """Every measurement of a simulated fleet is in its run's totals and in exactly one closed
    window, to the joule, with the window boundaries on the minute; the runs carry their
    metadata and final status."""
    events = list(simulate.fleet(runs=3, duration_s=150, start_ms=T0_MS, seed=11))
    producer = EventProducer(
        pipeline.settings.bootstrap_servers, pipeline.topic, spool_path=tmp_path / "spool.jsonl"
    )
    assert producer.emit_all(events) == 456  # 3 runs x (start + 150 measurements + finish)
    producer.close()
    assert (producer.stats.delivered, producer.stats.spooled) == (456, 0)
    advance_watermark(pipeline, to_ms=max(e.ts_ms for e in events) + 3_600_000)

    runs, windows = expected_runs(events), expected_windows(events)
    wait_for(pipeline, runs, len(windows), timeout_s=120)

    actual_runs = {d["_id"]: d for d in pipeline.db.runs.find({"_id": {"$in": list(runs)}})}
    assert actual_runs == runs
    actual_windows = {
        d["_id"]: d for d in pipeline.db.windows.find({"run_id": {"$in": list(runs)}})
    }
    assert actual_windows == windows
    total_j = sum(e.energy_j for e in simulate.measurements(events))
    assert sum(w["energy_j"] for w in windows.values()) == total_j
    assert {r["status"] for r in actual_runs.values()} == {"completed"}
