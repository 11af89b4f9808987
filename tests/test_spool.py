import fcntl
import json
import os
import threading
import time
from pathlib import Path

import pytest

from joulestream.events import event_from_record
from joulestream.spool import BadLine, Spool, read_lines
from tests.test_events import measurement


def test_spool_round_trips_records_in_avro_json(tmp_path: Path):
    """What the spool writes reads back as the same records, null unions included."""
    records = [measurement(seq=1).to_record(), measurement(seq=2, samples=None).to_record()]
    spool = Spool(tmp_path / "spool.jsonl")
    assert spool.append(records) == 2
    assert spool.append([]) == 0
    assert [r for _, r in read_lines(spool.path)] == records
    # Avro's JSON encoding tags a non-null union value with its branch.
    line = json.loads(spool.path.read_text().splitlines()[0])
    assert line["measurement"]["io.joulestream.events.MeasurementData"]["samples"] == {"long": 128}


def test_bad_lines_are_reported_with_their_line_numbers(tmp_path: Path):
    """Each kind of bad line is reported at its line; blank lines are skipped; the rest parse."""
    good = measurement().to_record()
    plain = good  # a plain JSON object: union values untagged
    missing = {k: v for k, v in good.items() if k != "region"}
    path = tmp_path / "events.jsonl"
    path.write_text(
        "\n".join([json.dumps(plain), "{not json", "", "[1, 2]", json.dumps(missing)]) + "\n"
    )
    parsed = list(read_lines(path))
    assert parsed[0] == (1, plain)
    assert [(n, type(x).__name__) for n, x in parsed[1:]] == [
        (2, "BadLine"), (4, "BadLine"), (5, "BadLine")
    ]  # fmt: skip
    reasons = [x.reason for _, x in parsed[1:] if isinstance(x, BadLine)]
    assert reasons[0].startswith("not JSON")
    assert reasons[1] == "expected a JSON object, got list"
    assert reasons[2].startswith("does not match the schema")


def test_replayed_record_is_validated_like_a_new_event():
    """A spooled record passes the event model's checks, and its id must be run_id:seq."""
    record = measurement(seq=4).to_record()
    assert event_from_record(record).event_id == "run-1:4"
    bad = dict(record, measurement=dict(record["measurement"], cpu_energy_j=-1.0))
    with pytest.raises(ValueError, match="cpu_energy_j must be finite and within \\[0, 100000\\]"):
        event_from_record(bad)


def test_a_torn_last_line_does_not_swallow_the_next_record(tmp_path: Path):
    """After a crash mid-write, the next append starts on a fresh line: one bad line, not two."""
    spool = Spool(tmp_path / "spool.jsonl")
    spool.append([measurement(seq=1).to_record()])
    with open(spool.path, "a", encoding="utf-8") as torn:
        torn.write('{"event_id": "run-1:2", "run_')
    spool.append([measurement(seq=3).to_record()])
    parsed = list(read_lines(spool.path))
    assert [n for n, x in parsed if isinstance(x, BadLine)] == [2]
    assert [x["seq"] for _, x in parsed if not isinstance(x, BadLine)] == [1, 3]


def test_an_append_waiting_for_a_replay_writes_to_the_file_that_replaced_the_spool(
    tmp_path: Path,
):
    """An append blocked on the lock while a replay rewrites the spool lands in the new file,
    not in the replaced one that is about to vanish."""
    spool = Spool(tmp_path / "spool.jsonl")
    spool.append([measurement(seq=1).to_record()])
    with open(spool.path, "rb") as old:
        fcntl.flock(old.fileno(), fcntl.LOCK_EX)  # as keep_only holds it
        writer = threading.Thread(target=spool.append, args=([measurement(seq=2).to_record()],))
        writer.start()
        time.sleep(0.3)  # the writer has opened the old file and waits for the lock
        replacement = tmp_path / "new.jsonl"
        replacement.write_bytes(b"")
        os.replace(replacement, spool.path)
    writer.join(5)
    assert [x["seq"] for _, x in read_lines(spool.path)] == [2]  # type: ignore[index]


def test_lines_are_read_as_bytes_so_bad_utf8_is_one_bad_line(tmp_path: Path):
    """A line that is not UTF-8, or too deeply nested for the JSON parser, is one bad line and
    reading goes on."""
    path = tmp_path / "events.jsonl"
    good = json.dumps(measurement(seq=5).to_record()).encode()
    path.write_bytes(b"\xc3\x28\n" + b"[" * 50_000 + b"\n" + good + b"\n")
    parsed = list(read_lines(path))
    assert [(n, x.reason) for n, x in parsed[:2] if isinstance(x, BadLine)] == [
        (1, "not UTF-8: invalid continuation byte at byte 0"),
        (2, "not an event: JSON nested too deeply"),
    ]
    assert parsed[2][0] == 3
    assert not isinstance(parsed[2][1], BadLine)


def test_the_spool_and_the_folder_it_creates_are_private(tmp_path: Path):
    """Only the user can read what the spool holds, whatever the umask."""
    previous = os.umask(0o022)
    try:
        spool = Spool(tmp_path / "new" / "spool.jsonl")
        spool.append([measurement(seq=1).to_record()])
    finally:
        os.umask(previous)
    assert (spool.path.stat().st_mode & 0o777, spool.path.parent.stat().st_mode & 0o777) == (
        0o600,
        0o700,
    )
