"""Send events to Kafka from inside a training loop, without ever blocking or raising into it.

``emit`` only appends the event to an in-memory queue (well under a microsecond); a background
thread encodes it (fastavro) and hands it to confluent-kafka: idempotent, ``acks=all``, lz4,
key = run id. When librdkafka's bounded buffer is full the thread waits for room, and events
emitted meanwhile beyond ``max_queued`` are set aside for the spool, which the same thread
writes; events whose delivery failed (broker down past ``message.timeout.ms``) are spooled too
(``emitter/spool.py``), and ``python -m emitter replay`` sends them later. Replaying is
harmless downstream: event ids are deterministic. ``close`` (also run at interpreter exit and,
when asked, on SIGTERM) drains the queue, flushes, and spools what is still undelivered.
"""

import atexit
import collections
import contextlib
import logging
import signal
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from confluent_kafka import KafkaError, Message, Producer

from emitter import codec
from emitter.events import Measurement
from emitter.spool import Spool

log = logging.getLogger(__name__)

DEFAULT_SPOOL = Path("joulestream-spool.jsonl")


def producer_config(bootstrap_servers: str, message_timeout_ms: int = 30_000) -> dict[str, Any]:
    """The librdkafka settings every joulestream producer uses."""
    return {
        "bootstrap.servers": bootstrap_servers,
        "enable.idempotence": True,  # implies acks=all and in-order, de-duplicated retries
        "acks": "all",
        "compression.type": "lz4",
        "linger.ms": 50,
        "queue.buffering.max.messages": 100_000,  # a bounded buffer
        # After this long without an acknowledgement an event fails delivery and is spooled.
        "message.timeout.ms": message_timeout_ms,
        "client.id": "joulestream-emitter",
    }


@dataclass
class ProducerStats:
    """What happened to the events handed to ``emit`` (updated by the background thread)."""

    accepted: int = 0
    delivered: int = 0
    spooled: int = 0
    dropped: int = 0
    """Events lost because even the spool could not be written (disk full, no permission)."""


class EventProducer:
    """Non-blocking, non-raising event producer with a spool for what Kafka did not take."""

    def __init__(
        self,
        bootstrap_servers: str,
        topic: str,
        spool_path: Path = DEFAULT_SPOOL,
        max_queued: int = 100_000,
        message_timeout_ms: int = 30_000,
        handle_sigterm: bool = False,
    ) -> None:
        self.topic = topic
        self.stats = ProducerStats()
        self.spool = Spool(spool_path)
        self._max_queued = max_queued
        self._stats_lock = threading.Lock()
        self._queue: collections.deque[Measurement] = collections.deque()
        # Events beyond max_queued, written to the spool by the background thread, so that
        # the training thread never waits for a disk.
        self._overflow: collections.deque[Measurement] = collections.deque()
        # Records whose delivery failed, spooled in one batch (one fsync) after each poll.
        self._failed: list[dict[str, Any]] = []
        self._producer = Producer(producer_config(bootstrap_servers, message_timeout_ms))
        self._closed = threading.Event()
        self._close_deadline = 0.0
        """After close() has waited this long (monotonic s), what is left goes to the spool."""
        self._pump = threading.Thread(target=self._run, name="joulestream-emitter", daemon=True)
        self._pump.start()
        atexit.register(self.close)
        if handle_sigterm:
            self._chain_sigterm()

    # The hot path: called from the training loop.
    def emit(self, event: Measurement) -> None:
        """Queue one event for delivery; never blocks on Kafka.

        Raises ``ValueError`` only for a programming error at the call site (not a
        ``Measurement``, whose own constructor has validated every field); what goes wrong later
        (queue full, broker down, disk trouble) is handled here and never raised into training.
        """
        if type(event) is not Measurement:
            raise ValueError(f"emit() takes a Measurement, got {type(event).__name__}")
        try:
            if self._closed.is_set():
                self._to_spool([event.to_record()])  # no background thread any more
            elif len(self._queue) < self._max_queued:
                self._queue.append(event)
            else:
                self._overflow.append(event)
            self.stats.accepted += 1
        except Exception:  # the training loop must never see an error from here
            self.stats.dropped += 1
            log.exception("could not queue or spool an event")

    def _run(self) -> None:
        while not self._closed.is_set():
            if not self._drain():
                self._poll(0.01)  # serve delivery callbacks, or idle briefly
        self._drain()

    def _drain(self) -> bool:
        """Hand every queued event to librdkafka; True if there were any."""
        handled = self._spool_overflow()
        while self._queue:
            event = self._queue.popleft()
            handled = True
            # Cannot fail: the event was validated when it was built.
            value = codec.encode(event.to_record())
            while True:
                try:
                    self._producer.produce(
                        self.topic, value=value, key=event.run_id, on_delivery=self._on_delivery
                    )
                    break
                except BufferError:
                    if self._closed.is_set() and time.monotonic() > self._close_deadline:
                        # close() has waited long enough: the rest goes to the spool at once.
                        self._queue.appendleft(event)
                        self._spool_queue()
                        break
                    # Wait for room (deliveries or failures), spooling what overflows meanwhile.
                    self._spool_overflow()
                    self._poll(0.05)
                except Exception:
                    log.exception("could not produce event %s; spooling it", event.event_id)
                    self._to_spool([event.to_record()])
                    break
        self._poll(0)
        return handled

    def _poll(self, timeout_s: float) -> None:
        self._producer.poll(timeout_s)
        if self._failed:
            batch, self._failed = self._failed, []
            self._to_spool(batch)

    def _spool_queue(self) -> None:
        batch = []
        while self._queue:
            batch.append(self._queue.popleft().to_record())
        if batch:
            self._to_spool(batch)

    def _spool_overflow(self) -> bool:
        batch = []
        while self._overflow:
            batch.append(self._overflow.popleft().to_record())
        if batch:
            self._to_spool(batch)
        return bool(batch)

    def _on_delivery(self, err: KafkaError | None, msg: Message) -> None:
        if err is None:
            self.stats.delivered += 1
            return
        value = msg.value()
        if value is None:
            self.stats.dropped += 1
            return
        if not self._failed:
            log.warning("delivery failed (%s); spooling the undelivered events", err)
        self._failed.append(codec.decode(value))

    def _to_spool(self, records: list[dict[str, Any]]) -> None:
        # Called from the training thread (queue full) and from the background thread.
        with self._stats_lock:
            try:
                self.stats.spooled += self.spool.append(records)
            except OSError:
                self.stats.dropped += len(records)
                log.exception("could not spool %d events to %s", len(records), self.spool.path)

    def emit_all(self, events: Iterable[Measurement]) -> int:
        """``emit`` every event; return how many."""
        count = 0
        for event in events:
            self.emit(event)
            count += 1
        return count

    def flush(self, timeout_s: float = 30.0) -> int:
        """Wait until everything queued so far is delivered or spooled; return how many are
        still pending in librdkafka when ``timeout_s`` runs out."""
        deadline = time.monotonic() + timeout_s
        while self._queue and time.monotonic() < deadline:
            time.sleep(0.005)
        remaining: int = self._producer.flush(max(0.0, deadline - time.monotonic()))
        return remaining

    def close(self, timeout_s: float = 30.0) -> None:
        """Stop the background thread, deliver what can be delivered and spool the rest.

        Events emitted after ``close`` are written to the spool directly.
        """
        if self._closed.is_set():
            return
        self._close_deadline = time.monotonic() + timeout_s
        self._closed.set()
        # The sender stops by the deadline: past it, it spools instead of waiting for room.
        self._pump.join()
        # An emit() that raced with close() may have queued after the sender's last round.
        self._spool_queue()
        self._spool_overflow()
        if self._producer.flush(max(0.0, self._close_deadline - time.monotonic())) > 0:
            # Still undelivered: purging fails them through _on_delivery, to the spool.
            self._producer.purge(in_queue=True, in_flight=True)
            self._producer.flush(5.0)
        self._poll(0)
        atexit.unregister(self.close)

    def _chain_sigterm(self) -> None:
        previous = signal.getsignal(signal.SIGTERM)

        def on_sigterm(signum: int, frame: FrameType | None) -> None:
            self.close()
            if callable(previous):
                previous(signum, frame)
            else:
                raise SystemExit(128 + signum)

        with contextlib.suppress(ValueError):  # not the main thread: the caller must close()
            signal.signal(signal.SIGTERM, on_sigterm)

    def __enter__(self) -> "EventProducer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
