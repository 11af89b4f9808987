"""The local spool: events that could not reach Kafka, kept as JSON Lines in Avro's JSON encoding.

Fsync policy: every ``append`` writes its records, flushes and ``fsync``s before it returns, so a
record the producer has handed to the spool survives a crash of the process or of the machine.
The producer appends in batches (one per pump cycle or failed delivery batch), which keeps the
number of fsyncs small.
"""

import json
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from emitter import codec
from emitter.avro_json import tagger, untagger


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
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a+b") as spool:
                # A crash mid-write leaves a torn last line: start on a line of our own.
                if spool.tell() > 0:
                    spool.seek(-1, os.SEEK_END)
                    if spool.read(1) != b"\n":
                        payload = "\n" + payload
                spool.write(payload.encode("utf-8"))
                spool.flush()
                os.fsync(spool.fileno())
        return len(batch)


@dataclass(frozen=True)
class BadLine:
    """A line of a JSON Lines file that is not a valid event."""

    line_no: int
    reason: str


def read_lines(
    path: Path,
    schema: Any = codec.EVENT_SCHEMA,  # noqa: ANN401
) -> Iterator[tuple[int, dict[str, Any] | BadLine]]:
    """Yield (line number, record or BadLine) for every non-blank line of ``path``, from 1.

    A line may hold a record in Avro's JSON encoding (unions tagged, as the spool writes) or as a
    plain JSON object with untagged union values; either way it must match the schema.
    """
    untag = untagger(schema)
    with open(path, encoding="utf-8") as lines:
        for line_no, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            yield line_no, _parse(line, line_no, schema, untag)


def _parse(
    line: str,
    line_no: int,
    schema: Any,  # noqa: ANN401
    untag: Callable[[Any], Any],
) -> dict[str, Any] | BadLine:
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        return BadLine(line_no, f"not JSON: {exc.msg} at column {exc.colno}")
    if not isinstance(data, dict):
        return BadLine(line_no, f"expected a JSON object, got {type(data).__name__}")
    record: Any
    try:
        # Avro's JSON encoding (unions tagged with their branch), as the spool writes it.
        record = untag(data)
    except (KeyError, TypeError, ValueError, AttributeError):  # not the tagged form
        record = data
    if not isinstance(record, dict):
        return BadLine(line_no, "not an Avro record")
    try:
        codec.encode(record, schema)  # the schema check: types, missing fields
    except Exception as exc:  # fastavro raises several types for a bad record
        return BadLine(line_no, f"does not match the schema: {exc}")
    return record
