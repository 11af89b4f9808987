import os
import signal
from pathlib import Path

import pytest

from emitter.producer import EventProducer
from emitter.spool import read_lines
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
    with pytest.raises(ValueError, match="emit\\(\\) takes a Measurement, got dict"):
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


def test_flush_waits_for_queued_events(tmp_path: Path):
    """flush() reports events still pending when its time runs out (no broker here)."""
    producer = EventProducer(NO_BROKER, "t", tmp_path / "s.jsonl", message_timeout_ms=5_000)
    producer.emit_all(measurement(seq=seq) for seq in range(3))
    assert producer.flush(timeout_s=0.3) == 3
    producer.close(timeout_s=0.1)
    assert spooled_seqs(tmp_path / "s.jsonl") == [0, 1, 2]
