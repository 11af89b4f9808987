"""The job prices measurements with the ``grid.intensity`` series of their region, and prices
documents again when a figure arrives late or is revised (issue 16, part 3)."""

import dataclasses
import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import fastavro
from confluent_kafka import Producer

from joulestream import schemas, simulate
from joulestream.events import Measurement, RunStarted
from joulestream.producer import producer_config
from tests.integration.conftest import Pipeline
from tests.integration.helpers import (
    HOUR_MS,
    PRICING,
    T0_MS,
    WINDOW_MS,
    documents,
    send,
    wait_until,
)
from tests.reference import Reference
from tests.reference_pricing import GridSeries

GRID_SCHEMA = fastavro.parse_schema(schemas.load(schemas.GRID_INTENSITY))
SOURCE = "Electricity Maps (lifecycle)"


def _period(
    start_ms: int, intensity: float, published_at_ms: int, kind: str = "average"
) -> dict[str, Any]:
    return {
        "schema_version": 1, "zone": "FR", "start_ms": start_ms,
        "end_ms": start_ms + WINDOW_MS, "intensity_g_per_kwh": intensity, "kind": kind,
        "source": SOURCE, "published_at_ms": published_at_ms, "estimated": None,
    }  # fmt: skip


def _send_grid(pipeline: Pipeline, records: list[dict[str, Any]]) -> None:
    """Written with fastavro, not the emitter's checked events: one record breaks the bounds."""
    producer = Producer(producer_config(pipeline.settings.bootstrap_servers))
    for record in records:
        out = io.BytesIO()
        fastavro.schemaless_writer(out, GRID_SCHEMA, record)
        producer.produce(pipeline.job_env["JOULESTREAM_GRID_TOPIC"], out.getvalue(), key="FR")
    assert producer.flush(30) == 0


def _at(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def _stored(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The grid_intensity documents ``records`` should leave: per zone, kind and period start,
    the latest publication."""
    out: dict[str, dict[str, Any]] = {}
    for r in records:
        key = f"{r['zone']}/{r['kind']}/{_at(r['start_ms']):%Y-%m-%dT%H:%M:%SZ}"
        if key in out and out[key]["version"] >= r["published_at_ms"]:
            continue
        out[key] = {
            "_id": key, "zone": r["zone"], "kind": r["kind"], "period_start": _at(r["start_ms"]),
            "period_end": _at(r["end_ms"]), "intensity_g_per_kwh": r["intensity_g_per_kwh"],
            "source": r["source"], "published_at": _at(r["published_at_ms"]),
            "estimated": r["estimated"], "version": r["published_at_ms"],
        }  # fmt: skip
    return out


def _differences(
    actual: dict[str, dict[str, Any]], expected: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    """Per document, the fields other than ``version`` that differ (versions count the
    re-pricings, which depend on when the grid records reach the job)."""
    out: dict[str, Any] = {
        key: {
            f: (actual[key].get(f), doc.get(f))
            for f in doc.keys() | actual[key].keys()
            if f != "version" and actual[key].get(f) != doc.get(f)
        }
        for key, doc in expected.items()
        if key in actual
    }
    out = {k: v for k, v in out.items() if v}
    missing = expected.keys() - actual.keys()
    extra = actual.keys() - expected.keys()
    if missing or extra:
        out["(missing, extra)"] = (sorted(missing), sorted(extra))
    return out


def _expected(reference: Reference, late_ids: set[str]) -> dict[str, dict[str, dict[str, Any]]]:
    return {
        "runs": reference.runs(),
        "windows": reference.windows(WINDOW_MS, late_ids),
        "rollups": reference.rollups(HOUR_MS, WINDOW_MS, late_ids),
    }


def _all_differences(
    pipeline: Pipeline, final: dict[str, dict[str, dict[str, Any]]]
) -> dict[str, Any]:
    return {
        name: d
        for name, docs in final.items()
        if (d := _differences(documents(pipeline, name), docs))
    }


def test_a_time_varying_series_prices_and_a_late_figure_prices_again(
    pipeline: Pipeline, tmp_path: Path
):
    """Four runs: two in FR, which has a series of one-minute periods (a time-varying one; the
    run's third minute has none at first); one in FR with its own ``run_started`` intensity;
    one in DE, which has no series. One FR run reports its own intensity for every third
    interval, and sends a late measurement. A marginal figure and one outside the bounds are
    sent too. Runs, windows and rollups equal the independent reference to the joule and to the
    gram. Then the third minute's figure arrives and the first minute's is revised: the
    documents they price are written again, with higher versions, and equal the reference with
    the new series; windows + late events still add up to the runs. Every valid grid record,
    of either kind, is stored in ``grid_intensity``, exactly; a revision replaces the period's
    document and a record published earlier, read after it, does not."""
    fleet = list(simulate.fleet(runs=4, duration_s=150, start_ms=T0_MS, seed=23))
    series_run, own_interval, own_run, no_series = sorted({e.run_id for e in fleet})
    region = {series_run: "FR", own_interval: "FR", own_run: "FR", no_series: "DE"}
    # Whole g/kWh and multiples of 1/8: products with the simulated energies (multiples of
    # 2**-10 J) add up exactly in any order.
    intensities = (212.5, None, None)
    fleet = [
        dataclasses.replace(
            e,
            region=region[e.run_id],
            **(
                {"interval_intensity_g_per_kwh": intensities[e.seq % 3]}
                if isinstance(e, Measurement) and e.run_id == own_interval
                else {"intensity_g_per_kwh": 300.0}
                if isinstance(e, RunStarted) and e.run_id == own_run
                else {}
            ),
        )
        for e in fleet
    ]  # fmt: skip
    first = [
        _period(T0_MS, 200.0, T0_MS),
        _period(T0_MS + WINDOW_MS, 350.0, T0_MS),
        _period(T0_MS + WINDOW_MS, 999.0, T0_MS, kind="marginal"),
        _period(T0_MS + 2 * WINDOW_MS, 2500.0, T0_MS),
    ]
    _send_grid(pipeline, first)
    send(pipeline, fleet, tmp_path)
    last = [e for e in fleet if isinstance(e, Measurement) and e.run_id == series_run][-1]
    late = dataclasses.replace(
        last, seq=10_000, interval_start_ms=T0_MS + 10_000, ts_ms=T0_MS + 20_000
    )
    send(pipeline, [late], tmp_path)
    valid = first[:3]  # the last one is a dead letter
    reference = Reference([*fleet, late], PRICING, grid=GridSeries.of(valid), window_ms=WINDOW_MS)
    late_ids = set(reference.late())
    assert late_ids == {late.event_id}
    final = _expected(reference, late_ids)
    wait_until(
        "every document priced with the first series",
        lambda: not _all_differences(pipeline, final),
        seen=lambda: _all_differences(pipeline, final),
    )
    runs = final["runs"]
    assert runs[series_run]["grid_sources"] == [SOURCE]
    assert 0 < runs[series_run]["grid_priced_energy_j"] < runs[series_run]["energy_j"]
    assert runs[own_interval]["interval_priced_energy_j"] > 0
    assert runs[own_interval]["grid_priced_energy_j"] > 0
    assert runs[own_run]["grid_priced_energy_j"] == 0.0
    assert runs[no_series]["grid_priced_energy_j"] == 0.0
    wait_until(
        "the bad grid record in dead_letters",
        lambda: pipeline.db.dead_letters.count_documents({}) == 1,
    )
    (dead,) = pipeline.db.dead_letters.find()
    assert "intensity_g_per_kwh = 2500" in dead["reason"]
    assert dead["_id"].startswith(pipeline.job_env["JOULESTREAM_GRID_TOPIC"] + "/")
    # Every valid record is stored, either kind; the bad one is not.
    wait_until(
        "the valid grid records in grid_intensity",
        lambda: documents(pipeline, "grid_intensity") == _stored(valid),
        seen=lambda: documents(pipeline, "grid_intensity"),
    )

    before = {name: {k: d["version"] for k, d in documents(pipeline, name).items()}
              for name in ("runs", "windows", "rollups")}  # fmt: skip
    revised = [
        _period(T0_MS, 150.0, T0_MS + HOUR_MS),
        _period(T0_MS + 2 * WINDOW_MS, 125.0, T0_MS + HOUR_MS),
        # Read after the revision, published before it: replaces nothing, prices nothing.
        _period(T0_MS, 175.0, T0_MS + 1),
        # Then a marginal figure (it prices nothing): once it is stored, so was the stale one.
        _period(T0_MS + 5 * WINDOW_MS, 50.0, T0_MS + HOUR_MS, kind="marginal"),
    ]
    _send_grid(pipeline, revised)
    reference = Reference(
        [*fleet, late], PRICING, grid=GridSeries.of(valid + revised), window_ms=WINDOW_MS
    )
    final = _expected(reference, late_ids)
    wait_until(
        "every document priced again with the revised series",
        lambda: not _all_differences(pipeline, final),
        seen=lambda: _all_differences(pipeline, final),
    )
    after = {name: {k: d["version"] for k, d in documents(pipeline, name).items()}
             for name in ("runs", "windows", "rollups")}  # fmt: skip
    moved = {name: {k for k in after[name] if after[name][k] > before[name][k]}
             for name in after}  # fmt: skip
    assert moved["runs"] == {series_run, own_interval}
    fr_windows = {
        k for k, w in final["windows"].items()
        if w["run_id"] in (series_run, own_interval)
        and w["window_start"].timestamp() * 1000 in (T0_MS, T0_MS + 2 * WINDOW_MS)
    }  # fmt: skip
    assert moved["windows"] == fr_windows
    assert all(after[n][k] >= before[n][k] for n in after for k in after[n])
    # Windows + late events = runs, for energy and CO2e.
    late_part = reference.late_events()[late.event_id]
    for run_id, run in final["runs"].items():
        in_windows = [w for w in final["windows"].values() if w["run_id"] == run_id]
        late_j = late_part["energy_j"] if run_id == series_run else 0.0
        assert sum(w["energy_j"] for w in in_windows) + late_j == run["energy_j"]
    assert pipeline.db.dead_letters.count_documents({}) == 1
    stored = _stored(valid + revised)
    assert stored[f"FR/average/{_at(T0_MS):%Y-%m-%dT%H:%M:%SZ}"]["intensity_g_per_kwh"] == 150.0
    wait_until(
        "the latest publication of each period in grid_intensity",
        lambda: documents(pipeline, "grid_intensity") == stored,
        seen=lambda: documents(pipeline, "grid_intensity"),
    )
