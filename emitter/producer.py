"""Send events to Kafka with confluent-kafka: idempotent, acks=all, compressed, key = run id."""

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import KafkaError, Message, Producer

from emitter import codec
from emitter.events import Measurement

log = logging.getLogger(__name__)


def producer_config(bootstrap_servers: str) -> dict[str, Any]:
    """The producer settings every joulestream emitter uses."""
    return {
        "bootstrap.servers": bootstrap_servers,
        "enable.idempotence": True,  # implies acks=all and in-order, de-duplicated retries
        "acks": "all",
        "compression.type": "lz4",
        "linger.ms": 50,
        "queue.buffering.max.messages": 100_000,  # a bounded buffer
        "client.id": "joulestream-emitter",
    }


@dataclass
class DeliveryStats:
    """Counts of the producer's outcomes, updated by delivery callbacks."""

    delivered: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


class EventProducer:
    """Encodes events with the Avro contract and produces them keyed by ``run_id``."""

    def __init__(self, bootstrap_servers: str, topic: str) -> None:
        self.topic = topic
        self.stats = DeliveryStats()
        self._producer = Producer(producer_config(bootstrap_servers))

    def _on_delivery(self, err: KafkaError | None, _msg: Message) -> None:
        if err is None:
            self.stats.delivered += 1
        else:
            self.stats.failed += 1
            if len(self.stats.errors) < 10:
                self.stats.errors.append(str(err))
            log.warning("delivery failed: %s", err)

    def send(self, event: Measurement) -> None:
        """Queue one event; when the bounded queue is full, wait for deliveries to free space."""
        value = codec.encode(event.to_record())
        while True:
            try:
                self._producer.produce(
                    self.topic, value=value, key=event.run_id, on_delivery=self._on_delivery
                )
                break
            except BufferError:
                self._producer.poll(0.1)
        self._producer.poll(0)

    def send_all(self, events: Iterable[Measurement]) -> int:
        """Send every event; return how many were queued."""
        count = 0
        for event in events:
            self.send(event)
            count += 1
        return count

    def flush(self, timeout_s: float = 30.0) -> int:
        """Wait for outstanding deliveries; return how many are still undelivered."""
        remaining: int = self._producer.flush(timeout_s)
        return remaining
