import dataclasses
import io
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import fastavro
from confluent_kafka import Producer

import schemas
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


def probe_partitions(pipeline: Pipeline, to_ms: int) -> list[Measurement]:
    """One event per partition at ``to_ms``.

    Far ahead in event time, it closes every earlier window. Before a burst, it wakes every
    partition: a partition that has been quiet for the idle timeout does not hold the watermark
    back until its next record, so without it a burst read one partition at a time would make
    the later partitions' events late."""
    producer = Producer(producer_config(pipeline.settings.bootstrap_servers))
    probes = []
    for partition in range(pipeline.settings.topic_partitions):
        probe = Measurement(
            run_id=f"watermark-probe-{to_ms}-{partition}", seq=0, interval_start_ms=to_ms,
            ts_ms=to_ms, user_id="probe", model="probe", region="FR",
            cpu_energy_j=0.0, gpu_energy_j=0.0, ram_energy_j=0.0,
        )  # fmt: skip
        producer.produce(pipeline.topic, codec.encode(probe.to_record()), partition=partition)
        probes.append(probe)
    assert producer.flush(30) == 0
    return probes


def varint(n: int) -> bytes:
    """Avro's zig-zag varint of a non-negative ``n``."""
    z, out = n << 1, bytearray()
    while z > 0x7F:
        out.append((z & 0x7F) | 0x80)
        z >>= 7
    return bytes([*out, z])


def fastavro_bytes(record: dict[str, Any]) -> bytes:
    """A record that skips the emitter's checks, as a misbehaving producer would send it."""
    buffer = io.BytesIO()
    fastavro.schemaless_writer(buffer, codec.EVENT_SCHEMA, record)
    return buffer.getvalue()


def wait_until(
    what: str,
    done: Callable[[], bool],
    timeout_s: float = 120,
    seen: Callable[[], object] = lambda: None,
) -> None:
    """Poll ``done`` once a second; on timeout, fail with what ``seen`` returns."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if done():
            return
        time.sleep(1)
    raise AssertionError(f"the pipeline did not get there in {timeout_s} s: {what}; {seen()}")


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


def assert_same(actual: dict[str, dict[str, Any]], expected: dict[str, dict[str, Any]]) -> None:
    """``actual == expected``, failing with the documents and fields that differ."""
    differences = {
        key: {
            field: (doc.get(field), expected[key].get(field))
            for field in doc.keys() | expected[key].keys()
            if doc.get(field) != expected[key].get(field)
        }
        for key, doc in actual.items()
        if key in expected and doc != expected[key]
    }
    missing, extra = expected.keys() - actual.keys(), actual.keys() - expected.keys()
    assert differences == {}
    assert (missing, extra) == (set(), set())


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
    probe_partitions(pipeline, to_ms=T0_MS - HOUR_MS)
    send(pipeline, sent, tmp_path)
    probe_partitions(pipeline, to_ms=T0_MS + 2 * HOUR_MS)

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
    # Wait for every window before sending the late events: then they are surely late.
    run_ids = list(expected.runs())
    wait_until(
        "every window closed",
        lambda: pipeline.db.windows.count_documents({"run_id": {"$in": run_ids}}) == len(windows),
    )
    send(pipeline, [*late, *late[:1]], tmp_path)  # one sent twice
    wait_until("late events counted", lambda: caught_up(pipeline, expected, len(windows), 4))

    assert_same(without_probes(documents(pipeline, "runs")), expected.runs())
    assert_same(without_probes(documents(pipeline, "windows")), windows)
    assert_same(without_probes(documents(pipeline, "rollups")), expected.rollups(HOUR_MS))
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


def test_malformed_and_invalid_records_go_to_dead_letters_and_the_job_keeps_going(
    pipeline: Pipeline, tmp_path: Path
):
    """Undecodable bytes, an empty record and decodable records that break the contract's rules
    each become one ``dead_letters`` document with the reason and the Kafka partition and
    offset (the bytes too when they could not be decoded); the valid events around them are
    counted exactly."""
    fleet = list(simulate.fleet(runs=2, duration_s=60, start_ms=T0_MS, seed=3))
    sequence, manifest = inject(fleet, ChaosConfig(malformed_fraction=0.05), seed=9)
    assert manifest.malformed == 6
    good = next(e for e in fleet if isinstance(e, Measurement)).to_record()
    section = good["measurement"]
    invalid = [
        {**good, "event_id": "bad:1", "event_type": "heartbeat"},
        {**good, "event_id": "bad:2", "run_id": ""},
        {**good, "event_id": "bad:3", "measurement": {**section, "cpu_energy_j": -1.0}},
        {**good, "event_id": "bad:4", "measurement": {**section, "gpu_energy_j": math.nan}},
        {**good, "event_id": "bad:5", "measurement": None},
        {**good, "event_id": "bad:6", "measurement": {**section, "ram_energy_j": math.inf}},
    ]
    producer = Producer(producer_config(pipeline.settings.bootstrap_servers))
    offsets: dict[bytes | None, tuple[int, int]] = {}

    def record_offset(err: object, msg: Any) -> None:
        assert err is None
        offsets[msg.value()] = (msg.partition(), msg.offset())

    for item in sequence:
        value = item.value if isinstance(item, Malformed) else codec.encode(item.to_record())
        producer.produce(
            pipeline.topic,
            value,
            key=item.key if isinstance(item, Malformed) else item.run_id,
            on_delivery=record_offset,
        )
    for record in invalid:
        producer.produce(
            pipeline.topic, fastavro_bytes(record), key="bad", on_delivery=record_offset
        )
    # A record of a newer contract version: a field appended at the end. It counts like v1.
    newer = dataclasses.replace(
        next(e for e in fleet if isinstance(e, Measurement)), seq=9_999, ts_ms=T0_MS + 59_000
    )
    newer_schema = schemas.load(schemas.TRAINING_EVENT)
    newer_schema["fields"].append({"name": "extra", "type": ["null", "string"], "default": None})
    newer_bytes = io.BytesIO()
    fastavro.schemaless_writer(
        newer_bytes, fastavro.parse_schema(newer_schema), {**newer.to_record(), "extra": "x"}
    )
    producer.produce(pipeline.topic, newer_bytes.getvalue(), key=newer.run_id)
    producer.produce(pipeline.topic, None, key="empty", on_delivery=record_offset)
    # schema_version 1, then an event id that claims to be 200 million bytes long.
    greedy = b"\x02" + varint(200_000_000) + b"x"
    producer.produce(pipeline.topic, greedy, key="greedy", on_delivery=record_offset)
    assert producer.flush(30) == 0

    expected = Reference([*fleet, newer], PRICING)
    dead = 6 + len(invalid) + 2
    wait_until(
        "dead letters stored and runs counted",
        lambda: (
            pipeline.db.dead_letters.count_documents({}) == dead
            and caught_up(pipeline, expected, windows=0, late=0)
        ),
        seen=lambda: (
            [(d["_id"], d["reason"]) for d in pipeline.db.dead_letters.find()],
            {d["_id"]: d["events"] for d in pipeline.db.runs.find()},
            {r: d["events"] for r, d in expected.runs().items()},
            pipeline.db.late_events.count_documents({}),
        ),
    )
    assert_same(documents(pipeline, "runs"), expected.runs())
    letters = list(pipeline.db.dead_letters.find())
    undecodable = [d for d in letters if d["reason"].startswith("undecodable")]
    malformed = {item.value for item in sequence if isinstance(item, Malformed)}
    for d in undecodable:
        assert d["raw_bytes"] in malformed | {greedy, None}
    assert {d["_id"] for d in letters} == {
        f"{pipeline.topic}/{partition}/{offset}"
        for value, (partition, offset) in offsets.items()
        if value is None
        or value in malformed | {greedy}
        or value in {fastavro_bytes(r) for r in invalid}
    }
    reasons = {d.get("event_id"): d["reason"] for d in letters}
    assert reasons["bad:1"] == "unknown event_type: heartbeat"
    assert reasons["bad:2"] == "empty run_id or event_id"
    assert reasons["bad:3"] == reasons["bad:4"] == reasons["bad:6"]
    assert reasons["bad:6"] == "negative, NaN or infinite energy"
    assert reasons["bad:5"] == "a measurement event without its measurement section"
    (greedy_letter,) = [d for d in letters if d.get("raw_bytes") == greedy]
    assert "String length 200000000 exceeds maximum allowed" in greedy_letter["reason"]
