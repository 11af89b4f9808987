import dataclasses
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from confluent_kafka import Producer

from emitter import codec, simulate
from emitter.chaos import ChaosConfig, Malformed, inject
from emitter.events import Event, Measurement, RunStarted
from emitter.producer import EventProducer, producer_config
from flink_jobs import carbon
from tests.integration.conftest import Pipeline
from tests.reference import Reference

T0_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z, a minute and hour boundary
WINDOW_MS = 60_000
HOUR_MS = 3_600_000
PRICING = carbon.Pricing(carbon.load(), {})


def send(pipeline: Pipeline, events: list[Event], tmp_path: Path) -> None:
    producer = EventProducer(
        pipeline.settings.bootstrap_servers, pipeline.topic, spool_path=tmp_path / "spool.jsonl"
    )
    assert producer.emit_all(events) == len(events)
    producer.close()
    assert (producer.stats.delivered, producer.stats.spooled) == (len(events), 0)


def advance_watermark(pipeline: Pipeline, to_ms: int) -> list[Measurement]:
    """One event per partition far ahead in event time, so every earlier window closes."""
    producer = Producer(producer_config(pipeline.settings.bootstrap_servers))
    probes = []
    for partition in range(pipeline.settings.topic_partitions):
        probe = Measurement(
            run_id=f"watermark-probe-{partition}", seq=0, interval_start_ms=to_ms,
            ts_ms=to_ms, user_id="probe", model="probe", region="FR",
            cpu_energy_j=0.0, gpu_energy_j=0.0, ram_energy_j=0.0,
        )  # fmt: skip
        producer.produce(pipeline.topic, codec.encode(probe.to_record()), partition=partition)
        probes.append(probe)
    assert producer.flush(30) == 0
    return probes


def wait_until(what: str, done: Callable[[], bool], timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if done():
            return
        time.sleep(1)
    raise AssertionError(f"the pipeline did not get there in {timeout_s} s: {what}")


def documents(pipeline: Pipeline, collection: str) -> dict[str, dict[str, Any]]:
    return {d["_id"]: d for d in pipeline.db[collection].find()}


def caught_up(pipeline: Pipeline, expected: Reference, windows: int, late: int) -> bool:
    runs = {r["_id"]: r["events"] for r in expected.runs().values()}
    actual = {d["_id"]: d["events"] for d in pipeline.db.runs.find({"_id": {"$in": list(runs)}})}
    return (
        actual == runs
        and pipeline.db.windows.count_documents({"run_id": {"$in": list(runs)}}) == windows
        and pipeline.db.late_events.count_documents({}) == late
    )


def without_probes(docs: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in docs.items() if "probe" not in k}


def test_totals_windows_rollups_and_late_events_are_exact_under_chaos(
    pipeline: Pipeline, tmp_path: Path
):
    """A fleet sent with duplicates and out-of-order events (within the watermark bound), one
    run in a region the table does not know, one run with its own intensity and PUE, and late
    events sent after the watermark has passed them. MongoDB ends equal to an independent
    computation, to the joule and to the gram: duplicates counted once, late events in the
    runs' totals and rollups and in ``late_events`` but in no window, so that for every run the
    windows plus the late events add up to its totals."""
    fleet = list(simulate.fleet(runs=4, duration_s=150, start_ms=T0_MS, seed=11))
    first, second = sorted({e.run_id for e in fleet})[:2]
    fleet = [
        dataclasses.replace(e, region="ZZ") if e.run_id == first else
        dataclasses.replace(e, pue=1.25, intensity_g_per_kwh=100.0)
        if e.run_id == second and isinstance(e, RunStarted) else e
        for e in fleet
    ]  # fmt: skip
    config = ChaosConfig(out_of_order_ms=2_000, duplicate_fraction=0.1)
    sequence, manifest = inject(fleet, config, seed=5)
    assert not any(isinstance(item, Malformed) for item in sequence)
    sent = [item for item in sequence if not isinstance(item, Malformed)]
    assert len(manifest.duplicate_event_ids) > 30
    send(pipeline, sent, tmp_path)
    advance_watermark(pipeline, to_ms=T0_MS + 2 * HOUR_MS)

    # Behind the watermark now: new measurements inside the runs' first minutes.
    late = [
        Measurement(
            run_id=run_id,
            seq=10_000 + i,
            interval_start_ms=T0_MS + 10_000 + i,
            ts_ms=T0_MS + 20_000 + i,
            user_id=e.user_id,
            project=e.project,
            model=e.model,
            region=e.region,
            cpu_energy_j=1.5,
            gpu_energy_j=0.25 * i,
            ram_energy_j=0.125,
        )
        for i, (run_id, e) in enumerate({e.run_id: e for e in fleet}.items())
    ]
    expected = Reference([*sent, *late], PRICING)
    late_ids = {e.event_id for e in late}
    windows = expected.windows(WINDOW_MS, late_ids)
    # Wait for every window before sending the late events: then they are surely late. The
    # probes' own windows stay open (nothing passes them).
    wait_until(
        "every window closed", lambda: pipeline.db.windows.count_documents({}) == len(windows)
    )
    send(pipeline, [*late, *late[:1]], tmp_path)  # one sent twice
    wait_until("late events counted", lambda: caught_up(pipeline, expected, len(windows), 4))

    assert without_probes(documents(pipeline, "runs")) == expected.runs()
    assert without_probes(documents(pipeline, "windows")) == windows
    assert without_probes(documents(pipeline, "rollups")) == expected.rollups(HOUR_MS)
    stored_late = documents(pipeline, "late_events")
    assert all(d.pop("watermark_at") >= d["event_at"] for d in stored_late.values())
    assert stored_late == expected.late_events(late_ids)

    runs = expected.runs()
    assert runs[first]["intensity_fallback"] is True
    assert runs[first]["intensity_g_per_kwh"] == PRICING.table["WORLD"].intensity_g_per_kwh
    assert (runs[second]["pue"], runs[second]["intensity_source"]) == (1.25, "run_started event")
    for run_id, run in runs.items():
        in_windows = sum(w["energy_j"] for w in windows.values() if w["run_id"] == run_id)
        in_late = sum(e.energy_j for e in late if e.run_id == run_id)
        assert in_windows + in_late == run["energy_j"]
