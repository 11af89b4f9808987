"""The pipeline's Flink SQL, in pipeline order: ``sources`` (the Kafka table, the checked
events, the flat columns the run accounting reads), ``views`` (what the run accounting
registers, priced) and ``outputs`` (per sink, the expression of each field of its collection;
``sinks`` makes the sink table and the INSERT from that). ``text`` quotes.

All per-record work runs in the JVM; no Python code runs per record. The MongoDB documents these
statements write are declared in ``schemas/documents.py`` (``docs/documents.md``).

Data flow: ``events`` (Kafka) → ``checked_events`` (valid, or a dead letter with its reason) →
``flat_events`` (what any output reads, as flat columns) → the run accounting of the job's jar
(``RunAccounting``, keyed once by run: de-duplication, the run's own event time, totals,
windows, epochs, late events, silences) → the views it registers, priced here and stored;
``rollups`` add up the windows and the late events per user, model, region and period.
"""

from joulestream.flink_jobs.sql.outputs import every_output
from joulestream.flink_jobs.sql.sinks import Output
from joulestream.flink_jobs.sql.sources import (
    EVENT_COLUMNS,
    FLAT_EVENTS,
    GRID_PERIODS,
    SOURCE,
    checked_view,
    events_view,
    grid_checked_view,
    grid_periods_view,
    grid_source_ddl,
    invalid_grid_view,
    source_ddl,
)
from joulestream.flink_jobs.sql.views import priced_late_view, windows_view
from joulestream.flink_jobs.sql_text import literal, with_options

__all__ = [
    "EVENT_COLUMNS",
    "FLAT_EVENTS",
    "GRID_PERIODS",
    "SOURCE",
    "Output",
    "checked_view",
    "events_view",
    "every_output",
    "grid_checked_view",
    "grid_periods_view",
    "grid_source_ddl",
    "invalid_grid_view",
    "literal",
    "priced_late_view",
    "source_ddl",
    "windows_view",
    "with_options",
]
