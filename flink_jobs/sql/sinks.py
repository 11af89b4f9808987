"""The sinks: the ``Output`` that turns one declaration into a sink table and its INSERT, and
the options of the MongoDB and Kafka sinks.

An ``Output`` names its sink, the collection of ``schemas/documents.py`` whose fields are the
sink's columns (names, types and order), and, for every such field, the SQL expression that
computes it. ``ddl()`` and ``insert()`` are generated from that one declaration, and the INSERT
names its columns: a field added to the contract and not to the statement (or the other way
round) is an error when the job is built, never a column shifted by one.
"""

from collections.abc import Mapping
from dataclasses import dataclass

from joulestream.flink_jobs.settings import JobSettings
from joulestream.flink_jobs.sql.sources import kafka_security
from joulestream.flink_jobs.sql_text import identifier, identifiers, with_options
from joulestream.schemas.documents import Collection

RUNS_SINK = "runs_sink"
WINDOWS_SINK = "windows_sink"
WINDOWS_TOPIC_SINK = "windows_topic_sink"
ROLLUPS_SINK = "rollups_sink"
EPOCHS_SINK = "epochs_sink"
LATE_SINK = "late_events_sink"
DEAD_LETTERS_SINK = "dead_letters_sink"
GRID_INTENSITY_SINK = "grid_intensity_sink"
SLOW_FLUSH = ("windows", "rollups")
REPLACE_IF_NEWER = "replace-if-newer"
INSERT_ONCE = "insert-once"


@dataclass(frozen=True)
class Output:
    """One sink and the statement that fills it."""

    table: str
    collection: Collection
    """Whose fields are the sink's columns, in order."""
    options: Mapping[str, str]
    """The sink's ``WITH`` options."""
    columns: Mapping[str, str]
    """Each column's SQL expression over ``source`` (its name where they are the same)."""
    source: str
    """``FROM …``, with what follows it (``GROUP BY …``)."""
    hints: str = ""
    """Query hints of the SELECT (``/*+ STATE_TTL(…) */``)."""

    def __post_init__(self) -> None:
        wanted, given = self.collection.names, tuple(self.columns)
        if wanted != given:
            missing = [c for c in wanted if c not in given]
            extra = [c for c in given if c not in wanted]
            raise ValueError(
                f"{self.table} must compute the fields of {self.collection.name} in the "
                f"contract's order (schemas/documents.py); missing {missing}, not in the "
                f"contract {extra}, given {list(given)}"
            )

    def ddl(self) -> str:
        fields = [f for f in self.collection.fields if not f.by_sink]
        columns = ",\n".join(f"  {identifier(f.name)} {f.sql_type}" for f in fields)
        return f"""CREATE TABLE {self.table} (
{columns},
  PRIMARY KEY (_id) NOT ENFORCED
) WITH (
{with_options(self.options)}
)"""

    def insert(self) -> str:
        select = ",\n".join(
            f"  {expression} AS {identifier(name)}" for name, expression in self.columns.items()
        )
        hints = f" {self.hints}" if self.hints else ""
        return f"""INSERT INTO {self.table} ({identifiers(self.columns)})
SELECT{hints}
{select}
{self.source}"""


def mongo_options(settings: JobSettings, collection: Collection) -> dict[str, str]:
    """The guarded MongoDB sink (``flink_jobs/java``): a document is replaced only by one with
    a larger ``version``, or, for final results, written once; a replay after a restore cannot
    bring an older value back. Credentials travel apart from the URI; Flink hides the value
    of ``password`` wherever it prints options."""
    options = {
        "connector": "joulestream-mongodb",
        "uri": settings.mongodb_uri,
        "database": settings.mongodb_database,
        "collection": collection.name,
        "write-mode": INSERT_ONCE if collection.written_once else REPLACE_IF_NEWER,
        # Windows and rollups change with every mini-batch while they fill; writing them every
        # 5 s instead of every second took a quarter of the job's time back on the local
        # store (docs/benchmarks.md). Runs stay at 1 s: "power now" and totals are live.
        "sink.buffer-flush.interval": "5s" if collection.name in SLOW_FLUSH else "1s",
        "sink.buffer-flush.max-rows": "1000",
    }
    if settings.mongodb_username:
        options |= {"username": settings.mongodb_username, "password": settings.mongodb_password}
    return options


def windows_topic_options(settings: JobSettings) -> dict[str, str]:
    """The closed windows, also to a Kafka topic through Flink's two-phase-commit Kafka sink:
    a consumer reading with ``isolation.level=read_committed`` sees each checkpoint's windows
    once, after the checkpoint completes. Key: the window's ``_id``; value: JSON, the fields of
    the ``windows`` document (dates as ISO-8601 strings)."""
    options = {
        "connector": "upsert-kafka",
        "topic": settings.windows_topic,
        "properties.bootstrap.servers": settings.kafka_bootstrap_servers,
        "key.format": "raw",
        "value.format": "json",
        "value.fields-include": "ALL",
        "value.json.timestamp-format.standard": "ISO-8601",
        "sink.delivery-guarantee": "exactly-once",
        # Unique per job and stable across its restarts: a restored job aborts the
        # transactions its previous attempt left open.
        "sink.transactional-id-prefix": f"{settings.job_name}-windows",
        # Above a checkpoint interval plus a restart, below the broker's maximum (1 h).
        "properties.transaction.timeout.ms": "900000",
        **kafka_security(settings),
    }
    return options
