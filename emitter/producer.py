"""Send events to Kafka from inside a training loop, without ever blocking or raising into it.

``emit`` only appends the event to an in-memory queue (well under a microsecond); a background
thread encodes it (fastavro) and hands it to confluent-kafka: idempotent, ``acks=all``, lz4,
key = run id. When librdkafka's bounded buffer is full the thread waits for room, and events
emitted meanwhile beyond ``max_queued`` are set aside for the spool, which the same thread
writes; events whose delivery failed (broker down past ``message.timeout.ms``) are spooled too
(``emitter/spool.py``), and ``joulestream replay`` sends them later. Event ids are
deterministic, so a re-sent event is recognisable downstream. ``close`` (also run at interpreter
exit and, when asked, on SIGTERM) drains the queue, flushes, and spools what is still
undelivered.

When librdkafka reports every broker down, the producer goes offline: it purges librdkafka (the
events go to the spool), drops the client, and so its threads and their reconnection attempts,
and spools every later event itself, in one batch (one fsync) every ``OFFLINE_SPOOL_S`` and at
``flush`` and ``close``: a crash loses at most that much, as one loses what is in librdkafka's
buffer with a broker up. It then probes the broker with a plain TCP connection,
after 1 s, 2 s, 4 s ... up to ``PROBE_MAX_S``, and makes a new client when one answers. A trainer
with no broker pays for a few wakes a second, not for librdkafka reconnecting.

By default a background thread (the sender) hands events to librdkafka. ``pump=True`` leaves
that to the owner, who calls ``pump()`` from a thread of its own (the tracker's sampling thread,
which wakes once an interval anyway): one thread less to wake.

With no broker reachable the user's terminal gets one warning per producer, through Python
logging (``joulestream.producer``): librdkafka's own log lines (a "Connection refused" several times
a second) go to the ``joulestream.producer.librdkafka`` logger at DEBUG instead of stderr, and its
later errors to DEBUG as well.
"""

import atexit
import collections
import contextlib
import logging
import math
import os
import signal
import socket
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from confluent_kafka import KafkaError, Message, Producer

from joulestream import codec
from joulestream.events import EVENT_TYPES, Event
from joulestream.spool import Spool

log = logging.getLogger(__name__)
librdkafka_log = logging.getLogger(f"{__name__}.librdkafka")
"""Where librdkafka's own log lines go, all at DEBUG (their syslog level is in the message)."""

DEFAULT_SPOOL = Path("joulestream-spool.jsonl")
REPORT_WAIT_S = 0.1
"""With deliveries outstanding, the sender serves their reports at least this often (the
acknowledgement of an event comes ``linger.ms`` plus a round trip after it is handed over)."""
IDLE_WAIT_S = 5.0
"""With nothing outstanding there is nothing to serve: the sender sleeps until an emit or close
wakes it, and looks round this often all the same."""
PUMP_WAIT_S = 5.0
"""An owner that pumps (``pump=True``) should call ``pump`` at least this often, so that delivery
reports, broker errors and probes are served."""
OFFLINE_SPOOL_S = 5.0
"""Offline, events wait in memory at most this long before they are spooled together."""
PROBE_FIRST_S = 1.0
"""Offline, the first probe of the broker comes this long after the client was dropped; each probe
that finds no broker doubles the wait, up to ``PROBE_MAX_S``."""
PROBE_MAX_S = 60.0
PURGE_WAIT_S = 0.5
"""Going offline waits at most this long for the reports of the events it purged (each is
spooled), and keeps the client until every one has come: no event is dropped with it."""
PROBE_TIMEOUT_S = 0.5
"""How long one probe's TCP connection may take (per bootstrap address)."""
LINGER_MS = 50
"""librdkafka's ``linger.ms`` by default: a fleet's or a replay's events are batched."""
PUMPED_LINGER_MS = 0
"""``linger.ms`` of a producer its owner pumps (``pump=True``: the tracker, ``track``): one
event an interval has nothing to batch with, and a linger only adds a timer wake of librdkafka's
broker thread per event (the sending is the same: idempotent, ``acks=all``)."""


SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
SECRET_KEYS = frozenset({"sasl.password"})
"""librdkafka settings never shown: a settings dict prints them as '***'."""


@dataclass(frozen=True)
class KafkaSecurity:
    """How the producer authenticates to Kafka: librdkafka's ``security.protocol``,
    ``sasl.mechanism``, ``sasl.username`` and ``sasl.password``. The password never appears in
    its repr or in an error message."""

    protocol: str = "PLAINTEXT"
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.protocol not in SECURITY_PROTOCOLS:
            raise ValueError(
                f"KAFKA_SECURITY_PROTOCOL must be one of {', '.join(SECURITY_PROTOCOLS)}, "
                f"got {self.protocol!r}"
            )
        sasl_set = [
            name
            for name, value in (
                ("KAFKA_SASL_MECHANISM", self.sasl_mechanism),
                ("KAFKA_SASL_USERNAME", self.sasl_username),
                ("KAFKA_SASL_PASSWORD", self.sasl_password),
            )
            if value
        ]
        if not self.protocol.startswith("SASL_"):
            if sasl_set:
                raise ValueError(
                    f"{', '.join(sasl_set)} set, but KAFKA_SECURITY_PROTOCOL is {self.protocol}: "
                    "use SASL_SSL (or SASL_PLAINTEXT) to authenticate"
                )
            return
        if self.sasl_mechanism not in SASL_MECHANISMS:
            raise ValueError(
                f"KAFKA_SASL_MECHANISM must be one of {', '.join(SASL_MECHANISMS)} with "
                f"{self.protocol}, got {self.sasl_mechanism!r}"
            )
        if not self.sasl_username or not self.sasl_password:
            raise ValueError(f"{self.protocol} needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "KafkaSecurity":
        """From KAFKA_SECURITY_PROTOCOL (default PLAINTEXT; any case), KAFKA_SASL_MECHANISM,
        KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD; an empty variable counts as unset."""
        env = os.environ if env is None else env
        mechanism = env.get("KAFKA_SASL_MECHANISM") or None
        return cls(
            protocol=(env.get("KAFKA_SECURITY_PROTOCOL") or "PLAINTEXT").upper(),
            sasl_mechanism=mechanism.upper() if mechanism else None,
            sasl_username=env.get("KAFKA_SASL_USERNAME") or None,
            sasl_password=env.get("KAFKA_SASL_PASSWORD") or None,
        )

    def config(self) -> dict[str, str]:
        """The librdkafka settings; nothing beyond the default for PLAINTEXT."""
        if self.protocol == "PLAINTEXT":
            return {}
        settings = {"security.protocol": self.protocol}
        if self.sasl_mechanism and self.sasl_username and self.sasl_password:
            settings["sasl.mechanism"] = self.sasl_mechanism
            settings["sasl.username"] = self.sasl_username
            settings["sasl.password"] = self.sasl_password
        return settings

    def __repr__(self) -> str:
        password = "None" if self.sasl_password is None else "'***'"
        return (
            f"KafkaSecurity(protocol={self.protocol!r}, sasl_mechanism={self.sasl_mechanism!r}, "
            f"sasl_username={self.sasl_username!r}, sasl_password={password})"
        )


class ProducerSettings(dict[str, Any]):
    """librdkafka settings, a plain dict to confluent-kafka, whose repr (and so str, and any log
    line or traceback that shows it) hides the secrets."""

    def __repr__(self) -> str:
        shown = {k: "***" if k in SECRET_KEYS else v for k, v in self.items()}
        return repr(shown)

    __str__ = __repr__


class LibrdkafkaLog:
    """confluent-kafka's ``logger`` setting: it calls ``log(level, fmt, *args)`` from ``poll``
    and ``flush`` for every librdkafka log line, which would otherwise go to stderr. Every line
    goes to ``librdkafka_log`` at DEBUG, whatever its level: what a user must know about the
    broker is said once by ``BrokerWarning``."""

    def log(self, level: int, msg: str, *args: object) -> None:
        if librdkafka_log.isEnabledFor(logging.DEBUG):
            librdkafka_log.debug("[%s] " + msg, logging.getLevelName(level), *args)


class BrokerWarning:
    """Says once per producer, as a warning, that Kafka cannot be reached (or a delivery
    failed) and where the events go instead; every later report at DEBUG, fatal errors always
    at ERROR."""

    def __init__(self, bootstrap_servers: str) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.spool_path: Path | None = None
        self.warned = False
        self._lock = threading.Lock()

    def warn(self, problem: str) -> None:
        with self._lock:
            first, self.warned = not self.warned, True
        if not first:
            log.debug("Kafka at %s: %s", self.bootstrap_servers, problem)
            return
        log.warning(
            "Kafka at %s: %s; undelivered events go to the spool %s (send them later with "
            "`joulestream replay`)",
            self.bootstrap_servers,
            problem,
            self.spool_path,
        )

    def error_cb(self, err: KafkaError) -> None:
        """confluent-kafka's ``error_cb``: client-level errors (transport, all brokers down,
        authentication), served by ``poll``."""
        if err.fatal():
            log.error("Kafka at %s: fatal error %s", self.bootstrap_servers, err.str())
            return
        self.warn(err.str())


def producer_config(
    bootstrap_servers: str,
    message_timeout_ms: int = 30_000,
    security: KafkaSecurity | None = None,
    broker_warning: BrokerWarning | None = None,
    linger_ms: int = LINGER_MS,
) -> ProducerSettings:
    """The librdkafka settings every joulestream producer uses. ``security``: from the
    environment (``KafkaSecurity.from_env``) unless given; a bad setting is a ``ValueError``.
    ``linger_ms``: how long librdkafka waits to batch events (``LINGER_MS``).
    librdkafka's log lines go to Python logging (``LibrdkafkaLog``), its errors to
    ``broker_warning`` (one made here unless given)."""
    if security is None:
        security = KafkaSecurity.from_env()
    return ProducerSettings(
        {
            "bootstrap.servers": bootstrap_servers,
            "enable.idempotence": True,  # implies acks=all and in-order, de-duplicated retries
            "acks": "all",
            "compression.type": "lz4",
            "linger.ms": linger_ms,
            "queue.buffering.max.messages": 100_000,  # a bounded buffer
            # After this long without an acknowledgement an event fails delivery and is spooled.
            "message.timeout.ms": message_timeout_ms,
            "client.id": "joulestream-emitter",
            "logger": LibrdkafkaLog(),
            "error_cb": (broker_warning or BrokerWarning(bootstrap_servers)).error_cb,
            **security.config(),
        }
    )


@dataclass
class ProducerStats:
    """What happened to the events handed to ``emit``.

    Once ``close`` has returned: ``accepted == delivered + spooled + dropped``.
    """

    accepted: int = 0
    delivered: int = 0
    spooled: int = 0
    dropped: int = 0
    """Events lost because even the spool could not be written (disk full, no permission)."""


def bootstrap_addresses(bootstrap_servers: str) -> list[tuple[str, int]]:
    """(host, port) of each bootstrap address: ``host:port``, ``[v6]:port``, with or without a
    ``PROTOCOL://`` prefix; an entry without a port is left out (librdkafka's default, 9092)."""
    addresses = []
    for entry in bootstrap_servers.split(","):
        entry = entry.strip().rsplit("://", 1)[-1]
        host, _, port = entry.rpartition(":")
        host = host.strip("[]")
        if not host or not port.isdigit():
            host, port = entry.strip("[]"), "9092"
        if host:
            addresses.append((host, int(port)))
    return addresses


def broker_answers(bootstrap_servers: str, timeout_s: float = PROBE_TIMEOUT_S) -> bool:
    """Whether a TCP connection to one of the bootstrap addresses opens: a probe that costs one
    connect, where a librdkafka client costs threads that retry several times a second."""
    for host, port in bootstrap_addresses(bootstrap_servers):
        try:
            with socket.create_connection((host, port), timeout=timeout_s):
                return True
        except OSError:
            continue
    return False


class EventProducer:
    """Non-blocking, non-raising event producer with a spool for what Kafka did not take."""

    pumped_by_owner = False
    """True when the owner calls ``pump()`` (``pump=True``); False when a sender thread sends."""

    def __init__(
        self,
        bootstrap_servers: str,
        topic: str,
        spool_path: Path = DEFAULT_SPOOL,
        max_queued: int = 100_000,
        message_timeout_ms: int = 30_000,
        handle_sigterm: bool = False,
        security: KafkaSecurity | None = None,
        pump: bool = False,
    ) -> None:
        """``security``: Kafka authentication, from the environment unless given
        (``KafkaSecurity.from_env``); a bad setting is a ``ValueError``, raised here.
        ``pump``: no sender thread; the owner calls ``pump()`` after it emits and at least every
        ``PUMP_WAIT_S``, and librdkafka sends each event at once (``PUMPED_LINGER_MS``)."""
        # First, so that a bad setting fails before a thread is started.
        self._broker_warning = BrokerWarning(bootstrap_servers)
        self._config = producer_config(
            bootstrap_servers,
            message_timeout_ms,
            security,
            self._broker_warning,
            linger_ms=PUMPED_LINGER_MS if pump else LINGER_MS,
        )
        self._config["error_cb"] = self._on_error
        self._bootstrap_servers = bootstrap_servers
        self.topic = topic
        self.stats = ProducerStats()
        self.spool = Spool(spool_path)
        self._broker_warning.spool_path = self.spool.path
        self._max_queued = max_queued
        # Guards stats, the closed flag's hand-over and the queues' hand-over at close.
        self._lock = threading.Lock()
        # Held by whichever thread hands events to librdkafka (the sender, a pump, close).
        self._send_lock = threading.RLock()
        self._queue: collections.deque[Event] = collections.deque()
        # Events beyond max_queued, written to the spool by the background thread, so that
        # the training thread does not wait for a disk.
        self._overflow: collections.deque[Event] = collections.deque()
        # Records whose delivery failed, spooled in one batch (one fsync) after each poll.
        self._failed: collections.deque[dict[str, Any]] = collections.deque()
        self._pending = 0  # emitted, not yet handed to librdkafka or the spool
        self._producer: Producer | None = Producer(self._config)
        """The librdkafka client; None while offline (every broker down)."""
        self._all_down = False
        """librdkafka said every broker is down (error_cb, on the polling thread)."""
        self._probe_wait_s = PROBE_FIRST_S
        self._probe_at_s = 0.0
        self._spool_at_s = 0.0
        """Offline, the queue is spooled at this time (monotonic s); 0: at once."""
        self._flushing = 0
        """How many ``flush`` calls are waiting: offline, the queue is spooled at once meanwhile.
        A count, not a reset of ``_spool_at_s``, which the sender may be rewriting as it ends a
        batch (a flush then waited for the next batch, up to ``OFFLINE_SPOOL_S``)."""
        self._closed = False
        self._close_deadline = 0.0
        """After close() has waited this long (monotonic s), what is left goes to the spool."""
        self._close_done = threading.Event()
        # Wakes an idle sender: emit() sets it only while the sender says it is idle.
        self._wake = threading.Event()
        self._idle = False
        self.pumped_by_owner = pump
        self._pump: threading.Thread | None = None
        if not pump:
            self._pump = threading.Thread(target=self._run, name="joulestream-emitter", daemon=True)
            self._pump.start()
        atexit.register(self.close)
        if handle_sigterm:
            self._chain_sigterm()

    @property
    def offline(self) -> bool:
        """Whether the producer has given up on the broker for now (events go to the spool)."""
        return self._producer is None

    # The hot path: called from the training loop.
    def emit(self, event: Event) -> None:
        """Queue one event for delivery; never blocks on Kafka.

        Raises ``ValueError`` only for a programming error at the call site (not an event of
        ``joulestream.events``, whose constructors validate every field); what goes wrong later
        (queue full, broker down, disk trouble) is handled here and never raised into training.
        After ``close``, events are written to the spool on the caller's thread.
        """
        if type(event) not in EVENT_TYPES:
            raise ValueError(
                f"emit() takes an event of joulestream.events, got {type(event).__name__}"
            )
        with self._lock:
            self.stats.accepted += 1
            if not self._closed:
                self._pending += 1
                if len(self._queue) < self._max_queued:
                    self._queue.append(event)
                else:
                    self._overflow.append(event)
                if self._idle and self._producer is not None:  # offline: events wait
                    self._wake.set()
                return
        self._to_spool([event])  # no background thread any more

    def emit_all(self, events: Iterable[Event]) -> int:
        """``emit`` every event; return how many."""
        count = 0
        for event in events:
            self.emit(event)
            count += 1
        return count

    def pump(self) -> None:
        """Hand what is queued to librdkafka (or the spool), serve delivery reports and broker
        errors, and probe the broker when offline and due; on the caller's thread, never
        raising. For a producer made with ``pump=True``; its owner calls this after emitting and
        at least every ``PUMP_WAIT_S``."""
        try:
            with self._send_lock:
                self._drain()
        except Exception:  # the owner's thread must outlive any one bad event or callback
            log.exception("the event sender hit an error; it goes on")

    def _run(self) -> None:
        while True:
            with self._lock:
                closing = self._closed
            try:
                with self._send_lock:
                    handled = self._drain()
                if not handled:
                    self._wait_for_work()
            except Exception:  # the sender must outlive any one bad event or callback
                log.exception("the event sender hit an error; it goes on")
            if closing and not self._queue and not self._overflow:
                return

    def _wait_for_work(self) -> None:
        """Sleep until an emit or close wakes the sender, or REPORT_WAIT_S (deliveries
        outstanding) or IDLE_WAIT_S (none) has passed; then serve delivery reports. Never
        librdkafka's poll with a timeout, and no short polls: each wake of a thread costs about
        half a millisecond of CPU here, and librdkafka's poll wakes every few milliseconds
        inside its timeout, a steady cost beside a training loop that emits once a second."""
        producer = self._producer
        if producer is not None and len(producer) > 0:
            timeout_s = REPORT_WAIT_S
        elif producer is None:
            next_s = min(self._probe_at_s, self._spool_at_s if self._queue else math.inf)
            timeout_s = max(0.0, min(IDLE_WAIT_S, next_s - time.monotonic()))
        else:
            timeout_s = IDLE_WAIT_S
        self._idle = True
        # Checked after the flag is up: an emit before this line is seen here, one after it
        # sets the event. Offline, queued events wait for their batch.
        waiting = not self._queue or (producer is None and not self._spool_due())
        if waiting and not self._overflow and not self._closed:
            self._wake.wait(timeout_s)
        self._idle = False
        self._wake.clear()
        with self._send_lock:
            self._poll(0)

    def _drain(self) -> bool:
        """Hand every queued event to librdkafka (or the spool), serve reports and errors, and
        go offline or back online when due; True if there were any events."""
        handled = self._spool_all(self._overflow) > 0
        while self._queue:
            if self._producer is None:
                if self._closed or self._spool_due():
                    self._spool_all(self._queue)  # offline: one batch, one fsync
                    self._spool_at_s = time.monotonic() + OFFLINE_SPOOL_S
                    handled = True
                break
            event = self._queue.popleft()
            handled = True
            try:
                self._produce(event)
            except BufferError:
                # Past close()'s deadline, or every broker down: this event and the rest go
                # to the spool at once.
                self._queue.appendleft(event)
                self._spool_all(self._queue)
                break
            except Exception:
                log.exception("could not produce event %s; spooling it", event.event_id)
                self._to_spool([event])
            self._done(1)
        self._poll(0)
        return handled

    def _spool_due(self) -> bool:
        """Offline: whether the queue is to be spooled now (its batch is due, or a flush
        waits)."""
        return self._flushing > 0 or time.monotonic() >= self._spool_at_s

    def _produce(self, event: Event) -> None:
        value = codec.encode(event.to_record())
        while True:
            producer = self._producer
            if producer is None:
                raise BufferError("offline")
            try:
                producer.produce(
                    self.topic, value=value, key=event.run_id, on_delivery=self._on_delivery
                )
                return
            except BufferError:
                if self._closed and time.monotonic() > self._close_deadline:
                    raise  # close() has waited long enough: this one goes to the spool
                # Wait for room (deliveries or failures), spooling what overflows meanwhile.
                self._spool_all(self._overflow)
                self._poll(0.05)

    def _poll(self, timeout_s: float) -> None:
        """Serve librdkafka's reports and errors, spool failed deliveries, and go offline when
        every broker is down, or probe for one when offline and due. Holds the send lock."""
        if self._producer is not None:
            self._producer.poll(timeout_s)
            if self._all_down and not self._closed:
                self._go_offline()
        elif not self._closed and time.monotonic() >= self._probe_at_s:
            self._probe()
        if self._failed:
            batch = []
            while self._failed:
                batch.append(self._failed.popleft())
            self._to_spool(batch)

    def _on_error(self, err: KafkaError) -> None:
        """confluent-kafka's ``error_cb``, served by ``poll``: said once to the user
        (``BrokerWarning``), and every broker down takes the producer offline."""
        if err.code() == KafkaError._ALL_BROKERS_DOWN:
            self._all_down = True
        self._broker_warning.error_cb(err)

    def _go_offline(self) -> None:
        """Purge librdkafka (its undelivered events fail to the spool) and drop the client, and
        with it its threads' reconnecting; probe the broker later."""
        producer = self._producer
        assert producer is not None
        producer.purge(in_queue=True, in_flight=True)
        # Serves the purged events' reports (to _failed, spooled by the caller); those in flight
        # are purged by the broker's thread, so they may come a little later.
        if producer.flush(PURGE_WAIT_S) > 0:
            return  # a report still to come: keep the client, go offline at the next poll
        self._producer = None
        self._all_down = False
        self._spool_at_s = 0.0
        self._probe_at_s = time.monotonic() + self._probe_wait_s
        log.debug(
            "Kafka at %s is down: events go to the spool; next probe in %g s",
            self._bootstrap_servers,
            self._probe_wait_s,
        )

    def _probe(self) -> None:
        """Offline and due: make a new client if the broker answers, else wait twice as long."""
        if broker_answers(self._bootstrap_servers):
            log.debug("Kafka at %s answers: sending again", self._bootstrap_servers)
            self._producer = Producer(self._config)
            # Doubled again should the broker still refuse (authentication, a broker that
            # is not Kafka): reset only by a delivery.
            self._probe_wait_s = min(2 * self._probe_wait_s, PROBE_MAX_S)
            return
        self._probe_wait_s = min(2 * self._probe_wait_s, PROBE_MAX_S)
        self._probe_at_s = time.monotonic() + self._probe_wait_s

    def _spool_all(self, queue: "collections.deque[Event]") -> int:
        """Spool every event of one of the two queues at once (one fsync); return how many."""
        batch = []
        while queue:
            batch.append(queue.popleft())
        if batch:
            self._to_spool(batch)
            self._done(len(batch))
        return len(batch)

    def _done(self, count: int) -> None:
        with self._lock:
            self._pending -= count

    def _on_delivery(self, err: KafkaError | None, msg: Message) -> None:
        if err is None:
            with self._lock:
                self.stats.delivered += 1
            self._probe_wait_s = PROBE_FIRST_S
            return
        value = msg.value()
        if not self._failed:
            self._broker_warning.warn(f"delivery failed ({err.str()})")
        if value is None:
            with self._lock:
                self.stats.dropped += 1
        else:
            self._failed.append(codec.decode(value))

    def _to_spool(self, items: "list[Event] | list[dict[str, Any]]") -> None:
        records = [i.to_record() if isinstance(i, Event) else i for i in items]
        try:
            written = self.spool.append(records)
        except OSError:
            log.exception("could not spool %d events to %s", len(records), self.spool.path)
            with self._lock:
                self.stats.dropped += len(records)
            return
        with self._lock:
            self.stats.spooled += written

    def flush(self, timeout_s: float = 30.0) -> int:
        """Wait until every event emitted so far is delivered or spooled; return how many are
        still pending (in this producer or in librdkafka) when ``timeout_s`` runs out."""
        deadline = time.monotonic() + timeout_s
        with self._lock:
            self._flushing += 1  # offline: spool what waits now
        try:
            if self.pumped_by_owner:
                self.pump()
            else:
                self._wake.set()
            while self._pending and time.monotonic() < deadline:
                time.sleep(0.005)
        finally:
            with self._lock:
                self._flushing -= 1
        producer = self._producer
        remaining: int = producer.flush(max(0.0, deadline - time.monotonic())) if producer else 0
        # The sender may be waiting for room in librdkafka's buffer, holding the lock: then
        # it spools the failures itself.
        if self._send_lock.acquire(blocking=False):
            try:
                self._poll(0)
            finally:
                self._send_lock.release()
        return remaining + self._pending

    def close(self, timeout_s: float = 30.0) -> None:
        """Stop the background thread, deliver what can be delivered and spool the rest.

        Takes at most about ``timeout_s`` plus the time to write the spool; a second caller
        (a signal handler, atexit) waits for the first one to finish.
        """
        with self._lock:
            first = not self._closed
            self._close_deadline = time.monotonic() + timeout_s
            self._closed = True
        self._wake.set()
        if not first:
            self._close_done.wait(timeout_s + 10)
            return
        try:
            if self._pump is not None:
                # Past the deadline the sender spools instead of waiting for room, so it ends.
                self._pump.join(timeout_s + 5)
                done = not self._pump.is_alive()
            else:
                self.pump()  # on this thread; past the deadline it spools, so it ends
                done = True
            with self._send_lock:
                if done:
                    # An emit() that raced with close() may have queued after the last round.
                    self._spool_all(self._queue)
                    self._spool_all(self._overflow)
                producer = self._producer
                if producer is not None:
                    left = producer.flush(max(0.0, self._close_deadline - time.monotonic()))
                    if left > 0:
                        # Still undelivered: purging fails them through _on_delivery, to the
                        # spool.
                        producer.purge(in_queue=True, in_flight=True)
                        producer.flush(5.0)
                self._poll(0)
        finally:
            self._close_done.set()
            atexit.unregister(self.close)

    def _chain_sigterm(self) -> None:
        previous = signal.getsignal(signal.SIGTERM)

        def on_sigterm(signum: int, frame: FrameType | None) -> None:
            self.close()
            if callable(previous):
                previous(signum, frame)
            elif previous != signal.SIG_IGN:
                raise SystemExit(128 + signum)

        with contextlib.suppress(ValueError):  # not the main thread: the caller must close()
            signal.signal(signal.SIGTERM, on_sigterm)

    def __enter__(self) -> "EventProducer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
