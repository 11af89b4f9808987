"""Send a spool (or any JSON Lines file of events) to Kafka, reporting every line that fails.

A line fails when it is not a valid event (not UTF-8, not JSON, nested too deeply, not a record
of the schema, an event the model refuses, too large) or when Kafka does not take it (refused at
once, e.g. too large for the broker, or not acknowledged in time). Each failure is reported with
its line number and reason, and the replay goes on with the next line.

Nothing is lost: afterwards the file holds exactly the lines that failed, byte for byte and in
their order, followed by whatever a producer appended while the replay ran; when every line was
sent it is left empty. So a replay can be repeated: it retries only what did not go.

Every event keeps its deterministic ``event_id``, so a replayed event that had already arrived
(its acknowledgement lost) is recognisable downstream as a duplicate. Event times are checked
against their absolute bounds only: spooled events are old by nature.
"""

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from joulestream import codec, limits
from joulestream.events import event_from_record
from joulestream.producer import producer_config
from joulestream.spool import BadLine, Line, keep_only, locked_size, scan

UNACKNOWLEDGED = (KafkaError._MSG_TIMED_OUT, KafkaError._PURGE_QUEUE, KafkaError._PURGE_INFLIGHT)
"""Delivery errors that mean no acknowledgement came in time (the event may still have arrived:
a later replay of it is a duplicate by id)."""


@dataclass
class ReplaySummary:
    """What a replay did; ``ok`` only when every line was a valid event and was delivered."""

    lines: int = 0
    """Non-blank lines read."""
    sent: int = 0
    """Events handed to Kafka's client."""
    delivered: int = 0
    bad_lines: list[BadLine] = field(default_factory=list)
    """Lines that are not valid events: never sent."""
    undelivered: list[BadLine] = field(default_factory=list)
    """Valid events that Kafka refused or did not acknowledge in time."""
    kept: int = 0
    """Lines kept in the file for a later replay (bad and undelivered)."""
    keep_error: str | None = None
    """Why the file could not be rewritten; it is then unchanged, every line still in it."""

    @property
    def failed(self) -> int:
        """Valid events not delivered."""
        return len(self.undelivered)

    @property
    def failures(self) -> list[BadLine]:
        """Every line that failed, in file order."""
        return sorted(self.bad_lines + self.undelivered, key=lambda bad: bad.line_no)

    @property
    def ok(self) -> bool:
        return not self.bad_lines and not self.undelivered and self.keep_error is None


def replay(
    path: Path,
    bootstrap_servers: str,
    topic: str,
    progress: Callable[[int, int], None] | None = None,
    timeout_s: float = 60.0,
    config: dict[str, Any] | None = None,
) -> ReplaySummary:
    """Produce every valid line of ``path``; then keep only the lines that failed in it.

    ``timeout_s``: how long an event may wait for Kafka's acknowledgement. ``config``: the
    librdkafka settings, ``producer_config`` (which reads the Kafka security settings from the
    environment) by default.
    """
    summary = ReplaySummary()
    size = locked_size(path)  # appends after this point are left for the next replay
    total = _count_lines(path, size)
    if config is None:
        config = producer_config(bootstrap_servers, message_timeout_ms=int(timeout_s * 1000))
    producer = Producer(config)
    failed: dict[int, Line] = {}

    def reporter(line: Line) -> Callable[[KafkaError | None, Message], None]:
        def on_delivery(err: KafkaError | None, _msg: Message) -> None:
            if err is None:
                summary.delivered += 1
            else:
                reason = err.str()
                if err.code() in UNACKNOWLEDGED:
                    reason = f"not acknowledged within {timeout_s:g} s ({reason})"
                summary.undelivered.append(BadLine(line.line_no, f"not delivered: {reason}"))
                failed[line.line_no] = line

        return on_delivery

    for line in scan(path, end=size):
        summary.lines += 1
        encoded = _encode(line)
        if isinstance(encoded, BadLine):
            summary.bad_lines.append(encoded)
            failed[line.line_no] = line
        else:
            refusal = _produce(producer, topic, *encoded, reporter(line))
            if refusal is None:
                summary.sent += 1
            else:
                summary.undelivered.append(BadLine(line.line_no, f"Kafka refused it: {refusal}"))
                failed[line.line_no] = line
        producer.poll(0)
        if progress is not None and summary.lines % 1000 == 0:
            progress(line.line_no, total)
    if producer.flush(timeout_s) > 0:
        # Not acknowledged in time: purging fails them through their delivery reports.
        producer.purge(in_queue=True, in_flight=True)
        producer.flush(5.0)
    if progress is not None:
        progress(total, total)
    spans = [(failed[n].start, failed[n].end) for n in sorted(failed)]
    try:
        summary.kept = keep_only(path, spans, size)
    except OSError as exc:
        summary.keep_error = f"could not rewrite {path} ({exc}); it is unchanged"
    return summary


def _encode(line: Line) -> tuple[str, bytes] | BadLine:
    """The Kafka key and value of a line's event, or why it is not a valid event."""
    if isinstance(line.parsed, BadLine):
        return line.parsed
    try:
        with limits.event_time_window(limits.ANY_TIME):
            event = event_from_record(line.parsed)
        return event.run_id, codec.encode(event.to_record())
    except (TypeError, ValueError, KeyError, AttributeError, RecursionError) as exc:
        return BadLine(line.line_no, f"not a valid event: {exc}")


def _produce(
    producer: Producer,
    topic: str,
    key: str,
    value: bytes,
    on_delivery: Callable[[KafkaError | None, Message], None],
) -> str | None:
    """Hand one event to Kafka's client; why it refused, if it did."""
    while True:
        try:
            producer.produce(topic, value=value, key=key, on_delivery=on_delivery)
            return None
        except BufferError:
            producer.poll(0.1)  # replay may wait: it is not a training loop
        except KafkaException as exc:
            error = exc.args[0] if exc.args else exc
            return error.str() if isinstance(error, KafkaError) else str(error)


def _count_lines(path: Path, size: int) -> int:
    """Lines in the first ``size`` bytes, a last one without a newline included."""
    count = 0
    last = b"\n"
    with open(path, "rb") as file:
        left = size
        while left > 0 and (chunk := file.read(min(1 << 20, left))):
            count += chunk.count(b"\n")
            left -= len(chunk)
            last = chunk[-1:]
    return count + (last != b"\n")


def print_progress(done: int, total: int) -> None:
    """A one-line progress bar on stderr."""
    width = 30
    filled = min(width, width * done // total) if total else width
    sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} lines")
    if done >= total:
        sys.stderr.write("\n")
    sys.stderr.flush()
