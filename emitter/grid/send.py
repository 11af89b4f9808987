"""Send grid intensity events to Kafka, key = zone, and say what was delivered.

The librdkafka settings are the emitter's (``emitter.producer.producer_config``: idempotent,
``acks=all``, and the ``KAFKA_*`` security settings from the environment). A zone's periods go
in time order, and the key keeps them in one partition in that order. There is no spool: the
input (a file, a response) is still there, and sending the same records again is harmless, so
a failed send is reported and can simply be repeated.
"""

import json
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import IO, Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from joulestream.grid import codec
from joulestream.grid.events import GridIntensity


@dataclass
class SendSummary:
    sent: int = 0
    """Handed to Kafka's client."""
    delivered: int = 0
    failures: list[str] = field(default_factory=list)
    """One line per event Kafka refused or did not acknowledge: zone, period, reason."""

    @property
    def ok(self) -> bool:
        return not self.failures and self.delivered == self.sent


def in_order(events: Iterable[GridIntensity]) -> list[GridIntensity]:
    """By zone, then period, then publication: the order a consumer should see them in."""
    return sorted(events, key=lambda e: (e.zone, e.start_ms, e.published_at_ms))


def send(
    events: Iterable[GridIntensity],
    topic: str,
    config: dict[str, Any],
    timeout_s: float = 60.0,
) -> SendSummary:
    """Produce every event and wait up to ``timeout_s`` for the acknowledgements. ``config``:
    librdkafka settings, ``emitter.producer.producer_config(...)``."""
    summary = SendSummary()
    producer = Producer(config)

    def reporter(event: GridIntensity) -> Any:  # noqa: ANN401
        def on_delivery(err: KafkaError | None, _msg: Message) -> None:
            if err is None:
                summary.delivered += 1
            else:
                summary.failures.append(f"{_label(event)}: not delivered: {err.str()}")

        return on_delivery

    for event in in_order(events):
        value = codec.encode(event)
        while True:
            try:
                producer.produce(topic, value=value, key=event.key, on_delivery=reporter(event))
                summary.sent += 1
                break
            except BufferError:
                producer.poll(0.1)  # a batch tool may wait for room
            except KafkaException as exc:
                summary.failures.append(f"{_label(event)}: Kafka refused it: {exc}")
                break
        producer.poll(0)
    if producer.flush(timeout_s) > 0:
        # Not acknowledged in time: purging fails them through their delivery reports.
        producer.purge(in_queue=True, in_flight=True)
        producer.flush(5.0)
    return summary


def write_json_lines(events: Iterable[GridIntensity], out: IO[str] | None = None) -> int:
    """The records as JSON Lines (``--print``, to stdout by default): what would be sent, in
    sending order."""
    out = sys.stdout if out is None else out
    count = 0
    for event in in_order(events):
        out.write(json.dumps(event.to_record(), separators=(",", ":")) + "\n")
        count += 1
    return count


def _label(event: GridIntensity) -> str:
    return f"{event.zone} [{event.start_ms}, {event.end_ms})"
