"""What the pipeline tests share: sending, probing partitions, waiting, comparing."""

import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, Producer, TopicPartition

from emitter import codec
from emitter.events import Event, Measurement
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
        stored = without_probes(documents(pipeline, name))
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


def without_probes(docs: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in docs.items() if "probe" not in k}


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
