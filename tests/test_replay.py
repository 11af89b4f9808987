"""``replay``: every failing line reported and kept, the others sent; its exit codes."""

import json
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException

from joulestream import cli, codec
from joulestream.replay import replay
from joulestream.spool import Spool
from tests.test_events import measurement

# Nothing listens on port 1: every delivery fails, fast with a short timeout.
NO_BROKER = "127.0.0.1:1"


class FakeKafka:
    """Stands in for confluent_kafka.Producer: refuses at once the events whose seq is in
    ``too_large``, fails the delivery of those in ``lost``, acknowledges the rest."""

    def __init__(self, too_large: set[int] = frozenset(), lost: set[int] = frozenset()) -> None:  # type: ignore[assignment]
        self.too_large, self.lost = too_large, lost
        self.delivered: list[int] = []
        self._reports: list[tuple[Any, int]] = []
        self.before_produce: Any = None

    def __call__(self, config: dict[str, Any]) -> "FakeKafka":
        self.config = config
        return self

    def produce(self, topic: str, value: bytes, key: str, on_delivery: Any) -> None:
        if self.before_produce is not None:
            self.before_produce()
            self.before_produce = None
        seq = codec.decode(value)["seq"]
        if seq in self.too_large:
            raise KafkaException(KafkaError(KafkaError.MSG_SIZE_TOO_LARGE))
        self._reports.append((on_delivery, seq))

    def poll(self, timeout: float = 0) -> int:
        reports, self._reports = self._reports, []
        for on_delivery, seq in reports:
            if seq in self.lost:
                on_delivery(KafkaError(KafkaError._MSG_TIMED_OUT), None)
            else:
                self.delivered.append(seq)
                on_delivery(None, None)
        return len(reports)

    def flush(self, timeout: float = 0) -> int:
        self.poll()
        return 0

    def purge(self, in_queue: bool = True, in_flight: bool = True) -> None:
        pass


def line(seq: int, **changes: Any) -> bytes:
    """A plain-JSON line of a valid measurement (unless ``changes`` make it invalid)."""
    record = measurement(seq=seq).to_record()
    record["measurement"] = dict(record["measurement"], **changes)
    return json.dumps(record).encode() + b"\n"


@pytest.fixture
def kafka(monkeypatch) -> FakeKafka:
    fake = FakeKafka(too_large={4}, lost={6})
    monkeypatch.setattr("joulestream.replay.Producer", fake)
    return fake


def mixed_spool(path: Path) -> list[bytes]:
    lines = [
        line(1),
        b"{not json\n",
        b'{"event_id": "\xff\xfe"}\n',
        b"[" * 100_000 + b"\n",
        line(4),  # refused by Kafka: too large
        line(5, cpu_energy_j=1e308),  # gave power_w=+Inf downstream
        line(6),  # not acknowledged
        b"\n",
        line(8),
    ]
    path.write_bytes(b"".join(lines))
    return lines


def test_every_failing_line_is_reported_and_kept_and_the_rest_is_sent(kafka, tmp_path: Path):
    """Bad JSON, bad UTF-8, deep nesting, an invalid event, a Kafka refusal and a lost delivery
    are each reported at their line; the valid events around them are delivered; afterwards the
    file holds exactly the failed lines, byte for byte."""
    path = tmp_path / "spool.jsonl"
    lines = mixed_spool(path)
    summary = replay(path, "unused:1", "t")
    assert [(bad.line_no, bad.reason.split(":")[0]) for bad in summary.failures] == [
        (2, "not JSON"),
        (3, "not UTF-8"),
        (4, "not an event"),
        (5, "Kafka refused it"),
        (6, "not a valid event"),
        (7, "not delivered"),
    ]
    reasons = {bad.line_no: bad.reason for bad in summary.failures}
    assert reasons[3] == "not UTF-8: invalid start byte at byte 14"
    assert reasons[4] == "not an event: JSON nested too deeply"
    assert reasons[5] == "Kafka refused it: Broker: Message size too large"
    assert reasons[6].startswith("not a valid event: cpu_energy_j must be finite and within")
    assert reasons[7] == "not delivered: not acknowledged within 60 s (Local: Message timed out)"
    assert kafka.delivered == [1, 8]
    assert (summary.lines, summary.sent, summary.delivered, summary.failed) == (8, 3, 2, 2)
    assert (summary.kept, summary.ok) == (6, False)
    assert path.read_bytes() == b"".join(lines[1:7])


def test_a_second_replay_retries_only_what_failed(kafka, tmp_path: Path):
    """Once Kafka takes them, the kept lines go too, and the file is left empty."""
    path = tmp_path / "spool.jsonl"
    mixed_spool(path)
    replay(path, "unused:1", "t")
    kafka.too_large, kafka.lost = set(), set()
    summary = replay(path, "unused:1", "t")
    assert kafka.delivered == [1, 8, 4, 6]
    assert [bad.line_no for bad in summary.failures] == [1, 2, 3, 5]
    assert summary.kept == 4
    path.write_bytes(line(9))
    assert replay(path, "unused:1", "t").ok
    assert path.read_bytes() == b""


def test_events_appended_during_a_replay_are_kept_for_the_next(kafka, tmp_path: Path):
    """A producer that spools while the replay runs loses nothing: its lines follow the failed
    ones in the rewritten file."""
    spool = Spool(tmp_path / "spool.jsonl")
    spool.append([measurement(seq=6).to_record(), measurement(seq=7).to_record()])
    kafka.before_produce = lambda: spool.append([measurement(seq=20).to_record()])
    summary = replay(spool.path, "unused:1", "t")
    assert (summary.lines, summary.delivered, summary.kept) == (2, 1, 1)
    assert [json.loads(x)["seq"] for x in spool.path.read_text().splitlines()] == [6, 20]


def test_with_no_broker_every_event_is_undelivered_and_kept(tmp_path: Path):
    """Against a closed port (real client, short timeout) nothing is delivered and the file is
    unchanged."""
    spool = Spool(tmp_path / "spool.jsonl")
    spool.append([measurement(seq=seq).to_record() for seq in range(3)])
    before = spool.path.read_bytes()
    summary = replay(spool.path, NO_BROKER, "t", timeout_s=0.5)
    assert (summary.sent, summary.delivered, summary.failed, summary.kept) == (3, 0, 3, 3)
    assert all(
        bad.reason.startswith("not delivered: not acknowledged within 0.5 s (Local: ")
        for bad in summary.undelivered
    )
    assert spool.path.read_bytes() == before


def test_cli_exit_codes_and_one_line_per_failure(kafka, tmp_path: Path, capsys):
    """0 when every line was sent, 1 when some failed (each printed as path:line: reason), 2 for
    a usage error."""
    path = tmp_path / "spool.jsonl"
    mixed_spool(path)
    assert cli.main(["replay", str(path), "--bootstrap-servers", "unused:1"]) == 1
    err = capsys.readouterr().err
    failures = [x for x in err.splitlines() if x.startswith(f"{path}:")]
    assert [x.split(":")[1] for x in failures] == ["2", "3", "4", "5", "6", "7"]
    assert f"the 6 failed lines are kept in {path}" in err
    ok = tmp_path / "ok.jsonl"
    ok.write_bytes(line(1))
    assert cli.main(["replay", str(ok), "--bootstrap-servers", "unused:1"]) == 0
    assert cli.main(["replay", str(tmp_path / "missing.jsonl")]) == 2
    assert cli.main(["replay", str(ok), "--timeout-s", "0"]) == 2
    assert "error: --timeout-s must be in (0, 3600], got 0.0" in capsys.readouterr().err


def test_a_file_that_cannot_be_rewritten_is_left_whole(kafka, tmp_path: Path, monkeypatch):
    """If the failed lines cannot be written back (disk full), the file is unchanged, no
    temporary file is left, and the replay says so."""
    path = tmp_path / "spool.jsonl"
    lines = mixed_spool(path)

    def disk_full(src: str, dst: Path) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("joulestream.spool.os.replace", disk_full)
    summary = replay(path, "unused:1", "t")
    assert summary.keep_error == (
        f"could not rewrite {path} ([Errno 28] No space left on device); it is unchanged"
    )
    assert not summary.ok
    assert path.read_bytes() == b"".join(lines)
    assert [p.name for p in tmp_path.iterdir()] == ["spool.jsonl"]
