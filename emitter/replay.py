"""Send a spool (or any JSON Lines file of events) to Kafka, reporting every bad line.

Every event keeps its deterministic ``event_id``, so a replayed event that had already arrived
is recognisable downstream as a duplicate.
"""

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from confluent_kafka import KafkaError, Message, Producer

from emitter import codec
from emitter.events import event_from_record
from emitter.producer import producer_config
from emitter.spool import BadLine, read_lines


@dataclass
class ReplaySummary:
    """What a replay did; ``ok`` only when every line was valid and delivered."""

    sent: int = 0
    delivered: int = 0
    failed: int = 0
    bad_lines: list[BadLine] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.bad_lines and self.failed == 0 and self.delivered == self.sent


def replay(
    path: Path,
    bootstrap_servers: str,
    topic: str,
    progress: Callable[[int, int], None] | None = None,
    timeout_s: float = 60.0,
) -> ReplaySummary:
    """Produce every valid line of ``path``; bad lines are reported and skipped."""
    summary = ReplaySummary()
    with open(path, encoding="utf-8") as lines:
        total = sum(1 for line in lines if line.strip())
    config = producer_config(bootstrap_servers, message_timeout_ms=int(timeout_s * 1000))
    producer = Producer(config)

    def on_delivery(err: KafkaError | None, _msg: Message) -> None:
        if err is None:
            summary.delivered += 1
        else:
            summary.failed += 1

    done = 0
    for line_no, parsed in read_lines(path):
        done += 1
        if isinstance(parsed, BadLine):
            summary.bad_lines.append(parsed)
            continue
        try:
            event = event_from_record(parsed)
        except (TypeError, ValueError) as exc:
            summary.bad_lines.append(BadLine(line_no, str(exc)))
            continue
        value = codec.encode(event.to_record())
        while True:
            try:
                producer.produce(topic, value=value, key=event.run_id, on_delivery=on_delivery)
                break
            except BufferError:
                producer.poll(0.1)  # replay may wait: it is not a training loop
        summary.sent += 1
        producer.poll(0)
        if progress is not None and done % 1000 == 0:
            progress(done, total)
    undelivered = producer.flush(timeout_s)
    summary.failed += undelivered
    if progress is not None:
        progress(done, total)
    return summary


def print_progress(done: int, total: int) -> None:
    """A one-line progress bar on stderr."""
    width = 30
    filled = width * done // total if total else width
    sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} lines")
    if done == total:
        sys.stderr.write("\n")
    sys.stderr.flush()
