import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import fastavro
from confluent_kafka import Producer

from joulestream import codec
from joulestream.producer import producer_config
from stack import fetch, jobjar, kafka
from stack.settings import REPO_ROOT, StackSettings
from tests import test_schema_evolution
from tests.test_events import finished, measurement, started


def read_with_flink(
    services: StackSettings, topic: str, schema_file: Path | None = None
) -> list[dict[str, Any]]:
    """Every record of ``topic`` as the job's ``joulestream-avro`` format reads it in Flink (see
    flink_read.py)."""
    jars = ";".join(
        f"file://{jar}" for jar in [*fetch.jars(services, "flink"), jobjar.build(services)]
    )
    argv = [sys.executable, "-m", "tests.integration.flink_read", topic,
            services.bootstrap_servers, jars]  # fmt: skip
    if schema_file is not None:
        argv.append(str(schema_file))
    result = subprocess.run(
        argv, cwd=REPO_ROOT, capture_output=True, text=True, timeout=240, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]


def send(services: StackSettings, topic: str, values: list[bytes]) -> None:
    kafka.ensure_topic(services.bootstrap_servers, topic, 1)
    producer = Producer(producer_config(services.bootstrap_servers))
    for value in values:
        producer.produce(topic, value)
    assert producer.flush(30) == 0


def test_fastavro_records_decode_in_flink_field_for_field(services: StackSettings):
    """Bytes written by fastavro from the .avsc read back in Flink with the job's format (schema
    derived from the generated DDL) with every field equal, for every kind of event."""
    topic = f"test.avro-contract.{uuid.uuid4().hex[:10]}"
    events = [measurement(seq=0), measurement(seq=1, samples=None), started(), finished(),
              started(seq=5, planned_steps=1200, planned_epochs=3)]  # fmt: skip
    sent = [event.to_record() for event in events]
    send(services, topic, [codec.encode(record) for record in sent])
    assert read_with_flink(services, topic) == sent


def test_records_of_earlier_versions_decode_in_flink_with_the_appended_fields_null(
    services: StackSettings,
):
    """A version 1 measurement and a version 2 run_started (an old emitter, an old spool)
    read in the job's format as the same events, the fields appended since null."""
    evolution = test_schema_evolution
    old = [
        (evolution.version_1(), evolution.v1_record(measurement().to_record())),
        (evolution.version_2(), evolution.v2_record(started().to_record())),
    ]
    topic = f"test.avro-versions.{uuid.uuid4().hex[:10]}"
    send(services, topic, [evolution.write(schema, record) for schema, record in old])
    assert read_with_flink(services, topic) == [measurement().to_record(), started().to_record()]


def test_nested_records_arrays_and_maps_decode_in_flink(services: StackSettings):
    """The DDL generator's ROW, ARRAY and MAP columns read fastavro's bytes field for field,
    with a null section, null fields in a section, empty arrays and maps among them."""
    schema_file = Path(__file__).parent.parent / "data" / "nested.avsc"
    schema = fastavro.parse_schema(json.loads(schema_file.read_text()))
    device = {"index": 0, "energy_j": 12.5, "utilisation": None}
    sent: list[dict[str, Any]] = [
        {"id": "a", "section": {"energy_j": 40.25, "devices": [device, dict(device, index=1,
         utilisation=0.5)]}, "labels": {"lr": "0.1", "bs": "64"}, "tags": ["x", "y"]},
        {"id": "b", "section": None, "labels": {}, "tags": []},
        {"id": "c", "section": {"energy_j": None, "devices": None}, "labels": {}, "tags": []},
    ]  # fmt: skip
    topic = f"test.avro-nested.{uuid.uuid4().hex[:10]}"
    send(services, topic, [codec.encode(record, schema) for record in sent])
    assert read_with_flink(services, topic, schema_file) == sent
