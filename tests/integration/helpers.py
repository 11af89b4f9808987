"""What the pipeline tests share: sending, probing partitions, waiting, comparing."""

import io
import json
import time
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import fastavro
from confluent_kafka import Consumer, TopicPartition

from joulestream import codec
from joulestream.events import Event, event_from_record
from joulestream.producer import EventProducer
from tests.integration.conftest import Pipeline
from tests.reference import Reference
from tests.reference_pricing import ReferencePricing, read_table

WINDOW_MS = 60_000
HOUR_MS = 3_600_000
# Three hours ago, on an hour boundary: within the job's event-time window (7 days back), and
# far enough back that a test's runs stay in the past however long the suite takes.
T0_MS = (time.time_ns() // 1_000_000 // HOUR_MS - 3) * HOUR_MS
# The reference's own pricing, from the table's file; the jobs under test set no PUE.
PRICING = ReferencePricing(read_table(), {})


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


def restarts(pipeline: Pipeline) -> int:
    """How often Flink has restarted the job (its ``numRestarts`` metric)."""
    url = (
        f"http://127.0.0.1:{pipeline.settings.flink_rest_port}/jobs/{pipeline.job_id}"
        "/metrics?get=numRestarts"
    )
    # The REST endpoint answers from a cache that the JobManager fills on request: the first
    # asks come back empty.
    deadline = time.monotonic() + 30
    while True:
        with urllib.request.urlopen(url, timeout=5) as response:
            metrics = json.load(response)
        if metrics or time.monotonic() > deadline:
            break
        time.sleep(1)
    (metric,) = metrics
    return int(metric["value"])


def send(pipeline: Pipeline, events: list[Event], tmp_path: Path) -> None:
    producer = EventProducer(
        pipeline.settings.bootstrap_servers, pipeline.topic, spool_path=tmp_path / "spool.jsonl"
    )
    assert producer.emit_all(events) == len(events)
    producer.close()
    assert (producer.stats.delivered, producer.stats.spooled) == (len(events), 0)


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
    """Every run at its final version (all its events written), ``windows`` windows and ``late``
    late events stored."""
    runs = expected.runs()
    return (
        not behind(pipeline, {"runs": runs})
        and pipeline.db.windows.count_documents({"run_id": {"$in": list(runs)}}) == windows
        and pipeline.db.late_events.count_documents({}) == late
    )


def behind(
    pipeline: Pipeline, final: dict[str, dict[str, dict[str, Any]]]
) -> dict[str, dict[str, tuple[int | None, int]]]:
    """Per collection, the (stored, expected) version of each expected document not yet at its
    final version. A document's version counts the events it reflects, so an empty answer means
    the job has written everything; counting measurements alone misses a run's run_finished."""
    differences = {}
    for name, docs in final.items():
        stored = documents(pipeline, name)
        differences[name] = {
            i: (stored[i]["version"] if i in stored else None, d["version"])
            for i, d in docs.items()
            if i not in stored or stored[i]["version"] != d["version"]
        }
    return {name: d for name, d in differences.items() if d}


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
    assert differences == {}, differences
    assert (missing, extra) == (set(), set()), (missing, extra)


def committed_messages(bootstrap_servers: str, topic: str) -> dict[str, dict[str, Any]]:
    """The latest value per key of ``topic``, read with ``read_committed`` to its current end."""
    consumer = Consumer({
        "bootstrap.servers": bootstrap_servers, "group.id": uuid.uuid4().hex,
        "isolation.level": "read_committed", "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
    })  # fmt: skip
    partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
            for p in partitions}  # fmt: skip
    consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
    values: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + 30

    def behind() -> bool:
        # The position, not the last offset read, passes the transaction markers at the end.
        positions = consumer.position([TopicPartition(topic, p) for p in partitions])
        return any(tp.offset < ends[tp.partition] for tp in positions)

    while behind() and time.monotonic() < deadline:
        msg = consumer.poll(0.5)
        if msg is None:
            continue
        assert msg.error() is None, msg.error()
        values[(msg.key() or b"").decode()] = json.loads(msg.value() or b"null")
    consumer.close()
    return values


def topic_records(bootstrap_servers: str, topic: str) -> list[dict[str, Any]]:
    """Every Avro record of ``topic``, decoded, from the start to its current end (committed
    records only), partition by partition as they arrive."""
    consumer = Consumer(
        {"bootstrap.servers": bootstrap_servers, "group.id": uuid.uuid4().hex,
         "isolation.level": "read_committed", "enable.auto.commit": False}
    )  # fmt: skip
    partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
            for p in partitions}  # fmt: skip
    consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
    records, seen = [], dict.fromkeys(partitions, 0)
    while any(seen[p] < ends[p] for p in partitions):
        msg = consumer.poll(5)
        if msg is None:
            break
        assert msg.error() is None, msg.error()
        records.append(codec.decode(msg.value() or b""))
        seen[msg.partition()] = (msg.offset() or 0) + 1
    consumer.close()
    return records


def arrivals(pipeline: Pipeline) -> list[Event]:
    """The events of the pipeline's topic in the order they reached Kafka (each partition in
    order): what decides which events the job judges late."""
    records = topic_records(pipeline.settings.bootstrap_servers, pipeline.topic)
    return [event_from_record(record) for record in records]
