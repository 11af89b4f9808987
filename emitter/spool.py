"""The local spool: events that could not reach Kafka, kept as JSON Lines in Avro's JSON encoding.

Fsync policy: every ``append`` writes its records, flushes and ``fsync``s before it returns, so a
record the producer has handed to the spool survives a crash of the process or of the machine.
The producer appends in batches (one per pump cycle or failed delivery batch), which keeps the
number of fsyncs small.

Sharing: an append holds an exclusive ``flock`` on the file while it writes, and writes only to
the file that is at the path (a replay may have replaced it, ``keep_only``), so that producers in
any number of processes and a replay can share one spool without losing a line.
"""

import contextlib
import fcntl
import json
import os
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from joulestream import codec
from joulestream.avro_json import tagger, untagger

MAX_LINE_BYTES = 4 * 1024 * 1024
"""Longest line read as an event: the largest valid event (``limits.MAX_EVENT_SIZE_BYTES``) in
Avro's JSON encoding is well under it; a longer line is reported bad without being parsed."""


class Spool:
    """An append-only JSON Lines file of records, safe to share between threads."""

    def __init__(self, path: Path, schema: Any = codec.EVENT_SCHEMA) -> None:  # noqa: ANN401
        self.path = path
        self._tag = tagger(schema)
        self._lock = threading.Lock()

    def append(self, records: Iterable[dict[str, Any]]) -> int:
        """Append records, then flush and fsync; return how many were written."""
        batch = list(records)
        if not batch:
            return 0
        tag, dumps = self._tag, json.dumps
        payload = "".join([dumps(tag(record), separators=(",", ":")) + "\n" for record in batch])
        with self._lock:
            # Private: events name the user's runs, models and hyper-parameters. A folder the
            # spool creates is 0700 and the file 0600, whatever the umask.
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            while True:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
                with os.fdopen(fd, "a+b") as spool:
                    fcntl.flock(spool.fileno(), fcntl.LOCK_EX)
                    if not _is_at(spool, self.path):
                        continue  # a replay replaced the file meanwhile: append to the new one
                    # A crash mid-write leaves a torn last line: start on a line of our own.
                    if spool.tell() > 0:
                        spool.seek(-1, os.SEEK_END)
                        if spool.read(1) != b"\n":
                            payload = "\n" + payload
                    spool.write(payload.encode("utf-8"))
                    spool.flush()
                    os.fsync(spool.fileno())
                return len(batch)


def _is_at(file: IO[bytes], path: Path) -> bool:
    """Whether the open ``file`` is (still) the one at ``path``."""
    try:
        at_path = os.stat(path)
    except FileNotFoundError:
        return False
    mine = os.fstat(file.fileno())
    return (mine.st_dev, mine.st_ino) == (at_path.st_dev, at_path.st_ino)


@dataclass(frozen=True)
class BadLine:
    """A line of a JSON Lines file that is not a valid event."""

    line_no: int
    reason: str


@dataclass(frozen=True)
class Line:
    """One non-blank line of a JSON Lines file: where it is, and what it holds."""

    line_no: int
    start: int
    """Byte offset of its first byte."""
    end: int
    """Byte offset just past it (its newline included)."""
    parsed: "dict[str, Any] | BadLine"


def read_lines(
    path: Path,
    schema: Any = codec.EVENT_SCHEMA,  # noqa: ANN401
) -> Iterator[tuple[int, dict[str, Any] | BadLine]]:
    """Yield (line number, record or BadLine) for every non-blank line of ``path``, from 1.

    A line may hold a record in Avro's JSON encoding (unions tagged, as the spool writes) or as a
    plain JSON object with untagged union values; either way it must match the schema.
    """
    for line in scan(path, schema=schema):
        yield line.line_no, line.parsed


def scan(
    path: Path,
    end: int | None = None,
    schema: Any = codec.EVENT_SCHEMA,  # noqa: ANN401
) -> Iterator[Line]:
    """Every non-blank line of the first ``end`` bytes of ``path`` (all of it by default), with
    its byte range. A line that is not UTF-8, not JSON, nested too deeply, longer than
    MAX_LINE_BYTES or not a record of ``schema`` is a ``BadLine``; reading goes on after it."""
    untag = untagger(schema)
    with open(path, "rb") as lines:
        offset = 0
        line_no = 0
        while end is None or offset < end:
            limit = MAX_LINE_BYTES + 1 if end is None else min(MAX_LINE_BYTES + 1, end - offset)
            raw = lines.readline(limit)
            if not raw:
                return
            line_no += 1
            start = offset
            if len(raw) > MAX_LINE_BYTES:
                while raw and not raw.endswith(b"\n"):  # skip to the end of this line
                    raw = lines.readline(1 << 20)
                offset = lines.tell() if end is None else min(lines.tell(), end)
                reason = f"longer than {MAX_LINE_BYTES} bytes: not an event"
                yield Line(line_no, start, offset, BadLine(line_no, reason))
                continue
            offset += len(raw)
            if raw.strip():
                yield Line(line_no, start, offset, _parse(raw, line_no, schema, untag))


def _parse(
    raw: bytes,
    line_no: int,
    schema: Any,  # noqa: ANN401
    untag: Callable[[Any], Any],
) -> dict[str, Any] | BadLine:
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return BadLine(line_no, f"not UTF-8: {exc.reason} at byte {exc.start}")
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        return BadLine(line_no, f"not JSON: {exc.msg} at column {exc.colno}")
    except RecursionError:
        return BadLine(line_no, "not an event: JSON nested too deeply")
    if not isinstance(data, dict):
        return BadLine(line_no, f"expected a JSON object, got {type(data).__name__}")
    record: Any
    try:
        # Avro's JSON encoding (unions tagged with their branch), as the spool writes it.
        record = untag(data)
    except (KeyError, TypeError, ValueError, AttributeError, RecursionError):  # not tagged
        record = data
    if not isinstance(record, dict):
        return BadLine(line_no, "not an Avro record")
    try:
        codec.encode(record, schema)  # the schema check: types, missing fields
    except RecursionError:
        return BadLine(line_no, "not an event: nested too deeply")
    except Exception as exc:  # fastavro raises several types for a bad record
        return BadLine(line_no, f"does not match the schema: {exc}")
    return record


def keep_only(path: Path, spans: Iterable[tuple[int, int]], read_up_to: int) -> int:
    """Replace ``path`` with only the byte ranges ``spans`` of its first ``read_up_to`` bytes
    (the lines a replay could not send), followed by whatever was appended after those bytes
    meanwhile; return how many ranges were kept.

    Atomic (a new file renamed over the old one) and under the spool's lock, so an append waits
    and then writes to the new file; on an error the file is left as it was.
    """
    kept = 0
    with open(path, "rb") as old:
        fcntl.flock(old.fileno(), fcntl.LOCK_EX)
        if not _is_at(old, path):
            raise OSError(f"{path} was replaced while it was being replayed")
        mode = os.fstat(old.fileno()).st_mode & 0o7777
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as new:
                for start, end in spans:
                    old.seek(start)
                    chunk = old.read(end - start)
                    new.write(chunk if chunk.endswith(b"\n") else chunk + b"\n")
                    kept += 1
                old.seek(read_up_to)
                while chunk := old.read(1 << 20):  # appended since the replay read the file
                    new.write(chunk)
                new.flush()
                os.fchmod(new.fileno(), mode)
                os.fsync(new.fileno())
            os.replace(tmp_name, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp_name)
            raise
        _fsync_dir(path.parent)
    return kept


def locked_size(path: Path) -> int:
    """The size of ``path`` while no append is under way: every line in it is whole."""
    with open(path, "rb") as file:
        fcntl.flock(file.fileno(), fcntl.LOCK_SH)
        return os.fstat(file.fileno()).st_size


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
