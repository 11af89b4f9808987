"""The pipeline's outputs computed in plain Python from the events, to check the job against.

Written from the document shapes in ``docs/documents.md``, not from the job's SQL. Energies of
simulated events are multiples of 2**-10 J, so their sums are exact in any order and the
comparisons below use ``==``. CO2e is ``energy_j * pue * intensity / 3_600_000`` in that order.
Prices come from ``tests/reference_pricing.py``, which reads the intensity table itself and keeps
its own precedence rules: the job's pricing code is never used to compute what it must produce.

Grid series (``GridSeries``): the energy of a measurement without its own intensity, of a run
without a ``run_started`` intensity, is priced by its region's period that contains the start of
the window its ``ts_ms`` falls in, as the series stands once every record has arrived (the job
prices documents again when a record arrives late). Versions count re-pricings, which depend on
the order records arrive in, so a test with grid records compares versions apart.
"""

import math
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from joulestream.events import Event, Measurement, RunFinished, RunStarted
from tests.reference_pricing import J_PER_KWH, GridFigure, GridSeries, ReferencePricing

CO2E_QUANTUM = 2.0**-20
COMPONENTS = ("cpu_energy_j", "gpu_energy_j", "ram_energy_j", "energy_j")


def utc(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def iso(ms: int) -> str:
    return utc(ms).strftime("%Y-%m-%dT%H:%M:%SZ")


def unique(events: Iterable[Event]) -> list[Event]:
    """Each event id of a run once, first arrival kept."""
    seen: dict[tuple[str, str], Event] = {}
    for e in events:
        seen.setdefault((e.run_id, e.event_id), e)
    return list(seen.values())


def energies(e: Measurement) -> dict[str, float]:
    return {
        "cpu_energy_j": e.cpu_energy_j or 0.0,
        "gpu_energy_j": e.gpu_energy_j or 0.0,
        "ram_energy_j": e.ram_energy_j or 0.0,
        "energy_j": (e.cpu_energy_j or 0.0) + (e.gpu_energy_j or 0.0) + (e.ram_energy_j or 0.0),
    }


def _add(into: dict[str, Any], e: Measurement) -> None:
    for name, joules in energies(e).items():
        into[name] += joules


def _add_priced(into: dict[str, Any], e: Measurement, grid: GridFigure | None = None) -> None:
    """Energies, and for an interval with its own intensity, its energy apart with its
    product with that intensity (``_own``, which ``Reference.co2e`` prices and removes); else,
    where a grid period prices it, the same apart in ``_grid``."""
    _add(into, e)
    if e.interval_intensity_g_per_kwh is None:
        if grid is not None:
            parts = into.setdefault("_grid", {name: [0.0, 0.0] for name in COMPONENTS})
            for name, joules in energies(e).items():
                parts[name][0] += joules
                parts[name][1] += joules * grid.intensity_g_per_kwh
            into["grid_priced_energy_j"] += energies(e)["energy_j"]
            into.setdefault("_grid_sources", set()).add(grid.source)
        return
    own = into.setdefault("_own", {name: [0.0, 0.0] for name in COMPONENTS})
    for name, joules in energies(e).items():
        own[name][0] += joules
        own[name][1] += joules * e.interval_intensity_g_per_kwh
    into["interval_priced_energy_j"] += energies(e)["energy_j"]


Latest = dict[tuple[str, str], tuple[int, float]]


def _progress(into: dict[str, Any], e: Measurement, latest: Latest, *, step: bool = False) -> None:
    """Highest epoch (and step); loss and accuracy of the highest ``seq`` that reported one
    (the larger value on a tie). ``latest`` remembers, per document, which seq that was."""
    names = ("epoch", "step") if step else ("epoch",)
    for name in names:
        value = getattr(e, name)
        if value is not None:
            into[name] = value if into[name] is None else max(into[name], value)
    for name in ("loss", "accuracy"):
        value = getattr(e, name)
        key = (into["_id"], name)
        if value is not None and (key not in latest or (e.seq, value) > latest[key]):
            latest[key] = (e.seq, value)
            into[name] = value


class Reference:
    """Expected documents for a set of events (duplicates allowed: they are dropped), given in
    the order they reached Kafka (what matters is each run's order: a run's events share a
    partition). ``delay_ms`` is the job's bound on a run's out-of-orderness."""

    def __init__(
        self,
        events: Iterable[Event],
        pricing: ReferencePricing,
        delay_ms: int = 5_000,
        *,
        grid: GridSeries | None = None,
        window_ms: int = 60_000,
    ) -> None:
        self.events = unique(events)
        self.delay_ms = delay_ms
        self.grid = grid or GridSeries()
        self.window_ms = window_ms
        self.pricing = pricing
        self.started = {e.run_id: e for e in self.events if isinstance(e, RunStarted)}

    def price(self, run_id: str, region: str) -> dict[str, Any]:
        started = self.started.get(run_id)
        if started is None:
            return self.pricing.price(region, None, None)
        return self.pricing.price(region, started.intensity_g_per_kwh, started.pue)

    def grid_figure(self, run_id: str, region: str, ts_ms: int) -> GridFigure | None:
        """The grid period that prices a measurement at ``ts_ms`` of the run, if any: none for
        a run with its own intensity."""
        started = self.started.get(run_id)
        if started is not None and started.intensity_g_per_kwh is not None:
            return None
        return self.grid.at(region, ts_ms - ts_ms % self.window_ms)

    def _grid_of(self, e: Measurement) -> GridFigure | None:
        return self.grid_figure(e.run_id, e.region, e.ts_ms)

    @staticmethod
    def part_co2e(doc: dict[str, Any]) -> tuple[float, float]:
        """CO2e of the energy priced by grid periods and by intervals' own intensity (before
        ``co2e`` removes what it needs)."""
        grid = doc.get("_grid", {}).get("energy_j", (0.0, 0.0))[1]
        own = doc.get("_own", {}).get("energy_j", (0.0, 0.0))[1]
        return (grid * doc["pue"] * 1.0 / J_PER_KWH, own * doc["pue"] * 1.0 / J_PER_KWH)

    @staticmethod
    def co2e(doc: dict[str, Any]) -> dict[str, float]:
        """Per component: the energy of intervals with their own intensity priced with it, the
        energy a grid period priced with that period's, the rest with the document's; PUE
        applies to all (docs/documents.md, "Pricing")."""
        own = doc.pop("_own", {})
        grid = doc.pop("_grid", {})
        co2e = {}
        for name in COMPONENTS:
            own_j, own_j_g_per_kwh = own.get(name, (0.0, 0.0))
            grid_j, grid_j_g_per_kwh = grid.get(name, (0.0, 0.0))
            rest_j = doc[name] - own_j - grid_j
            co2e[name.replace("energy_j", "co2e_g")] = (
                rest_j * doc["pue"] * doc["intensity_g_per_kwh"] / J_PER_KWH
                + (own_j_g_per_kwh + grid_j_g_per_kwh) * doc["pue"] * 1.0 / J_PER_KWH
            )
        return co2e

    def measurements(self) -> list[Measurement]:
        return [e for e in self.events if isinstance(e, Measurement)]

    def late(self) -> dict[str, tuple[str, int]]:
        """The late measurements, by event id, with why and their run's watermark (ms) when
        they arrived. Each run keeps its own time: its watermark is the highest ``ts_ms`` it
        has sent so far, this event included, less ``delay_ms``; a measurement at or behind it,
        or one that arrives after its run's ``run_finished``, is late. (A copy of an event
        changes no maximum, so the first arrivals alone give the same answer.)"""
        progress: dict[str, int] = {}
        finished: set[str] = set()
        late: dict[str, tuple[str, int]] = {}
        for e in self.events:
            progress[e.run_id] = max(progress.get(e.run_id, e.ts_ms), e.ts_ms)
            watermark_ms = progress[e.run_id] - self.delay_ms
            if isinstance(e, Measurement):
                if e.run_id in finished:
                    late[e.event_id] = ("after its run_finished", watermark_ms)
                elif e.ts_ms <= watermark_ms:
                    late[e.event_id] = ("behind its run's watermark", watermark_ms)
            if isinstance(e, RunFinished):
                finished.add(e.run_id)
        return late

    def runs(self) -> dict[str, dict[str, Any]]:
        runs: dict[str, dict[str, Any]] = {}
        latest: Latest = {}
        for e in self.events:
            run = runs.setdefault(e.run_id, {
                "_id": e.run_id, "run_id": e.run_id, "user_id": e.user_id,
                "project": e.project, "model": e.model, "region": e.region,
                "dataset": None, "framework": None, "epoch": None, "step": None, "power_w": None,
                "loss": None, "accuracy": None, "status": "running", "events": 0,
                "last_seq": -1, "started_at": None,
                "last_event_at": None, "finished_at": None, "samples": 0, "tokens": 0,
                **dict.fromkeys(COMPONENTS, 0.0), "interval_priced_energy_j": 0.0,
                "grid_priced_energy_j": 0.0, "version": 0,
                "cpu_methods": set(), "ram_methods": set(), "gpu_methods": set(),
                "planned_steps": None, "planned_epochs": None, "gpus": {},
            })  # fmt: skip
            run["version"] += 1  # every distinct event of the run
            run["last_seq"] = max(run["last_seq"], e.seq)
            # The run's own watermark: its highest event time less the bound.
            watermark = utc(e.ts_ms - self.delay_ms)
            run["watermark_at"] = max(run.get("watermark_at") or watermark, watermark)
            if isinstance(e, RunStarted):
                run["dataset"] = e.dataset if e.dataset is not None else run["dataset"]
                run["framework"] = e.framework if e.framework is not None else run["framework"]
                for plan in ("planned_steps", "planned_epochs"):
                    value = getattr(e, plan)
                    run[plan] = value if value is not None else run[plan]
            if isinstance(e, RunFinished):
                run["status"] = e.status
                run["finished_at"] = utc(e.ts_ms)
            if not isinstance(e, Measurement):
                continue
            run["events"] += 1
            for name, method in (("cpu", e.cpu_method), ("ram", e.ram_method),
                                 ("gpu", e.gpus[0].method if e.gpus else None)):  # fmt: skip
                if method is not None:
                    run[f"{name}_methods"].add(method)
            run["samples"] += e.samples or 0
            run["tokens"] += e.tokens or 0
            # Per GPU, added in the order the job adds them (the run's order in Kafka), so that
            # the sums agree to the bit: energy, utilisation x ms, ms with a utilisation.
            interval_ms = e.ts_ms - e.interval_start_ms
            for gpu in e.gpus:
                totals = run["gpus"].setdefault(gpu.index, [0.0, 0.0, 0])
                totals[0] += gpu.energy_j
                if gpu.utilisation is not None and interval_ms > 0:
                    totals[1] += gpu.utilisation * interval_ms
                    totals[2] += interval_ms
            _progress(run, e, latest, step=True)
            if e.ts_ms > e.interval_start_ms:  # the latest measurement's mean power
                power_w = energies(e)["energy_j"] * 1000.0 / (e.ts_ms - e.interval_start_ms)
                key = (run["_id"], "power_w")
                if key not in latest or (e.seq, power_w) > latest[key]:
                    latest[key] = (e.seq, power_w)
                    run["power_w"] = power_w
            start, end = utc(e.interval_start_ms), utc(e.ts_ms)
            run["started_at"] = min(run["started_at"] or start, start)
            run["last_event_at"] = max(run["last_event_at"] or end, end)
            _add_priced(run, e, self._grid_of(e))
        for run in runs.values():
            run["grid_sources"] = sorted(run.pop("_grid_sources", set()))
            run["gpus"] = [
                {"gpu_index": index, "energy_j": energy_j,
                 "mean_utilisation": weighted / ms if ms else None}
                for index, (energy_j, weighted, ms) in sorted(run["gpus"].items())
            ]  # fmt: skip
            for name in ("cpu_methods", "ram_methods", "gpu_methods"):
                # The job keeps the first and last by name (every method, up to two).
                run[name] = sorted({min(run[name]), max(run[name])}) if run[name] else []
            run.update(self.price(run["run_id"], run["region"]))
            run.update(self.co2e(run))
            for n, per in (("samples", "sample"), ("tokens", "token")):
                for v in ("energy_j", "co2e_g"):
                    run[f"{v}_per_{per}"] = run[v] / run[n] if run[n] > 0 else None
        return runs

    def windows(
        self, window_ms: int, late_ids: set[str], *, parts: bool = False
    ) -> dict[str, dict[str, Any]]:
        """The windows; with ``parts``, each also with ``_parts``: its ``part_co2e``."""
        windows: dict[str, dict[str, Any]] = {}
        latest: Latest = {}
        for e in self.measurements():
            if e.event_id in late_ids:
                continue
            start_ms = e.ts_ms - e.ts_ms % window_ms
            key = f"{e.run_id}/{iso(start_ms)}"
            w = windows.setdefault(key, {
                "_id": key, "run_id": e.run_id, "window_start": utc(start_ms),
                "window_end": utc(start_ms + window_ms), "events": 0, "epoch": None,
                "samples": 0, "tokens": 0, "loss": None, "accuracy": None,
                **dict.fromkeys(COMPONENTS, 0.0), **self.price(e.run_id, e.region),
                "interval_priced_energy_j": 0.0, "grid_priced_energy_j": 0.0,
                "version": 1 if e.run_id in self.started else 0,
            })  # fmt: skip
            if "grid_source" not in w:
                figure = self.grid_figure(e.run_id, e.region, start_ms)
                w["grid_intensity_g_per_kwh"] = figure and figure.intensity_g_per_kwh
                w["grid_source"] = figure and figure.source
            w["events"] += 1
            w["version"] += 1  # every event, and once more when the run's run_started prices it
            w["samples"] += e.samples or 0
            w["tokens"] += e.tokens or 0
            _progress(w, e, latest)
            _add_priced(w, e, self._grid_of(e))
        for w in windows.values():
            w.pop("_grid_sources", None)
            if parts:
                w["_parts"] = self.part_co2e(w)
            w.update(self.co2e(w))
        return windows

    def rollups(
        self, period_ms: int, window_ms: int, late_ids: set[str]
    ) -> dict[str, dict[str, Any]]:
        """Closed windows and late events, each priced and its CO2e rounded down to a multiple
        of 2**-20 g, added up per user, model, region and period."""
        parts: list[tuple[Measurement, int, dict[str, Any]]] = []
        of_run = {m.run_id: m for m in reversed(self.measurements())}  # who, model, region
        for w in self.windows(window_ms, late_ids, parts=True).values():
            start_ms = int(w["window_start"].timestamp() * 1000)
            parts.append((of_run[w["run_id"]], start_ms - start_ms % period_ms, w))
        for e in self.measurements():
            if e.event_id in late_ids:
                late = {
                    "events": 1,
                    **dict.fromkeys(COMPONENTS, 0.0),
                    **self.price(e.run_id, e.region),
                    "interval_priced_energy_j": 0.0,
                    "grid_priced_energy_j": 0.0,
                }
                _add_priced(late, e, self._grid_of(e))
                late["_parts"] = self.part_co2e(late)
                late.update(self.co2e(late))
                parts.append((e, e.ts_ms - e.ts_ms % period_ms, late))
        rollups: dict[str, dict[str, Any]] = {}
        runs: dict[str, set[str]] = {}
        for e, start_ms, part in parts:
            key = f"{e.user_id}/{e.model}/{e.region}/{iso(start_ms)}"
            r = rollups.setdefault(key, {
                "_id": key, "user_id": e.user_id, "model": e.model, "region": e.region,
                "period_start": utc(start_ms), "period_end": utc(start_ms + period_ms),
                "runs": 0, "events": 0, **dict.fromkeys(COMPONENTS, 0.0),
                "grid_priced_energy_j": 0.0, "interval_priced_energy_j": 0.0, "co2e_g": 0.0,
                "grid_co2e_g": 0.0, "interval_co2e_g": 0.0, "version": 0,
            })  # fmt: skip
            runs.setdefault(key, set()).add(e.run_id)
            r["runs"] = len(runs[key])
            r["events"] += part["events"]
            for name in COMPONENTS:
                r[name] += part[name]
            r["grid_priced_energy_j"] += part["grid_priced_energy_j"]
            r["interval_priced_energy_j"] += part["interval_priced_energy_j"]
            r["co2e_g"] += math.floor(part["co2e_g"] / CO2E_QUANTUM) * CO2E_QUANTUM
            grid_g, interval_g = part["_parts"]
            r["grid_co2e_g"] += math.floor(grid_g / CO2E_QUANTUM) * CO2E_QUANTUM
            r["interval_co2e_g"] += math.floor(interval_g / CO2E_QUANTUM) * CO2E_QUANTUM
            # Grows with every event and when a run's run_started prices its share.
            r["version"] += part["events"] + (1 if e.run_id in self.started else 0)
        return rollups

    def epochs(self) -> dict[str, dict[str, Any]]:
        """Every measurement that reports an epoch, late or not, in that epoch, priced like its
        run."""
        epochs: dict[str, dict[str, Any]] = {}
        latest: Latest = {}
        for e in self.measurements():
            if e.epoch is None:
                continue
            key = f"{e.run_id}/{e.epoch}"
            doc = epochs.setdefault(key, {
                "_id": key, "run_id": e.run_id, "epoch": e.epoch, "events": 0,
                "started_at": utc(e.interval_start_ms), "ended_at": utc(e.ts_ms),
                **dict.fromkeys(COMPONENTS, 0.0), "samples": 0, "tokens": 0,
                "loss": None, "accuracy": None, **self.price(e.run_id, e.region),
                # An epoch is not priced by grid periods (its run and windows are).
                "interval_priced_energy_j": 0.0, "grid_priced_energy_j": 0.0,
                "version": 1 if e.run_id in self.started else 0,
            })  # fmt: skip
            doc["events"] += 1
            doc["version"] += 1  # every event, and once more when the run's run_started prices it
            doc["started_at"] = min(doc["started_at"], utc(e.interval_start_ms))
            doc["ended_at"] = max(doc["ended_at"], utc(e.ts_ms))
            doc["samples"] += e.samples or 0
            doc["tokens"] += e.tokens or 0
            _progress(doc, e, latest)
            _add_priced(doc, e)
        for doc in epochs.values():
            doc.update(self.co2e(doc))
        return epochs

    def late_events(self) -> dict[str, dict[str, Any]]:
        """The late documents, with their run's watermark when they arrived and the reason."""
        late = self.late()
        return {
            e.event_id: {
                "_id": e.event_id,
                "event_id": e.event_id,
                "run_id": e.run_id,
                "seq": e.seq,
                "event_at": utc(e.ts_ms),
                "watermark_at": utc(late[e.event_id][1]),
                "reason": late[e.event_id][0],
                **energies(e),
            }
            for e in self.measurements()
            if e.event_id in late
        }
