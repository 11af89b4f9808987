"""The MongoDB documents: the contract between the Flink job, which writes them, and the
dashboard, which reads them. One place for each collection's fields (name, the Flink SQL type the
job's sink writes, unit, meaning) and its indexes.

Derived from it: the job's sink tables and the column list of each INSERT
(``flink_jobs/sql``), the field tables of ``docs/documents.md`` (``python -m
joulestream.schemas.documents docs/documents.md``), the indexes that ``make up``, the test
fixtures and the Kubernetes init script create, and the dashboard's projections
(``dash_app/data.py``). A field is added here, in its collection's order (the order of the
stored documents' fields), and then in the job's statement that computes it.
"""

import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pymongo.database import Database

ASCENDING = 1
DESCENDING = -1
"""Index directions, as MongoDB (and pymongo's constants) spell them."""


@dataclass(frozen=True)
class Field:
    """One field of a collection's documents."""

    name: str
    sql_type: str
    """The Flink SQL type the job's sink writes (``TIMESTAMP_LTZ(3)`` is stored as a date)."""
    unit: str
    """``J``, ``g CO2e``, ``W`` …; empty for a text, a count or a flag."""
    meaning: str
    """One line; says when the value is null."""
    by_sink: bool = False
    """Written by the job's MongoDB sink itself (a refused document's dead letter), not by a
    statement: in no sink table."""


@dataclass(frozen=True)
class Index:
    """One index and the query it serves."""

    keys: tuple[tuple[str, int], ...]
    serves: str


@dataclass(frozen=True)
class Collection:
    """One collection: its fields in the order of the stored documents, ``_id`` first."""

    name: str
    fields: tuple[Field, ...]
    indexes: tuple[Index, ...]
    written_once: bool = False
    """Inserted once per ``_id`` (else replaced by a document with a larger ``version``)."""

    @property
    def names(self) -> tuple[str, ...]:
        """The fields a statement writes (not those of the sink), in order."""
        return tuple(f.name for f in self.fields if not f.by_sink)

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"{self.name} documents have no field {name!r}")


ENERGY_PARTS = ("cpu", "gpu", "ram")
ENERGY = (*(f"{p}_energy_j" for p in ENERGY_PARTS), "energy_j")
"""Energy per component, and of all (their sum)."""
CO2E = tuple(e.replace("energy_j", "co2e_g") for e in ENERGY)
"""CO2e of each of ``ENERGY``, in its order."""


def _energy(what: str) -> tuple[Field, ...]:
    return (
        *(
            Field(
                f"{p}_energy_j", "DOUBLE", "J", f"{p.upper()} energy {what} (0 when not measured)"
            )
            for p in ENERGY_PARTS
        ),
        Field("energy_j", "DOUBLE", "J", f"energy of all components {what}"),
    )


def _co2e(what: str) -> tuple[Field, ...]:
    return (
        *(
            Field(f"{p}_co2e_g", "DOUBLE", "g CO2e", f"emissions of the {p.upper()} energy {what}")
            for p in ENERGY_PARTS
        ),
        Field("co2e_g", "DOUBLE", "g CO2e", f"emissions of all components {what}"),
    )


PRICING = (
    Field("pue", "DOUBLE", "", "the PUE applied"),
    Field(
        "intensity_g_per_kwh",
        "DOUBLE",
        "g CO2e/kWh",
        "the carbon intensity applied to the energy not priced by its intervals",
    ),
    Field(
        "intensity_source",
        "STRING",
        "",
        "`run_started event`, or the table's source and year, e.g. `Ember 2023`, "
        "`Google Cloud 2023`, `Ember (SE) 2023` for a cloud region priced with its country",
    ),
    Field(
        "intensity_fallback",
        "BOOLEAN",
        "",
        "true when the region is not in the table and the world average was used",
    ),
    Field(
        "interval_priced_energy_j",
        "DOUBLE",
        "J",
        "the part of `energy_j` priced by its measurements' own intensity (0 when none did)",
    ),
    Field(
        "grid_priced_energy_j",
        "DOUBLE",
        "J",
        "the part of `energy_j` priced by the hourly grid series of its region (topic "
        "`grid.intensity`), at the period of each window's start (0 when none did)",
    ),
)
"""How a document's energy was priced (``docs/documents.md``, "Pricing")."""

_METHODS = (
    Field("cpu_methods", "ARRAY<STRING>", "", "the CPU measurement methods seen, sorted"),
    Field("ram_methods", "ARRAY<STRING>", "", "the RAM measurement methods seen, sorted"),
    Field(
        "gpu_methods",
        "ARRAY<STRING>",
        "",
        "the first GPU's measurement methods seen, sorted (a run's GPUs are measured alike)",
    ),
)

RUNS = Collection(
    "runs",
    (
        Field("_id", "STRING", "", "the run id"),
        Field("run_id", "STRING", "", "the run id"),
        Field("user_id", "STRING", "", "as in the run's event that arrived last"),
        Field("project", "STRING", "", "as in the run's event that arrived last"),
        Field("model", "STRING", "", "as in the run's event that arrived last"),
        Field("region", "STRING", "", "as in the run's event that arrived last"),
        Field("dataset", "STRING", "", "from `run_started` (null until it arrives, or unsaid)"),
        Field("framework", "STRING", "", "from `run_started` (null until it arrives, or unsaid)"),
        Field(
            "status",
            "STRING",
            "",
            "`running`, then the status of `run_finished` (`completed`, `failed`, `cancelled`); "
            "`lost` while an unfinished run is silent",
        ),
        Field("events", "BIGINT", "", "measurement events counted"),
        Field("last_seq", "BIGINT", "", "highest per-run sequence number seen (any event type)"),
        Field("started_at", "TIMESTAMP_LTZ(3)", "UTC", "start of the earliest interval"),
        Field("last_event_at", "TIMESTAMP_LTZ(3)", "UTC", "end of the latest interval"),
        Field("finished_at", "TIMESTAMP_LTZ(3)", "UTC", "event time of `run_finished`, else null"),
        Field(
            "watermark_at",
            "TIMESTAMP_LTZ(3)",
            "UTC",
            "the run's own watermark: its highest event time less the bound",
        ),
        Field("samples", "BIGINT", "", "training samples processed (0 when never reported)"),
        Field("tokens", "BIGINT", "", "tokens processed (0 when never reported)"),
        Field(
            "power_w",
            "DOUBLE",
            "W",
            "mean power over the interval of the measurement with the highest `seq` "
            "(null before the first)",
        ),
        Field("epoch", "BIGINT", "", "the highest epoch reported, else null"),
        Field("step", "BIGINT", "", "the highest optimizer step reported, else null"),
        Field("loss", "DOUBLE", "", "of the measurement with the highest `seq` that reported one"),
        Field(
            "accuracy", "DOUBLE", "", "of the measurement with the highest `seq` that reported one"
        ),
        *_energy("so far"),
        *PRICING,
        Field(
            "grid_sources",
            "ARRAY<STRING>",
            "",
            "the sources of the grid periods that have priced some of its energy, sorted "
            "(empty when none did; a source replaced by a revision stays listed)",
        ),
        *_co2e("so far"),
        Field("energy_j_per_sample", "DOUBLE", "J", "per training sample (null without samples)"),
        Field(
            "co2e_g_per_sample", "DOUBLE", "g CO2e", "per training sample (null without samples)"
        ),
        Field("energy_j_per_token", "DOUBLE", "J", "per token (null without tokens)"),
        Field("co2e_g_per_token", "DOUBLE", "g CO2e", "per token (null without tokens)"),
        *_METHODS,
        Field(
            "version",
            "BIGINT",
            "",
            "distinct events of the run counted so far, plus one each time it was found silent "
            "and each time a new grid figure priced it again",
        ),
        Field(
            "planned_steps",
            "BIGINT",
            "",
            "the steps the run will take in all, from its `run_started` (contract version 3); "
            "null when it did not say",
        ),
        Field(
            "planned_epochs",
            "BIGINT",
            "",
            "the epochs the run will take in all, from its `run_started`; null when it did not say",
        ),
        Field(
            "gpus",
            "ARRAY<ROW<gpu_index BIGINT, energy_j DOUBLE, mean_utilisation DOUBLE>>",
            "J; fraction",
            "per GPU by `gpu_index`: its energy (late events included) and its utilisation "
            "averaged over time (null when never reported); empty without per-GPU figures",
        ),
    ),
    (
        Index((("last_event_at", DESCENDING),), "the runs list"),
        Index((("status", ASCENDING), ("last_event_at", DESCENDING)), "running runs"),
        Index((("energy_j", DESCENDING),), "the top runs"),
    ),
)

WINDOWS = Collection(
    "windows",
    (
        Field("_id", "STRING", "", "`<run_id>/<window_start as YYYY-MM-DDTHH:MM:SSZ>`"),
        Field("run_id", "STRING", "", "the run"),
        # Without zone: the same columns go to the windows topic as JSON (ISO-8601, UTC).
        Field("window_start", "TIMESTAMP(3)", "UTC", "start of the window (included)"),
        Field("window_end", "TIMESTAMP(3)", "UTC", "end of the window (excluded)"),
        Field("events", "BIGINT", "", "measurement events in the window"),
        Field("epoch", "BIGINT", "", "the highest epoch reported in the window, else null"),
        Field("samples", "BIGINT", "", "processed in the window (0 when never reported)"),
        Field("tokens", "BIGINT", "", "processed in the window (0 when never reported)"),
        Field(
            "loss", "DOUBLE", "", "of the window's measurement with the highest `seq` reporting one"
        ),
        Field(
            "accuracy",
            "DOUBLE",
            "",
            "of the window's measurement with the highest `seq` reporting one",
        ),
        *_energy("in the window"),
        *PRICING,
        Field(
            "grid_intensity_g_per_kwh",
            "DOUBLE",
            "g CO2e/kWh",
            "the grid period that priced `grid_priced_energy_j` (the one containing "
            "`window_start`), null when none did",
        ),
        Field("grid_source", "STRING", "", "that period's source, null when none priced it"),
        *_co2e("in the window"),
        Field(
            "version",
            "BIGINT",
            "",
            "its `events`, plus 1 once the run's `run_started` has priced the window, plus 1 "
            "each time a new grid figure priced it again",
        ),
    ),
    (Index((("run_id", ASCENDING), ("window_start", ASCENDING)), "one run's series"),),
)

EPOCHS = Collection(
    "epochs",
    (
        Field("_id", "STRING", "", "`<run_id>/<epoch>`"),
        Field("run_id", "STRING", "", "the run"),
        Field("epoch", "BIGINT", "", "the epoch, from 0"),
        Field("events", "BIGINT", "", "measurement events"),
        Field("started_at", "TIMESTAMP_LTZ(3)", "UTC", "start of its earliest interval"),
        Field("ended_at", "TIMESTAMP_LTZ(3)", "UTC", "end of its latest interval"),
        *_energy("in the epoch"),
        Field("samples", "BIGINT", "", "processed in the epoch (0 when never reported)"),
        Field("tokens", "BIGINT", "", "processed in the epoch (0 when never reported)"),
        Field("loss", "DOUBLE", "", "of the measurement with the highest `seq` that reported one"),
        Field(
            "accuracy", "DOUBLE", "", "of the measurement with the highest `seq` that reported one"
        ),
        *PRICING,
        *_co2e("in the epoch"),
        Field(
            "version",
            "BIGINT",
            "",
            "`events`, plus 1 once the run's `run_started` has priced it (an epoch stored before "
            "that arrived is written again, priced)",
        ),
    ),
    (Index((("run_id", ASCENDING), ("epoch", ASCENDING)), "one run's epochs"),),
)

ROLLUPS = Collection(
    "rollups",
    (
        Field(
            "_id",
            "STRING",
            "",
            "`<user_id>/<model>/<region>/<period_start as YYYY-MM-DDTHH:MM:SSZ>`",
        ),
        Field("user_id", "STRING", "", "the group's user"),
        Field("model", "STRING", "", "the group's model"),
        Field("region", "STRING", "", "the group's region"),
        Field("period_start", "TIMESTAMP_LTZ(3)", "UTC", "start of the period (included)"),
        Field("period_end", "TIMESTAMP_LTZ(3)", "UTC", "end of the period (excluded)"),
        Field("runs", "BIGINT", "", "runs with measurements in the period"),
        Field("events", "BIGINT", "", "measurement events"),
        *_energy("in the period"),
        Field(
            "grid_priced_energy_j",
            "DOUBLE",
            "J",
            "the part of `energy_j` priced by the grid series of its region",
        ),
        Field(
            "interval_priced_energy_j",
            "DOUBLE",
            "J",
            "the part of `energy_j` priced by its measurements' own intensity",
        ),
        Field(
            "co2e_g",
            "DOUBLE",
            "g CO2e",
            "emissions: each run's share priced like the run, rounded down to 2^-20 g",
        ),
        Field(
            "grid_co2e_g",
            "DOUBLE",
            "g CO2e",
            "the part of `co2e_g` priced by the grid series (each run's share rounded down to "
            "2^-20 g)",
        ),
        Field(
            "interval_co2e_g",
            "DOUBLE",
            "g CO2e",
            "the part of `co2e_g` priced by the measurements' own intensity (each run's share "
            "rounded down to 2^-20 g); the rest was priced by `run_started` or the table",
        ),
        Field(
            "version",
            "BIGINT",
            "",
            "`events` plus the number of its runs whose `run_started` has arrived, plus 1 each "
            "time a new grid figure priced one of its windows or late events again",
        ),
    ),
    (
        Index((("period_start", ASCENDING),), "the fleet's periods"),
        *(
            Index(((key, ASCENDING), ("period_start", ASCENDING)), f"one {group}'s periods")
            for key, group in (("user_id", "user"), ("model", "model"), ("region", "region"))
        ),
    ),
)

LATE_EVENTS = Collection(
    "late_events",
    (
        Field("_id", "STRING", "", "the event id"),
        Field("event_id", "STRING", "", "the event id"),
        Field("run_id", "STRING", "", "the run"),
        Field("seq", "BIGINT", "", "its sequence number in the run"),
        Field("event_at", "TIMESTAMP_LTZ(3)", "UTC", "its event time"),
        Field("watermark_at", "TIMESTAMP_LTZ(3)", "UTC", "its run's watermark when it arrived"),
        Field(
            "reason",
            "STRING",
            "",
            "`behind its run's watermark` or `after its run_finished`",
        ),
        *_energy("of the event (counted in `runs` and `rollups`)"),
    ),
    (Index((("run_id", ASCENDING), ("event_at", ASCENDING)), "one run's late events"),),
    written_once=True,
)

DEAD_LETTERS = Collection(
    "dead_letters",
    (
        Field(
            "_id",
            "STRING",
            "",
            "`<topic>/<partition>/<offset>`; `sink/<collection>/<document _id>` for a document "
            "the MongoDB server refused",
        ),
        Field("reason", "STRING", "", "why, in words, with the offending value"),
        Field("kafka_partition", "INT", "", "the record's partition"),
        Field("kafka_offset", "BIGINT", "", "the record's offset"),
        Field("raw_bytes", "BYTES", "", "the record's bytes when they could not be decoded"),
        Field("event_id", "STRING", "", "as decoded, when it could be (cut to 256 characters)"),
        Field("run_id", "STRING", "", "as decoded, when it could be (cut to 256 characters)"),
        Field("event_type", "STRING", "", "as decoded, when it could be (cut to 256 characters)"),
        Field("received_at", "TIMESTAMP_LTZ(3)", "UTC", "when the job read it (processing time)"),
        Field("collection", "STRING", "", "a refused document's collection", by_sink=True),
        Field("document_id", "STRING", "", "a refused document's `_id`", by_sink=True),
    ),
    (Index((("received_at", DESCENDING),), "the newest dead letters"),),
    written_once=True,
)

GRID_INTENSITY = Collection(
    "grid_intensity",
    (
        Field(
            "_id",
            "STRING",
            "",
            "`<zone>/<kind>/<period_start as YYYY-MM-DDTHH:MM:SSZ>`",
        ),
        Field("zone", "STRING", "", "as the table and the runs' `region` spell it"),
        Field("kind", "STRING", "", "`average` (the mix) or `marginal`"),
        Field("period_start", "TIMESTAMP_LTZ(3)", "UTC", "start of the period (included)"),
        Field("period_end", "TIMESTAMP_LTZ(3)", "UTC", "end of the period (excluded)"),
        Field(
            "intensity_g_per_kwh",
            "DOUBLE",
            "g CO2e/kWh",
            "the figure of the latest publication read for the period",
        ),
        Field("source", "STRING", "", "who published it, e.g. `Electricity Maps (lifecycle)`"),
        Field("published_at", "TIMESTAMP_LTZ(3)", "UTC", "when the source published it"),
        Field(
            "estimated",
            "BOOLEAN",
            "",
            "a forecast or estimate (true), from measured generation (false), null when unsaid",
        ),
        Field(
            "version",
            "BIGINT",
            "",
            "`published_at` in epoch ms: a later publication replaces an earlier one, never "
            "the other way round",
        ),
    ),
    (
        Index(
            (("zone", ASCENDING), ("kind", ASCENDING), ("period_start", ASCENDING)),
            "one zone's periods in a time range",
        ),
    ),
)

COLLECTIONS = {
    c.name: c for c in (RUNS, WINDOWS, EPOCHS, ROLLUPS, LATE_EVENTS, DEAD_LETTERS, GRID_INTENSITY)
}

INDEXES: dict[str, list[list[tuple[str, int]]]] = {
    c.name: [list(index.keys) for index in c.indexes] for c in COLLECTIONS.values()
}
"""Each collection's index keys, as ``create_index`` takes them."""


def ensure_indexes(db: "Database[dict[str, Any]]") -> None:
    """Create every index the dashboard relies on (creating an existing one is a no-op). The
    job's MongoDB sink creates none, so ``make up`` and the test fixtures call this."""
    for collection, keys in INDEXES.items():
        for key in keys:
            db[collection].create_index(key)


def projection(collection: Collection, names: Iterable[str]) -> dict[str, int]:
    """A find projection of ``names`` without ``_id``; a name the documents do not have is an
    error here rather than a field that silently never comes back."""
    return {"_id": 0, **{collection.field(name).name: 1 for name in names}}


def unknown_fields(collection: Collection, document: Mapping[str, Any]) -> list[str]:
    """The keys of ``document`` that are no field of ``collection`` (for fixtures and seeds)."""
    known = {f.name for f in collection.fields}
    return sorted(k for k in document if k not in known)


# --- docs/documents.md -------------------------------------------------------------------------

_BEGIN = "<!-- generated from joulestream.schemas.documents: {name} -->"
_END = "<!-- end of generated {name} -->"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def markdown(collection: Collection) -> str:
    """The collection's field table and index list, as ``docs/documents.md`` shows them."""
    lines = ["| field | type | unit | meaning |", "|---|---|---|---|"]
    for f in collection.fields:
        lines.append(f"| `{f.name}` | {_cell(f.sql_type)} | {_cell(f.unit)} | {_cell(f.meaning)} |")

    def key(keys: tuple[tuple[str, int], ...]) -> str:
        parts = [f"`{name}`" + (" descending" if d == DESCENDING else "") for name, d in keys]
        return parts[0] if len(parts) == 1 else "(" + ", ".join(parts) + ")"

    label = "Index" if len(collection.indexes) == 1 else "Indexes"
    described = "; ".join(f"{key(i.keys)} ({i.serves})" for i in collection.indexes)
    return "\n".join([*lines, "", f"{label}: {described}."])


def render(text: str) -> str:
    """``text`` (``docs/documents.md``) with each collection's generated section rewritten from
    this module; every collection must have its section."""
    for name, collection in COLLECTIONS.items():
        begin, end = _BEGIN.format(name=name), _END.format(name=name)
        pattern = re.compile(re.escape(begin) + r"\n.*?" + re.escape(end), re.S)
        if not pattern.search(text):
            raise ValueError(f"no generated section for {name!r}: {begin} … {end}")
        section = f"{begin}\n{markdown(collection)}\n{end}"
        text = pattern.sub(section.replace("\\", "\\\\"), text)
    return text


def main(argv: list[str] | None = None) -> int:
    """``python -m joulestream.schemas.documents FILE [--check]``: rewrite the generated
    sections of FILE, or with ``--check`` exit 1 when they differ from this module."""
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0].startswith("-"):
        print("usage: python -m joulestream.schemas.documents FILE [--check]", file=sys.stderr)
        return 2
    path = Path(args[0])
    current = path.read_text(encoding="utf-8")
    wanted = render(current)
    if "--check" in args[1:]:
        if wanted != current:
            print(
                f"{path} differs from joulestream.schemas.documents: regenerate it", file=sys.stderr
            )
            return 1
        return 0
    path.write_text(wanted, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
