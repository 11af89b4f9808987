"""The MongoDB documents' contract (schemas/documents.py) and what is derived from it."""

import dataclasses
import time
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

import pytest

from bench import dash_seed
from joulestream import simulate
from joulestream.events import Measurement
from joulestream.schemas import documents, pricing
from joulestream.schemas.documents import COLLECTIONS
from stack.settings import REPO_ROOT
from tests.integration import dashboard_fleet
from tests.reference import Reference
from tests.reference_pricing import ReferencePricing, read_table

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_docs_documents_md_is_generated_from_the_contract():
    """docs/documents.md's field tables and index lists are those the contract generates:
    after a change to schemas/documents.py, `make docs` rewrites them."""
    text = (REPO_ROOT / "docs/documents.md").read_text(encoding="utf-8")
    assert documents.render(text) == text


def test_the_generator_refuses_a_file_without_a_section(tmp_path):
    path = tmp_path / "documents.md"
    path.write_text("# MongoDB documents\n")
    with pytest.raises(ValueError, match="no generated section for 'runs'"):
        documents.main([str(path)])


def test_check_mode_reports_a_stale_file(tmp_path):
    """`--check` exits 1 on a file whose generated sections differ, 0 once it is rewritten."""
    stale = (REPO_ROOT / "docs/documents.md").read_text().replace("| `power_w` |", "| `power` |")
    path = tmp_path / "documents.md"
    path.write_text(stale)
    assert documents.main([str(path), "--check"]) == 1
    assert documents.main([str(path)]) == 0
    assert documents.main([str(path), "--check"]) == 0


def test_every_collection_has_an_id_first_and_no_field_twice():
    for collection in COLLECTIONS.values():
        names = [f.name for f in collection.fields]
        assert (names[0], len(names)) == ("_id", len(set(names))), collection.name


def test_every_index_is_on_fields_of_its_collection():
    for collection in COLLECTIONS.values():
        for index in collection.indexes:
            for name, direction in index.keys:
                assert collection.field(name).name == name
                assert direction in (documents.ASCENDING, documents.DESCENDING)


def test_indexes_are_the_dashboards():
    """The index keys as create_index takes them, one list per collection."""
    assert documents.INDEXES == {
        "runs": [
            [("last_event_at", -1)],
            [("status", 1), ("last_event_at", -1)],
            [("energy_j", -1)],
        ],
        "windows": [[("run_id", 1), ("window_start", 1)]],
        "epochs": [[("run_id", 1), ("epoch", 1)]],
        "rollups": [
            [("period_start", 1)],
            [("user_id", 1), ("period_start", 1)],
            [("model", 1), ("period_start", 1)],
            [("region", 1), ("period_start", 1)],
        ],
        "late_events": [[("run_id", 1), ("event_at", 1)]],
        "dead_letters": [[("received_at", -1)]],
        "grid_intensity": [[("zone", 1), ("kind", 1), ("period_start", 1)]],
    }


def test_a_projection_of_an_unknown_field_is_refused():
    assert documents.projection(documents.RUNS, ["energy_j"]) == {"_id": 0, "energy_j": 1}
    with pytest.raises(KeyError, match="runs documents have no field 'energy_kwh'"):
        documents.projection(documents.RUNS, ["energy_kwh"])


def test_fields_written_by_the_sink_are_in_no_statement():
    """A refused document's dead letter has where it was to go; no statement writes those."""
    assert [f.name for f in documents.DEAD_LETTERS.fields if f.by_sink] == [
        "collection", "document_id",
    ]  # fmt: skip
    assert "collection" not in documents.DEAD_LETTERS.names


def test_co2e_has_one_order_of_operations():
    assert pricing.co2e_g(3_600_000.0, 1.5, 100.0) == 150.0
    assert pricing.co2e_g(0.1, 1.1, 0.7) == 0.1 * 1.1 * 0.7 / 3_600_000.0


class _Recorder:
    """A database that keeps what is inserted, by collection."""

    def __init__(self) -> None:
        self.written: dict[str, list[dict[str, Any]]] = defaultdict(list)

    def __getattr__(self, name: str) -> "_Collection":
        return _Collection(self.written[name])


class _Collection:
    def __init__(self, into: list[dict[str, Any]]) -> None:
        self.into = into

    def insert_one(self, doc: dict[str, Any]) -> None:
        self.into.append(doc)

    def insert_many(self, docs: list[dict[str, Any]], ordered: bool = True) -> None:
        self.into.extend(docs)


def _unknown(written: dict[str, list[dict[str, Any]]]) -> dict[str, list[str]]:
    return {
        name: sorted({k for doc in docs for k in documents.unknown_fields(COLLECTIONS[name], doc)})
        for name, docs in written.items()
    }


def test_the_dashboard_test_fleets_spell_only_fields_of_the_contract():
    """tests/integration/dashboard_fleet.py writes documents in the contract's shapes."""
    db = _Recorder()
    dashboard_fleet.seed(db, NOW)  # type: ignore[arg-type]
    dashboard_fleet.seed_hostile(db, NOW)  # type: ignore[arg-type]
    assert _unknown(db.written) == {name: [] for name in db.written}
    assert set(db.written) == set(COLLECTIONS)


def test_the_benchmark_seed_writes_whole_documents_of_the_contract():
    """bench/dash_seed.py writes every field of runs, windows, epochs and rollups, and nothing
    the contract does not have."""
    db = _Recorder()
    dash_seed.seed(db, 3, 20, NOW)  # type: ignore[arg-type]
    assert _unknown(db.written) == {name: [] for name in db.written}
    for name in ("runs", "windows", "epochs", "rollups"):
        missing = set(COLLECTIONS[name].names) - set(db.written[name][0])
        assert (name, sorted(missing)) == (name, [])


def test_the_reference_computes_whole_documents_of_the_contract():
    """tests/reference.py, which the pipeline's tests compare the stored documents with,
    computes exactly the contract's fields of every collection the job derives from events."""
    start_ms = (time.time_ns() // 1_000_000 // 3_600_000 - 1) * 3_600_000
    fleet = list(simulate.fleet(runs=2, duration_s=90, start_ms=start_ms, seed=3))
    first = next(e for e in fleet if isinstance(e, Measurement))
    # The first measurement again under a new id, after every other: late for its run.
    late = dataclasses.replace(first, seq=9999)
    expected = Reference([*fleet, late], ReferencePricing(read_table(), {}))
    late_ids = set(expected.late())
    computed = {
        "runs": expected.runs(),
        "windows": expected.windows(60_000, late_ids),
        "epochs": expected.epochs(),
        "rollups": expected.rollups(3_600_000, 60_000, late_ids),
        "late_events": expected.late_events(),
    }
    fields = {
        name: sorted({k for doc in docs.values() for k in doc}) for name, docs in computed.items()
    }
    assert fields == {name: sorted(COLLECTIONS[name].names) for name in computed}
