import json
import subprocess
import sys
import uuid

from confluent_kafka import Producer

from emitter import codec
from emitter.producer import producer_config
from stack import fetch, kafka
from stack.settings import REPO_ROOT, StackSettings
from tests.test_events import measurement


def test_fastavro_records_decode_in_flink_field_for_field(services: StackSettings):
    """Bytes written by fastavro from the .avsc read back in Flink's avro format (schema derived
    from the generated DDL) with every field equal, nullable ones included."""
    topic = f"test.avro-contract.{uuid.uuid4().hex[:10]}"
    kafka.ensure_topic(services.bootstrap_servers, topic, 1)
    sent = [measurement(seq=0).to_record(), measurement(seq=1, samples=None).to_record()]
    producer = Producer(producer_config(services.bootstrap_servers))
    for record in sent:
        producer.produce(topic, codec.encode(record), key=record["run_id"])
    assert producer.flush(30) == 0

    jars = ";".join(f"file://{jar}" for jar in fetch.jars(services, "flink"))
    result = subprocess.run(
        [sys.executable, "-m", "tests.integration.flink_read", topic,
         services.bootstrap_servers, jars],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert rows == sent
