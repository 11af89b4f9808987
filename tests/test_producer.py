import logging
import os
import re
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import KafkaError

from joulestream.producer import (
    EventProducer,
    KafkaSecurity,
    bootstrap_addresses,
    broker_answers,
    producer_config,
)
from joulestream.spool import read_lines
from tests.test_events import measurement

# Nothing listens on port 1: every delivery fails, fast with a short message timeout.
NO_BROKER = "127.0.0.1:1"


def spooled_seqs(path: Path) -> list[int]:
    return sorted(int(record["seq"]) for _, record in read_lines(path))  # type: ignore[index]


def test_events_for_an_unreachable_broker_end_in_the_spool(tmp_path: Path):
    """With no broker, emit still returns at once and every event is in the spool after close."""
    producer = EventProducer(NO_BROKER, "t", tmp_path / "spool.jsonl", message_timeout_ms=500)
    for seq in range(20):
        producer.emit(measurement(seq=seq))
    producer.close(timeout_s=10)
    assert (producer.stats.accepted, producer.stats.delivered) == (20, 0)
    assert (producer.stats.spooled, producer.stats.dropped) == (20, 0)
    assert spooled_seqs(tmp_path / "spool.jsonl") == list(range(20))


def test_a_full_queue_spills_to_the_spool_instead_of_blocking(tmp_path: Path):
    """With no room in the queue, events are set aside for the spool, not sent and not lost."""
    producer = EventProducer(NO_BROKER, "t", tmp_path / "s.jsonl", max_queued=0)
    for seq in range(5):
        producer.emit(measurement(seq=seq))
    producer.close(timeout_s=1)
    assert (producer.stats.accepted, producer.stats.spooled) == (5, 5)
    assert spooled_seqs(tmp_path / "s.jsonl") == [0, 1, 2, 3, 4]


def test_events_emitted_after_close_are_spooled(tmp_path: Path):
    """A late emit (e.g. from a callback after shutdown) is kept, not lost."""
    producer = EventProducer(NO_BROKER, "t", tmp_path / "s.jsonl", message_timeout_ms=500)
    producer.close(timeout_s=1)
    producer.emit(measurement(seq=9))
    assert spooled_seqs(tmp_path / "s.jsonl") == [9]


def test_emit_rejects_what_is_not_an_event(tmp_path: Path):
    """A wrong argument is a programming error and fails at the call site."""
    producer = EventProducer(NO_BROKER, "t", tmp_path / "s.jsonl")
    expected = r"emit\(\) takes an event of joulestream\.events, got dict"
    with pytest.raises(ValueError, match=expected):
        producer.emit({"run_id": "r"})  # type: ignore[arg-type]
    producer.close(timeout_s=1)


def test_sigterm_closes_the_producer_then_calls_the_previous_handler(tmp_path: Path):
    """With handle_sigterm, SIGTERM spools what is undelivered, then the program's own handler
    runs as before."""
    calls = []
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: calls.append(signum))
    try:
        producer = EventProducer(
            NO_BROKER, "t", tmp_path / "s.jsonl", message_timeout_ms=500, handle_sigterm=True
        )
        producer.emit(measurement(seq=1))
        os.kill(os.getpid(), signal.SIGTERM)
        assert calls == [signal.SIGTERM]
        assert spooled_seqs(tmp_path / "s.jsonl") == [1]
        stats = producer.stats
        assert stats.accepted == stats.delivered + stats.spooled + stats.dropped == 1
    finally:
        signal.signal(signal.SIGTERM, previous)


class FullBufferProducer:
    """Stands in for confluent_kafka.Producer: its buffer is full for the first ``full_for``
    produce calls (or for ever), then it accepts and acknowledges every message."""

    def __init__(self, full_for: int | None) -> None:
        self.full_for = full_for
        self.attempts = 0
        self.accepted: list[bytes] = []
        self._callbacks: list[tuple[Any, bytes]] = []

    def produce(self, topic: str, value: bytes, key: str, on_delivery: Any) -> None:
        self.attempts += 1
        if self.full_for is None or self.attempts <= self.full_for:
            raise BufferError("Local: Queue full")
        self.accepted.append(value)
        self._callbacks.append((on_delivery, value))

    def __len__(self) -> int:
        return len(self._callbacks)

    def poll(self, timeout: float = 0) -> int:
        callbacks, self._callbacks = self._callbacks, []
        for on_delivery, _ in callbacks:
            on_delivery(None, None)
        return len(callbacks)

    def flush(self, timeout: float = 0) -> int:
        self.poll()
        return 0

    def purge(self, in_queue: bool = True, in_flight: bool = True) -> None:
        pass


def producer_with(monkeypatch, fake: FullBufferProducer, tmp_path: Path) -> EventProducer:
    monkeypatch.setattr("joulestream.producer.Producer", lambda config: fake)
    return EventProducer("unused:1", "t", tmp_path / "s.jsonl")


def test_a_full_buffer_makes_the_sender_wait_not_spool(monkeypatch, tmp_path: Path):
    """While librdkafka's buffer is full the sender retries; once there is room, all is sent."""
    fake = FullBufferProducer(full_for=20)
    producer = producer_with(monkeypatch, fake, tmp_path)
    producer.emit_all(measurement(seq=seq) for seq in range(5))
    producer.close(timeout_s=10)
    assert (len(fake.accepted), producer.stats.delivered, producer.stats.spooled) == (5, 5, 0)
    assert fake.attempts == 25


def test_a_buffer_that_stays_full_is_spooled_at_the_close_deadline(monkeypatch, tmp_path: Path):
    """If there is never room, close() gives up at its deadline and spools every event."""
    producer = producer_with(monkeypatch, FullBufferProducer(full_for=None), tmp_path)
    producer.emit_all(measurement(seq=seq) for seq in range(50))
    producer.close(timeout_s=0.5)
    assert (producer.stats.delivered, producer.stats.spooled) == (0, 50)
    assert spooled_seqs(tmp_path / "s.jsonl") == list(range(50))


def test_flush_reports_what_is_still_pending_when_its_time_runs_out(monkeypatch, tmp_path: Path):
    """flush() returns the events not yet handed over when its time runs out (a buffer that
    stays full here); close() then spools them."""
    producer = producer_with(monkeypatch, FullBufferProducer(full_for=None), tmp_path)
    producer.emit_all(measurement(seq=seq) for seq in range(3))
    assert producer.flush(timeout_s=0.3) == 3
    producer.close(timeout_s=0.1)
    assert spooled_seqs(tmp_path / "s.jsonl") == [0, 1, 2]


def test_with_every_broker_down_the_producer_goes_offline_and_spools(tmp_path: Path):
    """Once librdkafka says every broker is down, the client is dropped (no more reconnecting)
    and later events are spooled by the producer itself, long before any message timeout."""
    producer = EventProducer(NO_BROKER, "t", tmp_path / "s.jsonl")  # message timeout 30 s
    producer.emit(measurement(seq=0))
    deadline_s = time.monotonic() + 5
    while not producer.offline and time.monotonic() < deadline_s:
        time.sleep(0.05)
    assert producer.offline
    producer.emit(measurement(seq=1))
    assert producer.flush(timeout_s=2) == 0
    assert spooled_seqs(tmp_path / "s.jsonl") == [0, 1]
    producer.close(timeout_s=1)
    assert (producer.stats.accepted, producer.stats.spooled, producer.stats.dropped) == (2, 2, 0)


class DownProducer(FullBufferProducer):
    """A client whose every broker is down: its first ``poll`` reports it through the
    producer's ``error_cb``, as librdkafka does."""

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(full_for=0)
        self.error_cb = config["error_cb"]

    def poll(self, timeout: float = 0) -> int:
        self.error_cb(KafkaError(KafkaError._ALL_BROKERS_DOWN))
        return super().poll(timeout)


def test_a_flush_while_the_sender_writes_a_batch_still_spools_at_once(monkeypatch, tmp_path: Path):
    """Offline, a flush that comes while the sender is writing an earlier batch to the spool
    still gets what was emitted before it spooled at once, not at the next batch's time."""
    monkeypatch.setattr("joulestream.producer.Producer", DownProducer)
    monkeypatch.setattr("joulestream.producer.broker_answers", lambda servers: False)
    monkeypatch.setattr("joulestream.producer.PROBE_FIRST_S", 0.01)  # the sender wakes soon
    producer = EventProducer("unused:1", "t", tmp_path / "s.jsonl")
    deadline_s = time.monotonic() + 5
    while not producer.offline and time.monotonic() < deadline_s:
        time.sleep(0.01)
    assert producer.offline
    writing, append = threading.Event(), producer.spool.append

    def slow_append(records: list[dict[str, Any]]) -> int:
        if not writing.is_set():  # the first batch waits until the flush wakes the sender
            writing.set()
            producer._wake.wait(5)
        return append(records)

    monkeypatch.setattr(producer.spool, "append", slow_append)
    producer.emit(measurement(seq=0))
    assert writing.wait(5)
    producer.emit(measurement(seq=1))
    assert producer.flush(timeout_s=1) == 0
    assert spooled_seqs(tmp_path / "s.jsonl") == [0, 1]
    producer.close(timeout_s=1)
    assert (producer.stats.accepted, producer.stats.spooled, producer.stats.dropped) == (2, 2, 0)


def test_offline_the_producer_probes_and_comes_back_when_the_broker_answers(
    monkeypatch, tmp_path: Path
):
    """Offline, a probe that finds the broker makes a new client, and events are sent again."""
    fake = FullBufferProducer(full_for=0)
    monkeypatch.setattr("joulestream.producer.Producer", lambda config: fake)
    producer = EventProducer("unused:1", "t", tmp_path / "s.jsonl", pump=True)
    answers = iter([False, True])
    monkeypatch.setattr("joulestream.producer.broker_answers", lambda servers: next(answers))
    producer._on_error(KafkaError(KafkaError._ALL_BROKERS_DOWN))
    producer.pump()  # offline
    producer.emit(measurement(seq=0))
    producer.flush(timeout_s=1)  # offline: spooled
    producer._probe_at_s = 0.0  # the probes are due now
    producer.pump()  # first probe: no broker
    assert producer.offline
    producer._probe_at_s = 0.0
    producer.pump()  # second probe: the broker answers
    assert not producer.offline
    producer.emit(measurement(seq=1))
    producer.close(timeout_s=1)
    assert (producer.stats.spooled, producer.stats.delivered) == (1, 1)
    assert spooled_seqs(tmp_path / "s.jsonl") == [0]


def test_offline_events_are_spooled_in_batches_and_at_flush(monkeypatch, tmp_path: Path):
    """Offline, what is emitted waits up to OFFLINE_SPOOL_S to be spooled in one batch (one
    fsync), and flush() spools it at once."""
    fake = FullBufferProducer(full_for=0)
    monkeypatch.setattr("joulestream.producer.Producer", lambda config: fake)
    monkeypatch.setattr("joulestream.producer.broker_answers", lambda servers: False)
    producer = EventProducer("unused:1", "t", tmp_path / "s.jsonl", pump=True)
    producer._on_error(KafkaError(KafkaError._ALL_BROKERS_DOWN))
    producer.pump()  # goes offline
    producer.emit(measurement(seq=0))
    producer.pump()  # the first batch is spooled at once
    assert (producer.offline, producer.stats.spooled) == (True, 1)
    producer.emit_all(measurement(seq=seq) for seq in (1, 2))
    producer.pump()
    assert producer.stats.spooled == 1  # waiting for the next batch
    assert producer.flush(timeout_s=1) == 0
    assert spooled_seqs(tmp_path / "s.jsonl") == [0, 1, 2]
    producer.close(timeout_s=1)
    assert (producer.stats.accepted, producer.stats.spooled, fake.accepted) == (3, 3, [])


def test_a_pumped_producer_has_no_sender_thread_and_sends_when_pumped(monkeypatch, tmp_path: Path):
    """With pump=True nothing is sent until the owner pumps; close() sends what is left."""
    fake = FullBufferProducer(full_for=0)
    monkeypatch.setattr("joulestream.producer.Producer", lambda config: fake)
    producer = EventProducer("unused:1", "t", tmp_path / "s.jsonl", pump=True)
    producer.emit_all(measurement(seq=seq) for seq in range(2))
    time.sleep(0.1)
    assert fake.accepted == []
    producer.pump()
    assert (len(fake.accepted), producer.stats.delivered) == (2, 2)
    producer.emit(measurement(seq=2))
    producer.close(timeout_s=1)
    assert (len(fake.accepted), producer.stats.delivered, producer.stats.spooled) == (3, 3, 0)


@pytest.mark.parametrize(
    ("servers", "expected"),
    [
        ("b1:9092,b2:9093", [("b1", 9092), ("b2", 9093)]),
        ("SASL_SSL://kafka.example:9094", [("kafka.example", 9094)]),
        ("[::1]:9092, 127.0.0.1:19092", [("::1", 9092), ("127.0.0.1", 19092)]),
        ("kafka", [("kafka", 9092)]),
    ],
)
def test_bootstrap_addresses_are_parsed_for_the_probe(servers: str, expected):
    """Each bootstrap entry, with or without a protocol prefix or a port, becomes (host, port)."""
    assert bootstrap_addresses(servers) == expected


def test_the_probe_finds_a_listening_port_and_not_a_closed_one():
    """broker_answers: True where a TCP connection opens, False where none does."""
    import socket

    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        listening = f"127.0.0.1:{server.getsockname()[1]}"
        assert broker_answers(f"{closed_port()},{listening}")
    assert not broker_answers(closed_port())


SASL_ENV = {
    "KAFKA_SECURITY_PROTOCOL": "sasl_ssl",
    "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
    "KAFKA_SASL_USERNAME": "trainer",
    "KAFKA_SASL_PASSWORD": "pa55-w0rd-not-to-print",
}


def test_sasl_settings_map_to_librdkafka():
    """The four variables become security.protocol, sasl.mechanism, sasl.username and
    sasl.password; without them nothing is added (PLAINTEXT)."""
    config = producer_config("b:9092", security=KafkaSecurity.from_env(SASL_ENV))
    assert {k: v for k, v in config.items() if k.startswith(("security", "sasl"))} == {
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "trainer",
        "sasl.password": "pa55-w0rd-not-to-print",
    }
    plain = producer_config("b:9092", security=KafkaSecurity.from_env({}))
    assert not [k for k in plain if k.startswith(("security", "sasl"))]
    ssl_only = KafkaSecurity.from_env({"KAFKA_SECURITY_PROTOCOL": "SSL"})
    assert ssl_only.config() == {"security.protocol": "SSL"}


def test_the_password_never_shows(caplog):
    """Neither the settings object nor the librdkafka settings print the password, whether by
    repr, str, f-string or a log line."""
    security = KafkaSecurity.from_env(SASL_ENV)
    config = producer_config("b:9092", security=security)
    logging.getLogger("t").warning("settings %s %r %s", config, security, f"{config}")
    shown = [repr(security), str(security), repr(config), str(config), caplog.text]
    assert all("pa55" not in text for text in shown)
    assert "sasl_password='***'" in repr(security)
    assert "'sasl.password': '***'" in repr(config)
    assert config["sasl.password"] == "pa55-w0rd-not-to-print"  # librdkafka still gets it


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"KAFKA_SECURITY_PROTOCOL": "TLS"},
            "KAFKA_SECURITY_PROTOCOL must be one of PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL, "
            "got 'TLS'",
        ),
        (
            {**SASL_ENV, "KAFKA_SASL_MECHANISM": "GSSAPI"},
            "KAFKA_SASL_MECHANISM must be one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 with "
            "SASL_SSL, got 'GSSAPI'",
        ),
        (
            {**SASL_ENV, "KAFKA_SASL_USERNAME": ""},
            "SASL_SSL needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD",
        ),
        (
            {**SASL_ENV, "KAFKA_SECURITY_PROTOCOL": ""},
            "KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD set, but "
            "KAFKA_SECURITY_PROTOCOL is PLAINTEXT",
        ),
    ],
)
def test_bad_security_settings_are_refused_without_the_password(env, message):
    """An unknown protocol or mechanism, missing credentials, or credentials that PLAINTEXT
    would silently ignore: a ValueError that names the variable and never the password."""
    with pytest.raises(ValueError, match=re.escape(message)) as raised:
        KafkaSecurity.from_env(env)
    assert "pa55" not in str(raised.value)


def test_the_event_producer_reads_the_security_settings_from_the_environment(
    monkeypatch, tmp_path: Path
):
    """Where the producer settings are read (EventProducer, replay, simulate, track), SASL comes
    from the environment; a bad setting fails when the producer is made."""
    for name, value in SASL_ENV.items():
        monkeypatch.setenv(name, value)
    seen: list[dict[str, Any]] = []
    fake = FullBufferProducer(full_for=0)

    def make(config: dict[str, Any]) -> FullBufferProducer:
        seen.append(config)
        return fake

    monkeypatch.setattr("joulestream.producer.Producer", make)
    EventProducer("unused:1", "t", tmp_path / "s.jsonl").close(timeout_s=1)
    assert (seen[0]["security.protocol"], seen[0]["sasl.username"]) == ("SASL_SSL", "trainer")
    monkeypatch.setenv("KAFKA_SASL_MECHANISM", "MD5")
    with pytest.raises(ValueError, match="KAFKA_SASL_MECHANISM must be one of"):
        EventProducer("unused:1", "t", tmp_path / "s.jsonl")


def closed_port() -> str:
    """An address where nothing listens: a port the kernel just gave out and took back."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"127.0.0.1:{port}"


def broker_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name.startswith("joulestream") and r.levelno >= logging.WARNING
    ]


@pytest.mark.parametrize("address", [NO_BROKER, "closed port"])
def test_with_no_broker_close_keeps_its_deadline_spools_all_and_warns_once(
    address: str, tmp_path: Path, capfd: pytest.CaptureFixture[str], caplog
):
    """No broker: close() returns within its deadline plus 1.5 s, every event is in the spool,
    librdkafka prints nothing to stderr, and one warning (Python logging) names the broker."""
    address = closed_port() if address == "closed port" else address
    caplog.set_level(logging.DEBUG, logger="joulestream")
    producer = EventProducer(address, "t", tmp_path / "s.jsonl")  # message timeout 30 s
    producer.emit_all(measurement(seq=seq) for seq in range(10))
    time.sleep(1.0)  # librdkafka retries the connection several times meanwhile
    started_s = time.monotonic()
    producer.close(timeout_s=2.0)
    assert time.monotonic() - started_s < 2.0 + 1.5
    assert spooled_seqs(tmp_path / "s.jsonl") == list(range(10))
    assert (producer.stats.spooled, producer.stats.dropped) == (10, 0)
    captured = capfd.readouterr()
    assert "rdkafka" not in captured.err + captured.out
    warnings = broker_warnings(caplog)
    assert len(warnings) == 1
    assert warnings[0].startswith(f"Kafka at {address}: ")
    assert str(tmp_path / "s.jsonl") in warnings[0]
    # What librdkafka said is kept, at DEBUG, for whoever asks for it.
    assert any(
        r.name == "joulestream.producer.librdkafka" and r.levelno == logging.DEBUG
        for r in caplog.records
    )


def test_later_broker_errors_are_debug_lines(caplog):
    """The first error is a warning, later ones DEBUG; a fatal one is always an error."""
    from joulestream.producer import BrokerWarning

    caplog.set_level(logging.DEBUG, logger="joulestream")
    warning = BrokerWarning("b:9092")
    warning.warn("Connection refused")
    warning.warn("Connection refused")
    warning.warn("1/1 brokers are down")
    assert [(r.levelno, r.getMessage()[:30]) for r in caplog.records] == [
        (logging.WARNING, "Kafka at b:9092: Connection re"),
        (logging.DEBUG, "Kafka at b:9092: Connection re"),
        (logging.DEBUG, "Kafka at b:9092: 1/1 brokers a"),
    ]


def test_librdkafka_log_lines_go_to_python_logging_at_debug(caplog):
    """librdkafka's log callback: each line to joulestream.producer.librdkafka at DEBUG, with its
    own level in the message."""
    from joulestream.producer import LibrdkafkaLog

    caplog.set_level(logging.DEBUG, logger="joulestream")
    LibrdkafkaLog().log(logging.ERROR, "%s: Connect failed", "FAIL")
    assert [(r.name, r.levelno, r.getMessage()) for r in caplog.records] == [
        ("joulestream.producer.librdkafka", logging.DEBUG, "[ERROR] FAIL: Connect failed")
    ]


@pytest.mark.parametrize(("pump", "linger_ms"), [(False, 50), (True, 0)])
def test_a_pumped_producer_sends_each_event_at_once(pump, linger_ms, monkeypatch, tmp_path: Path):
    """A producer its owner pumps (the tracker's: one event an interval) has librdkafka send
    each event at once (linger.ms 0); one with a sender thread batches for 50 ms. Both are
    idempotent with acks=all."""
    configs: list[dict[str, Any]] = []

    def make(config: dict[str, Any]) -> FullBufferProducer:
        configs.append(config)
        return FullBufferProducer(full_for=0)

    monkeypatch.setattr("joulestream.producer.Producer", make)
    producer = EventProducer("unused:1", "t", tmp_path / "s.jsonl", pump=pump)
    producer.close(timeout_s=1)
    [config] = configs
    assert (config["linger.ms"], config["enable.idempotence"], config["acks"]) == (
        linger_ms,
        True,
        "all",
    )
